package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/session"
)

// WhoamiOptions are the inputs of `rolehop whoami`.
type WhoamiOptions struct {
	F       *Factory
	Logger  *slog.Logger
	Profile string // PROFILE or --profile: any profile; "" = AWS_PROFILE, else the SDK's default chain
	Output  string // "json" (default) or "text"
}

// NewCmdWhoami builds `rolehop whoami`; runF, when not nil, runs instead of
// the command.
func NewCmdWhoami(f *Factory, runF func(*WhoamiOptions) error) *cobra.Command {
	opts := &WhoamiOptions{F: f}
	cmd := &cobra.Command{
		Use:   "whoami [PROFILE]",
		Short: "Show the AWS identity of a profile's credentials (sts get-caller-identity)",
		Long: "whoami calls STS GetCallerIdentity with the credentials of PROFILE (or --profile,\n" +
			"else AWS_PROFILE, else what the AWS SDK finds: environment, config and credentials\n" +
			"files) and prints UserId, Account and Arn as `aws sts get-caller-identity` does.\n" +
			"PROFILE is any profile: a rolehop source, one `rolehop login` wrote, or anything\n" +
			"the AWS SDK resolves.",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profileArg(cmd, args, opts.Profile)
			if err != nil {
				return err
			}
			opts.Profile, opts.Logger = p, f.Logger()
			if runF != nil {
				return runF(opts)
			}
			return runWhoami(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "the profile (instead of the positional PROFILE; default AWS_PROFILE)")
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "json", "output format: json or text")
	return cmd
}

// callerIdentity is GetCallerIdentity's result in the AWS CLI's key order.
type callerIdentity struct {
	UserId  string // the AWS CLI's key spelling
	Account string
	Arn     string
}

func runWhoami(ctx context.Context, opts *WhoamiOptions) error {
	if opts.Output != "json" && opts.Output != "text" {
		return usageError(fmt.Errorf("--output %q: want json or text", opts.Output))
	}
	p, err := openProfile(ctx, opts.F, opts.Logger, Delivery{Profile: opts.Profile})
	if err != nil {
		return err
	}
	cfg, err := p.Config(ctx)
	if err != nil {
		return profileError(err)
	}
	opts.Logger.Debug("calling sts GetCallerIdentity", "profile", p.Name, "region", cfg.Region)
	id, err := session.CallerIdentity(ctx, cfg)
	if err != nil {
		return err
	}
	out := callerIdentity{UserId: id.UserID, Account: id.Account, Arn: id.ARN}
	if opts.Output == "text" {
		// The AWS CLI's text output: values in key order Account, Arn, UserId.
		_, err = fmt.Fprintf(opts.F.IO.Out, "%s\t%s\t%s\n", out.Account, out.Arn, out.UserId)
		return err
	}
	enc := json.NewEncoder(opts.F.IO.Out)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
