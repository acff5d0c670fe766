package cli

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/settings"
)

// RolesOptions are the inputs of `rolehop roles`.
type RolesOptions struct {
	F      *Factory
	Logger *slog.Logger
	// NewSession builds the SAML session; nil means login.NewSAML.
	NewSession NewSessionFunc

	idpOptions
}

// NewCmdRoles builds `rolehop roles`; runF, when not nil, runs instead of
// the command.
func NewCmdRoles(f *Factory, runF func(*RolesOptions) error) *cobra.Command {
	opts := &RolesOptions{F: f}
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "List the AWS account/role pairs an IdP login grants, with account aliases",
		Long: "roles signs in to the SAML IdP (as login does, with the same settings and flags)\n" +
			"and prints a table of the roles the assertion grants: account, alias (from\n" +
			"accounts.yaml), role name and role ARN, sorted by account or by role (--sort).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Logger = f.Logger()
			if runF != nil {
				return runF(opts)
			}
			return runRoles(cmd.Context(), opts)
		},
	}
	addIdPFlags(cmd, &opts.idpOptions)
	return cmd
}

func runRoles(ctx context.Context, opts *RolesOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lp, err := resolveLogin(opts.F, &opts.idpOptions, nil)
	if err != nil {
		return err
	}
	aliases, err := settings.LoadAccounts(lp.AccountsFile)
	if err != nil {
		return settingsError(err)
	}
	s, p, err := openSession(ctx, opts.F, lp, &opts.idpOptions, log, opts.NewSession)
	if err != nil {
		return err
	}
	roles, err := grantedRoles(ctx, opts.F, s, p, lp.Sort)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(opts.F.IO.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tALIAS\tROLE\tROLE ARN")
	seen := map[string]bool{}
	for _, r := range roles {
		if seen[r.RoleARN] {
			continue
		}
		seen[r.RoleARN] = true
		alias := aliases[r.AccountID()]
		if alias == "" {
			alias = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.AccountID(), alias, r.Name(), r.RoleARN)
	}
	return tw.Flush()
}
