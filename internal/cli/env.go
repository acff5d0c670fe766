package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/credenv"
)

// EnvOptions are the inputs of `rolehop env`.
type EnvOptions struct {
	F      *Factory
	Logger *slog.Logger
	Delivery
	Format string // sh (default), fish, powershell, dotenv or json
}

// envFormats are the --format values of env.
var envFormats = []string{"sh", "fish", "powershell", "dotenv", "json"}

// NewCmdEnv builds `rolehop env`; runF, when not nil, runs instead of the
// command.
func NewCmdEnv(f *Factory, runF func(*EnvOptions) error) *cobra.Command {
	opts := &EnvOptions{F: f}
	cmd := &cobra.Command{
		Use:   "env [PROFILE] [--format sh|fish|powershell|dotenv|json]",
		Short: "Print a profile's credentials as environment variable settings",
		Long: "env prints AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n" +
			"AWS_CREDENTIAL_EXPIRATION and the region of PROFILE (or --profile, else\n" +
			"AWS_PROFILE: any profile, a rolehop source or one the AWS SDK resolves) for a\n" +
			"shell to evaluate, e.g. eval \"$(rolehop env prod)\" or rolehop env prod --format fish | source.\n" +
			"The shell formats also unset AWS_PROFILE and AWS_DEFAULT_PROFILE, which would\n" +
			"otherwise win over the credentials in some SDKs.",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profileArg(cmd, args, opts.Profile)
			if err != nil {
				return err
			}
			opts.Profile, opts.Logger = p, f.Logger()
			if runF != nil {
				return runF(opts)
			}
			return runEnv(cmd.Context(), opts)
		},
	}
	addDeliveryFlags(cmd, &opts.Delivery)
	cmd.Flags().StringVarP(&opts.Format, "format", "f", "sh", "output format: "+strings.Join(envFormats, ", "))
	return cmd
}

func runEnv(ctx context.Context, opts *EnvOptions) error {
	if opts.Format == "" {
		opts.Format = "sh"
	}
	if !slices.Contains(envFormats, opts.Format) {
		return usageError(fmt.Errorf("--format %q: want one of %s", opts.Format, strings.Join(envFormats, ", ")))
	}
	if err := pickProfile(ctx, opts.F, &opts.Delivery); err != nil {
		return err
	}
	c, p, err := profileCredentials(ctx, opts.F, opts.Logger, opts.Delivery)
	if err != nil {
		return err
	}
	if opts.F.IO.ErrTerminal {
		recordRecent(opts.F, p.Name)
	}
	var b bytes.Buffer
	if err := formatEnv(&b, opts.Format, credenv.Vars(c, p.Region), []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}); err != nil {
		return err
	}
	_, err = opts.F.IO.Out.Write(b.Bytes())
	return err
}

// formatEnv writes vars (and unsets) in format.
func formatEnv(b *bytes.Buffer, format string, vars []credenv.Var, unset []string) error {
	switch format {
	case "sh":
		for _, n := range unset {
			fmt.Fprintf(b, "unset %s\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "export %s=%s\n", kv.Name, shQuote(kv.Value))
		}
	case "fish":
		for _, n := range unset {
			fmt.Fprintf(b, "set -e %s;\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "set -gx %s %s;\n", kv.Name, fishQuote(kv.Value))
		}
	case "powershell":
		for _, n := range unset {
			fmt.Fprintf(b, "Remove-Item Env:%s -ErrorAction SilentlyContinue\n", n)
		}
		for _, kv := range vars {
			fmt.Fprintf(b, "$Env:%s = %s\n", kv.Name, psQuote(kv.Value))
		}
	case "dotenv":
		for _, kv := range vars {
			fmt.Fprintf(b, "%s=%s\n", kv.Name, dotenvQuote(kv.Value))
		}
	case "json":
		m := make(map[string]string, len(vars))
		for _, kv := range vars {
			m[kv.Name] = kv.Value
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

// psQuote quotes s for PowerShell: a verbatim single-quoted string, each
// single quote doubled — PowerShell takes U+2018 to U+201B as single quotes
// too, so those are doubled as well.
func psQuote(s string) string {
	var b strings.Builder
	b.WriteByte('\'')
	for _, r := range s {
		if r == '\'' || (r >= '\u2018' && r <= '\u201b') {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
	return b.String()
}

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
