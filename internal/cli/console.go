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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/console"
)

// ConsoleOptions are the inputs of `rolehop console`.
type ConsoleOptions struct {
	IO     *IOStreams
	Logger *slog.Logger // debug log; nil discards
	// Notices receives the user-facing notices (clamped duration,
	// GetFederationToken used); nil writes them to IO.ErrOut.
	Notices *slog.Logger

	Profile       string        // positional P or --profile; "" = AWS_PROFILE/default
	Service       string        // --service shortcut
	Destination   string        // --destination console URL
	Region        string        // --region; "" = the profile's region
	Duration      time.Duration // --duration of the console session; 0 = AWS default
	Print         bool          // --print: print the URL instead of opening a browser
	FederationURL string        // --federation-url
	SessionKind   string        // --session-kind: auto (default), role, chained, federation-token, iam-user

	// OpenBrowser opens url in the user's browser; nil = openBrowser
	// ($BROWSER, xdg-open, open). errNoBrowser makes the command print the
	// URL instead.
	OpenBrowser func(ctx context.Context, url string) error
}

// errNoBrowser: no way to open a browser here; the URL is printed instead.
var errNoBrowser = errors.New("no browser found (set BROWSER or install xdg-open)")

// consoleShortcutHint is the few shortcuts named when an unknown one is given.
var consoleShortcutHint = []string{"s3", "ec2", "iam", "lambda", "cloudwatch", "logs", "dynamodb", "rds"}

func newConsoleCmd(g *globals) *cobra.Command {
	opts := &ConsoleOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "console [PROFILE]",
		Short: "Open the AWS console as a profile's role (federation sign-in URL)",
		Long: "console signs in to the AWS console with the credentials of PROFILE (or --profile,\n" +
			"AWS_PROFILE, the environment) through the federation endpoint, then opens the\n" +
			"default browser ($BROWSER, xdg-open or open). With --print, or when stdout is\n" +
			"not a terminal or no browser is found, the URL is printed on stdout instead.\n" +
			"The URL is a bearer token valid for 15 minutes: give it only to your browser.\n\n" +
			"Temporary credentials of unknown chaining get a console session of at most 1h\n" +
			"(AWS refuses longer ones for chained role sessions); long-term IAM user keys go\n" +
			"through sts:GetFederationToken first. Notices go to stderr.\n\n" +
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
			opts.Logger = g.logger()
			if g.debug {
				opts.Notices = opts.Logger
			}
			return runConsole(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Profile, "profile", "", "AWS profile (instead of the positional PROFILE)")
	f.StringVarP(&opts.Service, "service", "s", "", "console service shortcut, e.g. s3, ec2, iam")
	f.StringVar(&opts.Destination, "destination", "", "console URL to open (https://console.aws.amazon.com/...)")
	f.StringVarP(&opts.Region, "region", "r", "", "region for the service page (default: the profile's region)")
	f.DurationVarP(&opts.Duration, "duration", "d", 0, "console session length, 15m..12h (default: AWS's, 1h)")
	f.BoolVarP(&opts.Print, "print", "p", false, "print the sign-in URL instead of opening a browser")
	f.StringVar(&opts.SessionKind, "session-kind", "auto", "how the credentials were obtained: auto, role (first hop: up to 12h), chained (at most 1h), federation-token, iam-user")
	f.StringVar(&opts.FederationURL, "federation-url", "", "federation endpoint (default: the partition's signin.aws.amazon.com/federation)")
	return cmd
}

// profileArg merges an optional positional profile with --profile.
func profileArg(cmd *cobra.Command, args []string, flag string) (string, error) {
	switch {
	case len(args) > 1:
		return "", usageError(fmt.Errorf("%s takes at most one profile, got %q", cmd.CommandPath(), args))
	case len(args) == 1 && flag != "" && args[0] != flag:
		return "", usageError(fmt.Errorf("profile given twice (%q and --profile %q); give one", args[0], flag))
	case len(args) == 1:
		return args[0], nil
	}
	return flag, nil
}

func runConsole(ctx context.Context, opts *ConsoleOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	notices := opts.Notices
	if notices == nil {
		notices = slog.New(&noticeHandler{w: opts.IO.ErrOut})
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

	cfg, err := sdkConfigForProfile(ctx, opts.Profile, log)
	if err != nil {
		return err
	}
	region := opts.Region
	if region == "" {
		region = cfg.Region
	}
	creds, err := profileCredentials(ctx, cfg, opts.Profile)
	if err != nil {
		return err
	}
	if creds.SessionToken == "" && kind != console.KindAuto && kind != console.KindIAMUser {
		return usageError(fmt.Errorf("--session-kind %s needs temporary credentials, but profile %q has long-term keys; leave --session-kind at auto",
			kind, profileName(opts.Profile)))
	}
	copts := console.Options{
		Destination:     dest,
		Region:          region,
		SessionDuration: opts.Duration,
		Kind:            kind,
		FederationURL:   opts.FederationURL,
		Logger:          notices,
	}
	if creds.SessionToken == "" && (kind == console.KindAuto || kind == console.KindIAMUser) {
		// GetFederationToken through the SDK's STS client, so the
		// profile's endpoint settings (AWS_ENDPOINT_URL_STS) apply.
		stsCfg := cfg.Copy()
		if stsCfg.Region == "" {
			stsCfg.Region = "us-east-1"
		}
		copts.STS = sts.NewFromConfig(stsCfg)
	}
	log.Debug("building console sign-in URL", "profile", opts.Profile, "region", region, "destination", dest,
		"temporary", creds.SessionToken != "")
	u, err := console.SigninURL(ctx, creds, copts)
	if err != nil {
		return consoleError(err, opts.Service)
	}
	if opts.Print || !opts.IO.OutTerminal {
		_, err = fmt.Fprintln(opts.IO.Out, u)
		return err
	}
	open := opts.OpenBrowser
	if open == nil {
		open = openBrowser
	}
	if err := open(ctx, u); err != nil {
		fmt.Fprintf(opts.IO.ErrOut, "rolehop: cannot open a browser (%s); open this URL within 15 minutes:\n", OneLine(err))
		_, err = fmt.Fprintln(opts.IO.Out, u)
		return err
	}
	fmt.Fprintln(opts.IO.ErrOut, "rolehop: opened the AWS console in your browser")
	return nil
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

// profileCredentials retrieves the credentials of cfg once (the SDK caches
// them for later calls on cfg).
func profileCredentials(ctx context.Context, cfg aws.Config, profile string) (aws.Credentials, error) {
	if cfg.Credentials == nil {
		return aws.Credentials{}, fmt.Errorf("no AWS credentials for profile %q; name a profile that has some or set AWS_PROFILE", profileName(profile))
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("no usable AWS credentials for profile %q (name another profile, set AWS_PROFILE or log in again): %w",
			profileName(profile), err)
	}
	return creds, nil
}

func profileName(p string) string {
	if p == "" {
		if env := os.Getenv("AWS_PROFILE"); env != "" {
			return env
		}
		return "default"
	}
	return p
}

// sdkConfigForProfile loads the AWS SDK's configuration for profile ("" =
// AWS_PROFILE or the default chain), so credential_process profiles, SSO,
// role_arn chains and AWS_ENDPOINT_URL(_STS/_S3) all work as in the AWS CLI.
// Environment credentials with AWS_CREDENTIAL_EXPIRATION (as `rolehop exec`
// and botocore use it) get that expiry. The SDK's own log lines go to log at
// debug level, not to the terminal. When nothing provides credentials, the
// error says so in one line.
func sdkConfigForProfile(ctx context.Context, profile string, log *slog.Logger) (aws.Config, error) {
	loadOpts := []func(*config.LoadOptions) error{config.WithLogger(sdkLogger(log))}
	if profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			return aws.Config{}, usageError(fmt.Errorf("aws profile %q not found in the config or credentials file: %w", missing.Profile, err))
		}
		return aws.Config{}, fmt.Errorf("load aws config: %w", err)
	}
	// The SDK falls back to EC2 instance metadata only when nothing else is
	// configured; off EC2 that means "no credentials".
	if aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			log.Debug("no credentials from ec2 instance metadata", "err", err)
			return aws.Config{}, usageError(errors.New("no AWS credentials found (environment, AWS_PROFILE, ~/.aws/config and credentials, instance metadata): run rolehop login, name a profile, or set AWS_PROFILE"))
		}
	}
	if cfg.Credentials != nil {
		if exp := os.Getenv("AWS_CREDENTIAL_EXPIRATION"); exp != "" {
			cfg.Credentials = &envExpiryProvider{inner: cfg.Credentials, expiration: exp, log: log}
		}
	}
	return cfg, nil
}

// sdkLogger sends the AWS SDK's log lines (such as its IMDS fallback
// warnings) to log at debug level.
func sdkLogger(log *slog.Logger) logging.Logger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return logging.LoggerFunc(func(c logging.Classification, format string, v ...any) {
		log.Debug("aws sdk: "+fmt.Sprintf(format, v...), "level", string(c))
	})
}

// envExpiryProvider adds AWS_CREDENTIAL_EXPIRATION to credentials the SDK
// read from the environment (the SDK itself ignores that variable).
type envExpiryProvider struct {
	inner      aws.CredentialsProvider
	expiration string
	log        *slog.Logger
}

func (p *envExpiryProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err != nil || c.CanExpire || c.Source != config.CredentialsSourceName {
		return c, err
	}
	t, perr := time.Parse(time.RFC3339, p.expiration)
	if perr != nil {
		p.log.Debug("ignoring AWS_CREDENTIAL_EXPIRATION: not RFC 3339", "value", p.expiration)
		return c, nil
	}
	c.CanExpire, c.Expires = true, t
	return c, nil
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
