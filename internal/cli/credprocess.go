package cli

import (
	"context"
	"errors"
	"log/slog"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/processdoc"
)

// CredentialProcessOptions are the inputs of `rolehop credential-process`.
type CredentialProcessOptions struct {
	F      *Factory
	Logger *slog.Logger
	Delivery
}

// NewCmdCredentialProcess builds `rolehop credential-process`; runF, when not
// nil, runs instead of the command (tests check flag parsing with it).
func NewCmdCredentialProcess(f *Factory, runF func(*CredentialProcessOptions) error) *cobra.Command {
	opts := &CredentialProcessOptions{F: f}
	cmd := &cobra.Command{
		Use:   "credential-process --profile PROFILE",
		Short: "Print a profile's credentials for the AWS credential_process setting",
		Long: "credential-process prints the credentials of PROFILE as the Version 1 JSON the AWS\n" +
			"CLI and SDKs read from a credential_process. PROFILE is usually a rolehop source (a\n" +
			"profile of the AWS config file with rolehop_base and rolehop_role_arn):\n\n" +
			"  [profile prod]\n" +
			"  credential_process = rolehop-credential-process --profile prod\n" +
			"  rolehop_base = hopoff\n" +
			"  rolehop_role_arn = arn:aws:iam::222222222222:role/Admin\n\n" +
			"Any other profile the AWS SDK resolves works too. A source's credentials come\n" +
			"from rolehop's on-disk cache while they have more than 15 minutes left. Prompts\n" +
			"(MFA codes, a password) go to the terminal, never to stdout.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Logger = f.Logger()
			if runF != nil {
				return runF(opts)
			}
			return runCredentialProcess(cmd.Context(), opts)
		},
	}
	addDeliveryFlags(cmd, &opts.Delivery)
	return cmd
}

func runCredentialProcess(ctx context.Context, opts *CredentialProcessOptions) error {
	if opts.Profile == "" {
		return usageError(errors.New("--profile is required: name the profile, e.g. --profile prod"))
	}
	c, _, err := profileCredentials(ctx, opts.F, opts.Logger, opts.Delivery)
	if err != nil {
		return err
	}
	// Encode first: stdout gets the whole document or nothing.
	doc, err := processdoc.Encode(c.AccessKeyID, c.SecretAccessKey, c.SessionToken, c.CanExpire, c.Expires)
	if err != nil {
		return err
	}
	_, err = opts.F.IO.Out.Write(doc)
	return err
}
