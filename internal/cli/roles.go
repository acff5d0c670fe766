package cli

import (
	"context"
	"fmt"
	"log/slog"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
)

// RolesOptions are the inputs of `rolehop roles`.
type RolesOptions struct {
	IO     *IOStreams
	Logger *slog.Logger
	// SettingsPath is the settings file; "" means settings.DefaultPath().
	SettingsPath string
	// Getenv reads the environment (ROLEHOP_*); nil means os.Getenv.
	Getenv func(string) string
	// NewSession builds the SAML session; nil means settings.NewSAMLProvider.
	NewSession func(ctx context.Context, lp settings.LoginProfile, p idp.Prompter, log *slog.Logger) (samlSession, error)

	idpOptions
}

func newRolesCmd(g *globals) *cobra.Command {
	opts := &RolesOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "roles",
		Short: "List the AWS account/role pairs an IdP login grants, with account aliases",
		Long: "roles signs in to the SAML IdP (as login does, with the same settings and flags)\n" +
			"and prints a table of the roles the assertion grants: account, alias (from\n" +
			"accounts.yaml), role name and role ARN, sorted by account or by role (--sort).",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Logger = g.logger()
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
	lp, err := resolveLogin(&opts.idpOptions, opts.SettingsPath, opts.Getenv)
	if err != nil {
		return err
	}
	aliases, err := settings.LoadAccounts(lp.AccountsFile)
	if err != nil {
		return usageError(err)
	}
	s, p, err := openSession(ctx, opts.IO, lp, &opts.idpOptions, log, opts.NewSession)
	if err != nil {
		return err
	}
	roles, err := s.Roles(ctx)
	if err != nil {
		return loginError(err, p)
	}
	if err := p.rememberPassword(); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "rolehop: %s\n", OneLine(err))
	}
	if len(roles) == 0 {
		return &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("the idp granted no aws roles to this user; ask its administrator for a role")}
	}
	sortRoles(roles, lp.Sort)
	tw := tabwriter.NewWriter(opts.IO.Out, 0, 4, 2, ' ', 0)
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
