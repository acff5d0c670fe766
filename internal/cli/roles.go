package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
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
	Filter []string // every word must match the alias, account or role name
	Output string   // table (default), json or text
}

// NewCmdRoles builds `rolehop roles`; runF, when not nil, runs instead of
// the command.
func NewCmdRoles(f *Factory, runF func(*RolesOptions) error) *cobra.Command {
	opts := &RolesOptions{F: f}
	cmd := &cobra.Command{
		Use:   "roles [FILTER...]",
		Short: "List the AWS account/role pairs an IdP login grants, with account aliases",
		Long: "roles signs in to the SAML IdP (as login does, with the same settings and flags)\n" +
			"and prints the roles the assertion grants: account, alias (from accounts.yaml),\n" +
			"role name and role ARN, sorted by account or by role (--sort). FILTER words keep\n" +
			"the roles whose alias, account or name contains every word (case-insensitive).\n" +
			"--output json prints an array of objects, --output text tab-separated lines.",
		Example: "  rolehop roles prod admin\n  rolehop roles --output json | jq -r '.[].role_arn'",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger, opts.Filter = f.Logger(), args
			if runF != nil {
				return runF(opts)
			}
			return runRoles(cmd.Context(), opts)
		},
	}
	addIdPFlags(cmd, &opts.idpOptions)
	cmd.Flags().StringVarP(&opts.Output, "output", "o", "table", "output format: table, json or text")
	return cmd
}

// roleRow is one role as roles prints it.
type roleRow struct {
	Account      string `json:"account"`
	Alias        string `json:"alias,omitempty"`
	Role         string `json:"role"`
	RoleARN      string `json:"role_arn"`
	PrincipalARN string `json:"principal_arn"`
}

func runRoles(ctx context.Context, opts *RolesOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch opts.Output {
	case "", "table", "json", "text":
	default:
		return usageError(fmt.Errorf("--output %q: want table, json or text", opts.Output))
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
	words := strings.Fields(strings.ToLower(strings.Join(opts.Filter, " ")))
	var rows []roleRow
	seen := map[string]bool{}
	for _, r := range roles {
		if seen[r.RoleARN] {
			continue
		}
		seen[r.RoleARN] = true
		row := roleRow{Account: r.AccountID(), Alias: aliases[r.AccountID()], Role: r.Name(), RoleARN: r.RoleARN, PrincipalARN: r.PrincipalARN}
		hay := strings.ToLower(row.Alias + " " + row.Account + " " + row.Role)
		if !slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(hay, w) }) {
			rows = append(rows, row)
		}
	}
	if len(rows) == 0 && len(words) > 0 {
		return &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("no granted role matches %q; %d roles are granted: run rolehop roles without a filter to see them", strings.Join(opts.Filter, " "), len(seen))}
	}
	out := opts.F.IO.Out
	switch opts.Output {
	case "json":
		if rows == nil {
			rows = []roleRow{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "text":
		for _, r := range rows {
			if _, err := fmt.Fprintf(out, "%s\t%s\t%s\t%s\n", r.Account, r.Alias, r.Role, r.RoleARN); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ACCOUNT\tALIAS\tROLE\tROLE ARN")
	for _, r := range rows {
		alias := r.Alias
		if alias == "" {
			alias = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Account, alias, r.Role, r.RoleARN)
	}
	return tw.Flush()
}
