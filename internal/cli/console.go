package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/source"
)

// ConsoleOptions are the inputs of `rolehop console`.
type ConsoleOptions struct {
	F      *Factory
	Logger *slog.Logger // debug log; nil discards
	// Notices receives the user-facing notices (clamped duration,
	// GetFederationToken used); nil writes them to IO.ErrOut.
	Notices *slog.Logger

	Profile       string        // positional P or --profile; "" = AWS_PROFILE, else the SDK's default chain
	Service       string        // --service shortcut
	Destination   string        // --destination console URL
	Region        string        // --region; "" = the profile's region
	Duration      time.Duration // --duration of the console session; 0 = AWS default
	Print         bool          // --print: print the URL instead of opening a browser
	FederationURL string        // --federation-url
	SessionKind   string        // --session-kind: auto (default), role, chained, federation-token, iam-user

	// OpenBrowser opens url in the user's browser; nil = openBrowser
	// ($BROWSER, xdg-open, open). It gets the file:// URL of a 0600 page
	// that redirects to the sign-in URL, never the sign-in URL itself (a
	// command line is readable by every local user). An error makes the
	// command print the URL instead.
	OpenBrowser func(ctx context.Context, url string) error
}

// errNoBrowser: no way to open a browser here; the URL is printed instead.
var errNoBrowser = errors.New("no browser found (set BROWSER or install xdg-open)")

// consoleShortcutHint is the few shortcuts named when an unknown one is given.
var consoleShortcutHint = []string{"s3", "ec2", "iam", "lambda", "cloudwatch", "logs", "dynamodb", "rds"}

// NewCmdConsole builds `rolehop console`; runF, when not nil, runs instead
// of the command.
func NewCmdConsole(f *Factory, runF func(*ConsoleOptions) error) *cobra.Command {
	opts := &ConsoleOptions{F: f}
	cmd := &cobra.Command{
		Use:   "console [PROFILE]",
		Short: "Open the AWS console as a profile's role (federation sign-in URL)",
		Long: "console signs in to the AWS console with the credentials of PROFILE (or --profile,\n" +
			"AWS_PROFILE, the environment; any profile, a rolehop source or one the AWS SDK\n" +
			"resolves) through the federation endpoint, then opens the default browser\n" +
			"($BROWSER, xdg-open or open). With --print, or when stdout is not a terminal or no\n" +
			"browser is found, the URL is printed on stdout instead. The URL is a bearer token\n" +
			"valid for 15 minutes: give it only to your browser.\n\n" +
			"Temporary credentials of unknown chaining get a console session of at most 1h\n" +
			"(AWS refuses longer ones for chained role sessions; --session-kind role allows\n" +
			"12h for a first-hop role session); long-term IAM user keys go through\n" +
			"sts:GetFederationToken first. Notices go to stderr.\n\n" +
			"Service shortcuts: " + strings.Join(console.Services(), ", "),
		Example: "  rolehop console prod --service s3 --region eu-west-1\n" +
			"  rolehop console --print --destination https://console.aws.amazon.com/iam/home",
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := profileArg(cmd, args, opts.Profile)
			if err != nil {
				return err
			}
			opts.Profile = p
			opts.Logger, opts.Notices = f.Logger(), f.Notices()
			if runF != nil {
				return runF(opts)
			}
			return runConsole(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Profile, "profile", "", "AWS profile (instead of the positional PROFILE)")
	fl.StringVarP(&opts.Service, "service", "s", "", "console service shortcut, e.g. s3, ec2, iam")
	fl.StringVar(&opts.Destination, "destination", "", "console URL to open (https://console.aws.amazon.com/...)")
	fl.StringVarP(&opts.Region, "region", "r", "", "region for the service page (default: the profile's region)")
	fl.DurationVarP(&opts.Duration, "duration", "d", 0, "console session length, 15m..12h (default: AWS's, 1h)")
	fl.BoolVarP(&opts.Print, "print", "p", false, "print the sign-in URL instead of opening a browser")
	fl.StringVar(&opts.SessionKind, "session-kind", "auto", "how the credentials were obtained: auto, role (first hop: up to 12h), chained (at most 1h), federation-token, iam-user")
	fl.StringVar(&opts.FederationURL, "federation-url", "", "federation endpoint (default: ROLEHOP_FEDERATION_URL, else the partition's signin.aws.amazon.com/federation)")
	return cmd
}

func runConsole(ctx context.Context, opts *ConsoleOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ios := opts.F.IO
	notices := opts.Notices
	if notices == nil {
		notices = slog.New(&noticeHandler{w: ios.ErrOut})
	}
	if opts.Service != "" && opts.Destination != "" {
		return usageError(errors.New("--service and --destination both given; give one"))
	}
	dest := opts.Destination
	if opts.Service != "" {
		if strings.Contains(opts.Service, "://") {
			return usageError(fmt.Errorf("--service %q is a URL; use --destination for console URLs", opts.Service))
		}
		dest = opts.Service
	}
	kind, err := parseSessionKind(opts.SessionKind)
	if err != nil {
		return err
	}
	if d := opts.Duration; d != 0 && (d < console.MinSessionDuration || d > console.MaxSessionDuration) {
		return usageError(fmt.Errorf("--duration %v is out of range; use 15m to 12h", d))
	}
	// Check a shortcut before any credential or network work (a URL is
	// checked against the partition's console host later).
	if opts.Service != "" && !slices.Contains(console.Services(), strings.ToLower(opts.Service)) {
		return consoleError(console.ErrUnknownService, opts.Service)
	}

	d := Delivery{Profile: opts.Profile}
	if err := pickProfile(ctx, opts.F, &d); err != nil {
		return err
	}
	p, err := openProfile(ctx, opts.F, log, d)
	if err != nil {
		return err
	}
	if ios.ErrTerminal {
		recordRecent(opts.F, p.Name)
	}
	cfg, err := p.Config(ctx)
	if err != nil {
		return profileError(err)
	}
	region := opts.Region
	if region == "" {
		region = cfg.Region
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return profileError(err)
	}
	if creds.SessionToken == "" && kind != console.KindAuto && kind != console.KindIAMUser {
		return usageError(fmt.Errorf("--session-kind %s needs temporary credentials, but profile %q has long-term keys; leave --session-kind at auto",
			kind, profileLabel(p)))
	}
	fedURL := opts.FederationURL
	if fedURL == "" {
		fedURL = opts.F.getenv("ROLEHOP_FEDERATION_URL")
	}
	copts := console.Options{
		Destination:     dest,
		Region:          region,
		SessionDuration: opts.Duration,
		Kind:            kind,
		FederationURL:   fedURL,
		Logger:          notices,
		// GetFederationToken (IAM user keys) through the profile's STS
		// settings (AWS_ENDPOINT_URL_STS, ...).
		STSConfig: &cfg,
	}
	log.Debug("building console sign-in URL", "profile", p.Name, "region", region, "destination", dest,
		"temporary", creds.SessionToken != "")
	u, err := console.SigninURL(ctx, creds, copts)
	if err != nil {
		return consoleError(err, opts.Service)
	}
	if opts.Print || !ios.OutTerminal {
		_, err = fmt.Fprintln(ios.Out, u)
		return err
	}
	open := opts.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	handoff, err := signinHandoff(opts.F, u)
	if err == nil {
		err = open(ctx, handoff)
	}
	if err != nil {
		fmt.Fprintf(ios.ErrOut, "rolehop: cannot open a browser (%s); open this URL within 15 minutes:\n", OneLine(err))
		_, err = fmt.Fprintln(ios.Out, u)
		return err
	}
	fmt.Fprintln(ios.ErrOut, "rolehop: opened the AWS console in your browser")
	return nil
}

func profileLabel(p *source.Profile) string {
	if p.Name == "" {
		return "default"
	}
	return p.Name
}

// parseSessionKind reads --session-kind.
func parseSessionKind(s string) (console.Kind, error) {
	if s == "" {
		return console.KindAuto, nil
	}
	var names []string
	for k := console.KindAuto; k <= console.KindIAMUser; k++ {
		if strings.EqualFold(s, k.String()) {
			return k, nil
		}
		names = append(names, k.String())
	}
	return 0, usageError(fmt.Errorf("--session-kind %q: use one of %s", s, strings.Join(names, ", ")))
}

// consoleError maps the console package's errors to exit codes.
func consoleError(err error, service string) error {
	switch {
	case errors.Is(err, console.ErrUnknownService):
		return usageError(fmt.Errorf("unknown service %q; use a shortcut such as %s (all: rolehop console --help) or --destination URL",
			service, strings.Join(consoleShortcutHint, ", ")))
	case errors.Is(err, console.ErrBadDestination), errors.Is(err, console.ErrUnknownPartition),
		errors.Is(err, console.ErrSessionDuration):
		return usageError(err)
	case errors.Is(err, console.ErrFederation), errors.Is(err, console.ErrFederationToken):
		return &ExitError{Code: ExitAWS, Err: err}
	}
	return err
}

// openBrowser opens url with $BROWSER (a ':'-separated list of commands,
// "%s" replaced by the URL or the URL appended), else xdg-open, wslview or
// open.
func openBrowser(ctx context.Context, url string) error {
	var cmds [][]string
	if b := os.Getenv("BROWSER"); b != "" {
		for _, c := range strings.Split(b, string(os.PathListSeparator)) {
			f := strings.Fields(c)
			if len(f) == 0 {
				continue
			}
			replaced := false
			for i := range f {
				if strings.Contains(f[i], "%s") {
					f[i] = strings.ReplaceAll(f[i], "%s", url)
					replaced = true
				}
			}
			if !replaced {
				f = append(f, url)
			}
			cmds = append(cmds, f)
		}
	} else if runtime.GOOS == "darwin" {
		cmds = [][]string{{"open", url}}
	} else {
		cmds = [][]string{{"xdg-open", url}, {"wslview", url}}
	}
	var lastErr error = errNoBrowser
	for _, c := range cmds {
		path, err := exec.LookPath(c[0])
		if err != nil {
			continue
		}
		cmd := exec.CommandContext(ctx, path, c[1:]...)
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Run(); err != nil {
			// Never put the URL (a bearer token) in the error.
			lastErr = fmt.Errorf("%s failed: %w", c[0], exitStatusOnly(err))
			continue
		}
		return nil
	}
	return lastErr
}

func exitStatusOnly(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return errors.New(ee.ProcessState.String())
	}
	return errors.New("could not start")
}
