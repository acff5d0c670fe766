package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/internal/login"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
	"github.com/rolehop/rolehop/source"
)

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

// Delivery are the flags every command that delivers credentials takes:
// which profile, and what to change about its session.
type Delivery struct {
	Profile  string        // PROFILE or --profile; "" = AWS_PROFILE, else the SDK's default chain
	Region   string        // --region: overrides the profile's region
	Duration time.Duration // --duration: the role session's length (sources and role_arn profiles)
}

// addDeliveryFlags adds --profile, --region and --duration to cmd.
func addDeliveryFlags(cmd *cobra.Command, d *Delivery) {
	fl := cmd.Flags()
	fl.StringVar(&d.Profile, "profile", "", "the profile (instead of the positional PROFILE; default AWS_PROFILE)")
	fl.StringVar(&d.Region, "region", "", "region handed out with the credentials (default: the profile's)")
	fl.Var(&durationFlag{&d.Duration}, "duration", "role session length, 15m to 12h (default: the profile's, else 1h)")
}

// durationFlag reads a duration as rolehop's files spell one (1h, 90m,
// 3600).
type durationFlag struct{ d *time.Duration }

func (f *durationFlag) String() string {
	if f.d == nil || *f.d == 0 {
		return ""
	}
	return f.d.String()
}

func (f *durationFlag) Type() string { return "duration" }

func (f *durationFlag) Set(s string) error {
	d, err := duration.Parse(s)
	if err != nil {
		return err
	}
	*f.d = d
	return nil
}

// openProfile opens the credentials a profile names, whatever kind of
// profile it is (source.Open): "" means AWS_PROFILE, else the SDK's default
// chain. Every command that delivers credentials goes through here.
func openProfile(ctx context.Context, f *Factory, log *slog.Logger, d Delivery) (*source.Profile, error) {
	o := sourceOptions(f, log)
	o.Region, o.Duration = d.Region, d.Duration
	p, err := source.Open(ctx, d.Profile, o)
	if err != nil {
		return nil, profileError(err)
	}
	return p, nil
}

// profileCredentials opens the profile and fetches its credentials.
func profileCredentials(ctx context.Context, f *Factory, log *slog.Logger, d Delivery) (aws.Credentials, *source.Profile, error) {
	p, err := openProfile(ctx, f, log, d)
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	c, err := p.Credentials(ctx)
	if err != nil {
		return aws.Credentials{}, nil, profileError(err)
	}
	return c, p, nil
}

func sourceOptions(f *Factory, log *slog.Logger) *source.Options {
	return &source.Options{
		Logger:        log,
		Getenv:        f.getenv,
		TokenProvider: mfaPrompt(f.IO),
		Login:         loginBase(f, log),
		SAML:          samlSource(f, log),
		LoadOptions:   []func(*config.LoadOptions) error{config.WithLogger(sdkLogger(log))},
	}
}

// ProfileError marks bad profile definitions and missing credentials as bad
// input (exit code 2), for commands built outside this package.
func ProfileError(err error) error { return profileError(err) }

// profileError marks bad profile definitions and missing credentials as bad
// input (exit code 2).
func profileError(err error) error {
	for _, target := range []error{source.ErrNotFound, source.ErrNotSource, source.ErrInvalid, source.ErrCycle,
		source.ErrLoginUnavailable, session.ErrNoCredentials, session.ErrProfileNotFound} {
		if errors.Is(err, target) {
			return usageError(err)
		}
	}
	return err
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

// mfaPrompt asks for an MFA code on the controlling terminal (/dev/tty),
// else on stderr+stdin when stdin is a terminal. Nothing goes to stdout,
// which belongs to the credential_process document.
func mfaPrompt(ios *IOStreams) func() (string, error) {
	return func() (string, error) {
		var in io.Reader
		var out io.Writer
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			defer tty.Close()
			in, out = tty, tty
		} else if ios.InTerminal {
			in, out = ios.In, ios.ErrOut
		} else {
			return "", usageError(errors.New("an MFA code is needed but there is no terminal to ask on; run the command on a terminal once to fill the cache"))
		}
		fmt.Fprint(out, "MFA code: ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read MFA code: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
}

// loginBase resolves login:NAME bases of sources: the login profile NAME
// (settings.Resolve: file, ROLEHOP_* environment), logged in through its
// IdP (sharedLogin), its account and role assumed with SAML.
func loginBase(f *Factory, log *slog.Logger) func(ctx context.Context, name string) (aws.Config, error) {
	return func(ctx context.Context, name string) (aws.Config, error) {
		lp, sp, err := sharedLogin(f, log, name, 0)
		if err != nil {
			return aws.Config{}, err
		}
		if lp.Account == "" || lp.Role == "" {
			return aws.Config{}, usageError(fmt.Errorf("login profile %q in %s needs account and role to be a rolehop_base; set both", name, lp.SettingsFile))
		}
		return session.Config(ctx, sp, lp.Account)
	}
}

// samlSource gives rolehop_login sources the SAML session of their login
// profile (sharedLogin).
func samlSource(f *Factory, log *slog.Logger) func(ctx context.Context, name string, d time.Duration) (source.SAMLSession, error) {
	return func(ctx context.Context, name string, d time.Duration) (source.SAMLSession, error) {
		_, sp, err := sharedLogin(f, log, name, d)
		return sp, err
	}
}

// sharedLogin is the SAML session of login profile name shared by every
// process (login.Shared): a saved assertion STS still takes, else one login
// under the cache's lock, silent while the IdP session saved by an earlier
// login lasts. A password or code is asked on the terminal (/dev/tty);
// without one, the error names the command that logs in on a terminal.
func sharedLogin(f *Factory, log *slog.Logger, name string, d time.Duration) (settings.LoginProfile, *session.SAML, error) {
	lp, err := settings.Resolve(f.SettingsPath, f.getenv, settings.Overrides{Login: name})
	if err != nil {
		return lp, nil, settingsError(err)
	}
	var prompter idp.Prompter
	if f.LoginPrompter != nil {
		prompter, err = f.LoginPrompter(ttyStreams(f.IO), lp)
	} else {
		var tp *terminalPrompter
		tp, err = newPrompter(ttyStreams(f.IO), lp, false)
		prompter = &noTerminalPrompter{terminalPrompter: tp, login: name}
	}
	if err != nil {
		return lp, nil, err
	}
	sh, err := login.NewShared(lp, prompter, log, f.getenv, login.SharedOptions{Reuse: true})
	if err != nil {
		return lp, nil, usageError(err)
	}
	sp, err := sh.SAML(func(o *session.SAMLOptions) {
		if d != 0 {
			o.Duration = d
		}
	})
	if err != nil {
		return lp, nil, usageError(err)
	}
	return lp, sp, nil
}

// noTerminalPrompter turns "no terminal to ask on" into the one line a
// credential_process user needs: which command to run first.
type noTerminalPrompter struct {
	*terminalPrompter
	login string
}

func (p *noTerminalPrompter) needLogin(what string) error {
	return usageError(fmt.Errorf("logging in to %s needs %s and there is no terminal to ask on; run `rolehop login --login %s` (or `rolehop roles --login %s`) on a terminal first: it saves the assertion and the IdP session for every profile of that login; then try again",
		p.login, what, p.login, p.login))
}

// Username asks on the terminal, or says what to run first.
func (p *noTerminalPrompter) Username(ctx context.Context) (string, error) {
	u, err := p.terminalPrompter.Username(ctx)
	if errors.Is(err, errNoUsername) {
		return "", p.needLogin("a username")
	}
	return u, err
}

// Password asks on the terminal, or says what to run first.
func (p *noTerminalPrompter) Password(ctx context.Context) (string, error) {
	pw, err := p.terminalPrompter.Password(ctx)
	if errors.Is(err, errNoPassword) {
		return "", p.needLogin("a password")
	}
	return pw, err
}

// OTP asks on the terminal, or says what to run first.
func (p *noTerminalPrompter) OTP(ctx context.Context, factor string) (string, error) {
	if !p.io.InTerminal {
		return "", p.needLogin("a one-time code")
	}
	return p.terminalPrompter.OTP(ctx, factor)
}

// newPrompter is the terminal prompter of a login profile: username from the
// profile or a prompt, password from stdin (passwordStdin), the keyring
// (lp.Keyring) or a hidden prompt.
func newPrompter(ios *IOStreams, lp settings.LoginProfile, passwordStdin bool) (*terminalPrompter, error) {
	p := &terminalPrompter{io: ios, username: lp.Username, passwordStdin: passwordStdin}
	if lp.Keyring {
		ks, err := openKeyring(lp.Name)
		if err != nil {
			return nil, err
		}
		p.keyring = ks
	}
	return p, nil
}

// ttyStreams are ios with prompts moved to the controlling terminal when
// there is one: a credential_process's stdout and stderr are pipes read by
// the AWS CLI, so a prompt there would never be seen. Out stays ios.Out.
func ttyStreams(ios *IOStreams) *IOStreams {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return ios
	}
	// The terminal stays open for the life of the process (prompts may come
	// at any refresh).
	return &IOStreams{In: tty, Out: ios.Out, ErrOut: tty, InTerminal: true, OutTerminal: ios.OutTerminal,
		ErrTerminal: true, InFd: int(tty.Fd())}
}

// settingsError maps settings errors: invalid values are bad input (exit
// 2), an unreadable file is a file error (exit 6).
func settingsError(err error) error {
	if errors.Is(err, settings.ErrInvalid) || errors.Is(err, settings.ErrUnknownLogin) {
		return usageError(err)
	}
	return &ExitError{Code: ExitFile, Err: err}
}
