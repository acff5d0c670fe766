package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// NewRootCmd builds the rolehop command tree on f. version is printed by
// --version. Errors are returned, not printed: the caller prints them and
// maps them to an exit code with ExitCode.
func NewRootCmd(f *Factory, version string) *cobra.Command {
	ios := f.IO
	root := &cobra.Command{
		Use:   "rolehop",
		Short: "Temporary AWS credentials from AWS profiles or a SAML IdP login",
		Long: "rolehop turns AWS profiles or SAML IdP logins into temporary AWS credentials.\n\n" +
			"It honours the AWS SDK's standard environment and files (AWS_PROFILE, AWS_REGION,\n" +
			"AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_STS, ~/.aws/config, ~/.aws/credentials).",
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Arguments without a matching subcommand are a usage error (exit 2).
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageError(fmt.Errorf("unknown command %q; run 'rolehop --help' for the list", args[0]))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	root.SetVersionTemplate("rolehop {{.Version}}\n")
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	root.PersistentFlags().BoolVar(&f.debug, "debug", false, "log debug messages to stderr")

	root.AddCommand(NewCmdWhoami(f, nil))
	root.AddCommand(NewCmdLogin(f, nil))
	root.AddCommand(NewCmdRoles(f, nil))
	root.AddCommand(NewCmdConsole(f, nil))
	root.AddCommand(NewCmdPresign(f, nil))
	root.AddCommand(NewCmdCredentialProcess(f, nil))
	root.AddCommand(NewCmdExec(f, nil))
	root.AddCommand(NewCmdEnv(f, nil))
	root.AddCommand(NewCmdServe(f, nil))
	root.AddCommand(NewCmdPopulate(f, nil))
	root.AddCommand(NewCmdInit(f, nil))
	root.AddCommand(NewCmdRun(f, nil))
	root.AddCommand(NewCmdBroker(f, nil))
	registerCompletions(f, root)
	return root
}

// NoArgs rejects positional arguments as a usage error.
func NoArgs(cmd *cobra.Command, args []string) error { return noArgs(cmd, args) }

// noArgs rejects positional arguments as a usage error.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Errorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0]))
	}
	return nil
}

func itoa(i int) string { return strconv.Itoa(i) }

// noticeHandler writes Info-and-above log records as one "rolehop: ..."
// line each: the library's notices, shown to the user without --debug.
type noticeHandler struct {
	w     io.Writer
	min   slog.Level // records below it are dropped (the zero value: Info)
	attrs []slog.Attr
}

func (h *noticeHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.min }

func (h *noticeHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString("rolehop: ")
	if r.Level >= slog.LevelWarn {
		b.WriteString("warning: ")
	}
	b.WriteString(r.Message)
	var extra []string
	add := func(a slog.Attr) bool {
		extra = append(extra, a.Key+" "+a.Value.String())
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	b.WriteString("\n")
	_, err := io.WriteString(h.w, b.String())
	return err
}

func (h *noticeHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &noticeHandler{w: h.w, min: h.min, attrs: append(append([]slog.Attr(nil), h.attrs...), as...)}
}

func (h *noticeHandler) WithGroup(string) slog.Handler { return h }
