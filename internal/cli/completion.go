package cli

import (
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/source"
)

// Shell completion (bash, zsh, fish, PowerShell: `rolehop completion SHELL`)
// knows the commands and flags, and completes what the user's files name:
// profiles of the AWS config and credentials files (recent ones first), the
// login profiles of the settings file, account IDs and aliases from
// accounts.yaml, and role names from a saved SAML assertion (--cache-saml).
// Completion reads files only: it never logs in or calls AWS.

// completeProfiles completes a positional PROFILE (only the first argument).
func completeProfiles(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return profileNames(f, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder // recent first, as given
	}
}

// completeProfileFlag completes --profile.
func completeProfileFlag(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return profileNames(f, toComplete), cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveKeepOrder // recent first, as given
	}
}

func profileNames(f *Factory, prefix string) []string {
	names, err := source.Names(&source.Options{Getenv: f.getenv})
	if err != nil {
		return nil
	}
	return withPrefix(orderRecentFirst(names, loadRecent(f)), prefix)
}

func withPrefix(names []string, prefix string) []string {
	return slices.DeleteFunc(names, func(n string) bool { return !strings.HasPrefix(n, prefix) })
}

// completeLogins completes --login with the settings file's login profiles.
func completeLogins(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		file, err := settings.Load(f.SettingsPath)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return withPrefix(file.Names(), toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeAccounts completes --account with aliases and IDs of the
// accounts file of the login profile the command line names.
func completeAccounts(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		lp := completionLogin(f, cmd)
		aliases, err := settings.LoadAccounts(lp.AccountsFile)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for id, alias := range aliases {
			out = append(out, alias+"\t"+id, id+"\t"+alias)
		}
		slices.Sort(out)
		return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeRoles completes --role with the role names of a live saved
// assertion of the login profile (written by --cache-saml).
func completeRoles(f *Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		lp := completionLogin(f, cmd)
		c, err := settings.NewAssertionCache(lp.Name)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		raw, ok := c.Load()
		if !ok {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		r, err := saml.Parse(raw)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []string
		for _, role := range r.Roles {
			if n := role.Name(); !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
		slices.Sort(out)
		return withPrefix(out, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// completionLogin is the login profile a command line being completed
// names (--login, ROLEHOP_LOGIN), without validation.
func completionLogin(f *Factory, cmd *cobra.Command) settings.LoginProfile {
	name, _ := cmd.Flags().GetString("login")
	if name == "" {
		name = f.getenv(settings.EnvLogin)
	}
	file, err := settings.Load(f.SettingsPath)
	if err != nil {
		return settings.LoginProfile{}
	}
	lp, _ := file.Login(name)
	if lp.AccountsFile == "" {
		lp.AccountsFile = settings.ExpandHome(os.Getenv(settings.EnvAccounts))
	}
	return lp
}

// registerCompletions wires the completion functions to the commands'
// arguments and flags.
func registerCompletions(f *Factory, root *cobra.Command) {
	for _, cmd := range root.Commands() {
		switch cmd.Name() {
		case "exec", "env", "serve", "whoami", "console", "presign":
			cmd.ValidArgsFunction = completeProfiles(f)
		}
		if cmd.Flags().Lookup("profile") != nil && cmd.Name() != "login" {
			_ = cmd.RegisterFlagCompletionFunc("profile", completeProfileFlag(f))
		}
		if cmd.Flags().Lookup("login") != nil {
			_ = cmd.RegisterFlagCompletionFunc("login", completeLogins(f))
		}
		if cmd.Flags().Lookup("account") != nil {
			_ = cmd.RegisterFlagCompletionFunc("account", completeAccounts(f))
		}
		if cmd.Flags().Lookup("role") != nil {
			_ = cmd.RegisterFlagCompletionFunc("role", completeRoles(f))
		}
	}
}
