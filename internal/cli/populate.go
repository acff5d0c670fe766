package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml"
)

// DefaultCredentialProcess is the program generated profiles run: the small
// credential_process program, installed beside rolehop.
const DefaultCredentialProcess = "rolehop-credential-process"

// PopulateOptions are the inputs of `rolehop populate`.
type PopulateOptions struct {
	F      *Factory
	Logger *slog.Logger
	// ConfigFile is the AWS config file written; "" means the SDK's
	// (AWS_CONFIG_FILE, ~/.aws/config).
	ConfigFile string
	// NewSession builds the SAML session; nil means login.NewSAML.
	NewSession NewSessionFunc

	idpOptions
	Filter            []string // every word must match the alias, account or role name
	ProfileTemplate   string
	Region            string
	CredentialProcess string // the program credential_process runs
	DryRun            bool
}

// NewCmdPopulate builds `rolehop populate`; runF, when not nil, runs instead
// of the command.
func NewCmdPopulate(f *Factory, runF func(*PopulateOptions) error) *cobra.Command {
	opts := &PopulateOptions{F: f}
	cmd := &cobra.Command{
		Use:   "populate --login NAME [FILTER...]",
		Short: "Write a credential_process profile for every role a login grants",
		Long: "populate signs in once (as roles does) and writes, for every role the assertion\n" +
			"grants (or the ones every FILTER word matches: alias, account or role name), a\n" +
			"profile of the AWS config file that gets its credentials through\n" +
			"credential_process from that login — no keys are stored, and one login serves\n" +
			"every profile. The profiles are named by --profile-template (default\n" +
			DefaultProfileTemplate + ") and live in a managed block of the file, between\n" +
			"'# >>> rolehop: login NAME >>>' and '# <<< rolehop: login NAME <<<': running\n" +
			"populate again updates the block (new roles added, revoked ones removed), never\n" +
			"duplicates it, and every other byte of the file is kept. A profile already\n" +
			"defined outside the block is left alone (and named on stderr).",
		Example: "  rolehop populate --login corp\n" +
			"  rolehop populate --login corp prod --profile-template '{{.Alias}}.{{.Role}}' --region eu-west-1\n" +
			"  aws s3 ls --profile payments-prod-Admin",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger, opts.Filter = f.Logger(), args
			if runF != nil {
				return runF(opts)
			}
			return runPopulate(cmd.Context(), opts)
		},
	}
	addIdPFlags(cmd, &opts.idpOptions)
	fl := cmd.Flags()
	fl.StringVar(&opts.ProfileTemplate, "profile-template", "", "profile name template (default "+DefaultProfileTemplate+"; fields .Alias .Account .Role .RoleARN .Login)")
	fl.StringVar(&opts.Region, "region", "", "region written to every generated profile (default: the login profile's)")
	fl.StringVar(&opts.CredentialProcess, "credential-process", DefaultCredentialProcess, "the program the profiles' credential_process runs")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "print the profiles that would be written, write nothing")
	return cmd
}

func runPopulate(ctx context.Context, opts *PopulateOptions) error {
	f := opts.F
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if strings.ContainsAny(opts.CredentialProcess, "\r\n") || strings.TrimSpace(opts.CredentialProcess) == "" {
		return usageError(errors.New("--credential-process must name a program on one line"))
	}
	lp, err := resolveLogin(f, &opts.idpOptions, func(ov *settings.Overrides) error {
		ov.ProfileTemplate, ov.Region = opts.ProfileTemplate, opts.Region
		return nil
	})
	if err != nil {
		return err
	}
	if lp.Name == "" {
		return usageError(fmt.Errorf("populate needs a named login profile: pass --login NAME (the generated profiles name it); write one into %s with rolehop init", lp.SettingsFile))
	}
	aliases, err := settings.LoadAccounts(lp.AccountsFile)
	if err != nil {
		return settingsError(err)
	}
	namer, err := newProfileNamer(lp.ProfileTemplate, aliases, lp.Name)
	if err != nil {
		return err
	}
	cfgPath, err := awsPath(opts.ConfigFile, awsfile.Config)
	if err != nil {
		return err
	}
	// A malformed file is refused before anyone logs in.
	if _, err := awsfile.Profiles(cfgPath, awsfile.Config); err != nil {
		return fileError(err)
	}
	s, p, err := openSession(ctx, f, lp, &opts.idpOptions, log, opts.NewSession)
	if err != nil {
		return err
	}
	roles, err := grantedRoles(ctx, f, s, p, lp.Sort)
	if err != nil {
		return err
	}
	roles = filterRoles(roles, aliases, opts.Filter)
	if len(roles) == 0 {
		return &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("no granted role matches %q: run rolehop roles --login %s to see them", strings.Join(opts.Filter, " "), lp.Name)}
	}
	targets, err := namer.targets(roles, "")
	if err != nil {
		return err
	}
	// A role granted through several saml-providers needs its principal.
	providers := map[string]int{}
	for _, r := range roles {
		providers[r.RoleARN]++
	}
	blocks := make([]awsfile.BlockProfile, len(targets))
	for i, t := range targets {
		vals := [][2]string{
			{"credential_process", opts.CredentialProcess + " --profile " + shellQuote(t.profile)},
			{"rolehop_login", lp.Name},
			{"rolehop_role_arn", t.role.RoleARN},
		}
		if providers[t.role.RoleARN] > 1 {
			vals = append(vals, [2]string{"rolehop_principal_arn", t.role.PrincipalARN})
		}
		if lp.Region != "" {
			vals = append(vals, [2]string{awsfile.KeyRegion, lp.Region})
		}
		blocks[i] = awsfile.BlockProfile{Name: t.profile, Values: vals}
	}
	if opts.DryRun {
		for _, b := range blocks {
			fmt.Fprintf(f.IO.Out, "[profile %s]\n", b.Name)
			for _, kv := range b.Values {
				fmt.Fprintf(f.IO.Out, "%s = %s\n", kv[0], kv[1])
			}
			fmt.Fprintln(f.IO.Out)
		}
		return nil
	}
	res, err := (&awsfile.File{Path: cfgPath, Kind: awsfile.Config, Logger: log}).ReplaceBlock(ctx, "login "+lp.Name, blocks)
	if err != nil {
		return fileError(err)
	}
	for _, name := range res.Skipped {
		fmt.Fprintf(f.IO.ErrOut, "rolehop: profile %s is defined outside the rolehop block in %s: left as it is\n", name, cfgPath)
	}
	msg := fmt.Sprintf("wrote %d profiles for login %s into %s", len(res.Written), lp.Name, cfgPath)
	if len(res.Removed) > 0 {
		msg += fmt.Sprintf("; removed %d no longer granted (%s)", len(res.Removed), strings.Join(firstN(res.Removed, maxListed), ", "))
	}
	fmt.Fprintln(f.IO.ErrOut, msg)
	return nil
}

// filterRoles keeps the roles whose alias, account or name contains every
// word (case-insensitive).
func filterRoles(roles []saml.Role, aliases map[string]string, filter []string) []saml.Role {
	words := strings.Fields(strings.ToLower(strings.Join(filter, " ")))
	return slices.DeleteFunc(roles, func(r saml.Role) bool {
		hay := strings.ToLower(aliases[r.AccountID()] + " " + r.AccountID() + " " + r.Name())
		return slices.ContainsFunc(words, func(w string) bool { return !strings.Contains(hay, w) })
	})
}

func firstN(s []string, n int) []string {
	if len(s) > n {
		return append(s[:n:n], fmt.Sprintf("and %d more", len(s)-n))
	}
	return s
}
