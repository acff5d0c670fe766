package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"
)

// EnvOptions are the inputs of `rolehop env`.
type EnvOptions struct {
	IO      *IOStreams
	Logger  *slog.Logger
	Profile string // the rolehop source
	Format  string // sh (default), fish, powershell, dotenv or json
}

// envFormats are the --format values of env.
var envFormats = []string{"sh", "fish", "powershell", "dotenv", "json"}

func newEnvCmd(g *globals) *cobra.Command {
	opts := &EnvOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "env PROFILE [--format sh|fish|powershell|dotenv|json]",
		Short: "Print a rolehop source's credentials as environment variable settings",
		Long: "env prints AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n" +
			"AWS_CREDENTIAL_EXPIRATION and the region of a rolehop source for a shell to\n" +
			"evaluate, e.g. eval \"$(rolehop env prod)\" or rolehop env prod --format fish | source.\n" +
			"The shell formats also unset AWS_PROFILE and AWS_DEFAULT_PROFILE, which would\n" +
			"otherwise win over the credentials in some SDKs.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(fmt.Errorf("usage: rolehop env PROFILE [--format %s]", strings.Join(envFormats, "|")))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = g.logger()
			opts.Profile = args[0]
			return runEnv(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "sh", "output format: "+strings.Join(envFormats, ", "))
	return cmd
}

func runEnv(ctx context.Context, opts *EnvOptions) error {
	if opts.Format == "" {
		opts.Format = "sh"
	}
	known := false
	for _, f := range envFormats {
		known = known || f == opts.Format
	}
	if !known {
		return usageError(fmt.Errorf("--format %q: want one of %s", opts.Format, strings.Join(envFormats, ", ")))
	}
	c, s, err := sourceCredentials(ctx, opts.IO, opts.Logger, opts.Profile)
	if err != nil {
		return err
	}
	vars := credentialVars(c, s.Region)
	var b bytes.Buffer
	if err := formatEnv(&b, opts.Format, vars, []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}); err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(b.Bytes())
	return err
}

// formatEnv writes vars (and unsets) in format.
func formatEnv(b *bytes.Buffer, format string, vars [][2]string, unset []string) error {
	switch format {
	case "sh":
		for _, n := range unset {
			fmt.Fprintf(b, "unset %s\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "export %s=%s\n", kv[0], shQuote(kv[1]))
		}
	case "fish":
		for _, n := range unset {
			fmt.Fprintf(b, "set -e %s;\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "set -gx %s %s;\n", kv[0], fishQuote(kv[1]))
		}
	case "powershell":
		for _, n := range unset {
			fmt.Fprintf(b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "$Env:%s = %s\n", kv[0], psQuote(kv[1]))
		}
	case "dotenv":
		for _, kv := range vars {
			fmt.Fprintf(b, "%s=%s\n", kv[0], dotenvQuote(kv[1]))
		}
	case "json":
		m := make(map[string]string, len(vars))
		for _, kv := range vars {
			m[kv[0]] = kv[1]
		}
		enc := json.NewEncoder(b)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(m)
	default:
		return usageError(fmt.Errorf("--format %q: want one of %s", format, strings.Join(envFormats, ", ")))
	}
	return nil
}

// shQuote quotes s for POSIX shells: single quotes, a ' written as '\”.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// fishQuote quotes s for fish: single quotes, with \ and ' escaped by \.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// psQuote quotes s for PowerShell: a verbatim single-quoted string, ' doubled.
func psQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// dotenvQuote leaves plain values bare and double-quotes others, escaping
// \, ", $ and newlines (as docker compose and python-dotenv read them).
func dotenvQuote(s string) string {
	plain := s != ""
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("+/=_-.:,@", r)) {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`, "\n", `\n`).Replace(s) + `"`
}
