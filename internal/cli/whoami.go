package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/source"
)

// WhoamiOptions are the inputs of `rolehop whoami`.
type WhoamiOptions struct {
	IO      *IOStreams
	Logger  *slog.Logger
	Profile string // --profile; empty means the SDK's default chain (AWS_PROFILE, default)
	// Source is the positional PROFILE: a rolehop source (or, when it has no
	// rolehop keys, a plain AWS profile).
	Source string
	Output string // "json" (default) or "text"
}

func newWhoamiCmd(g *globals) *cobra.Command {
	opts := &WhoamiOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "whoami [PROFILE]",
		Short: "Show the AWS identity of the credentials the SDK finds (sts get-caller-identity)",
		Long: "whoami calls STS GetCallerIdentity with the credentials the AWS SDK finds\n" +
			"(environment, AWS_PROFILE or --profile, config and credentials files) and prints\n" +
			"UserId, Account and Arn as `aws sts get-caller-identity` does. With PROFILE, a\n" +
			"rolehop source (rolehop_base, rolehop_role_arn), it uses that source's credentials.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(fmt.Errorf("whoami takes at most one PROFILE, got %d arguments", len(args)))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = g.logger()
			if len(args) == 1 {
				if opts.Profile != "" {
					return usageError(errors.New("give the profile either as PROFILE or with --profile, not both"))
				}
				opts.Source = args[0]
			}
			return runWhoami(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "AWS profile to use instead of AWS_PROFILE/default")
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
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := whoamiConfig(ctx, opts, log)
	if err != nil {
		return err
	}
	if cfg.Region == "" {
		// STS is global: like the AWS CLI, work without a region.
		cfg.Region = "us-east-1"
		log.Debug("no region configured; using us-east-1 for sts")
	}
	log.Debug("calling sts GetCallerIdentity", "profile", opts.Profile, "region", cfg.Region)
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("sts get-caller-identity: %w", err)
	}
	id := callerIdentity{UserId: aws.ToString(out.UserId), Account: aws.ToString(out.Account), Arn: aws.ToString(out.Arn)}
	if opts.Output == "text" {
		// The AWS CLI's text output: values in key order Account, Arn, UserId.
		_, err = fmt.Fprintf(opts.IO.Out, "%s\t%s\t%s\n", id.Account, id.Arn, id.UserId)
		return err
	}
	enc := json.NewEncoder(opts.IO.Out)
	enc.SetIndent("", "    ")
	enc.SetEscapeHTML(false)
	return enc.Encode(id)
}

// whoamiConfig loads the configuration whoami calls STS with: the rolehop
// source named by opts.Source (a plain AWS profile when it has no rolehop
// keys), else the SDK's chain with --profile.
func whoamiConfig(ctx context.Context, opts *WhoamiOptions, log *slog.Logger) (aws.Config, error) {
	profile := opts.Profile
	if opts.Source != "" {
		s, err := resolveSource(ctx, opts.IO, opts.Logger, opts.Source)
		switch {
		case err == nil:
			cfg, err := s.Config(ctx)
			if err != nil {
				return aws.Config{}, sourceError(err)
			}
			return cfg, nil
		case errors.Is(err, source.ErrNotSource), errors.Is(err, source.ErrNotFound):
			profile = opts.Source // a plain AWS profile (maybe in the credentials file)
		default:
			return aws.Config{}, err
		}
	}
	return sdkConfigForProfile(ctx, profile, log)
}
