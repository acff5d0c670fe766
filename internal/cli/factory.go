package cli

import (
	"log/slog"
	"os"
	"time"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
)

// Factory is what commands take from their surroundings. System() streams
// and nil fields mean the real process: os.Getenv, os.Environ, time.Now,
// the default settings path.
type Factory struct {
	IO *IOStreams
	// Getenv reads the environment (AWS_PROFILE, ROLEHOP_*, ...).
	Getenv func(string) string
	// Environ is the environment child processes start from.
	Environ func() []string
	// Now is the clock.
	Now func() time.Time
	// SettingsPath is rolehop's settings file; "" means
	// settings.DefaultPath() ($ROLEHOP_CONFIG, ~/.config/rolehop/config.yaml).
	SettingsPath string
	// LoginPrompter asks for the password of a login that credential
	// delivery starts (a login:NAME base); nil means the terminal
	// (/dev/tty, then stdin/stderr, or the keyring).
	LoginPrompter func(ios *IOStreams, lp settings.LoginProfile) (idp.Prompter, error)

	debug bool // --debug
}

// NewFactory returns a Factory for the real process on ios.
func NewFactory(ios *IOStreams) *Factory { return &Factory{IO: ios} }

func (f *Factory) getenv(k string) string {
	if f.Getenv != nil {
		return f.Getenv(k)
	}
	return os.Getenv(k)
}

func (f *Factory) environ() []string {
	if f.Environ != nil {
		return f.Environ()
	}
	return os.Environ()
}

func (f *Factory) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

// Debug reports whether --debug was given.
func (f *Factory) Debug() bool { return f.debug }

// SetDebug sets what --debug sets (for roots built outside this package).
func (f *Factory) SetDebug(on bool) { f.debug = on }

// Logger is the commands' logger: with --debug every record as text on
// stderr; otherwise only warnings (an IdP without TLS verification, a corrupt
// cache file replaced, a clock that disagrees with the IdP's), each as one
// "rolehop: warning: ..." line on stderr.
func (f *Factory) Logger() *slog.Logger {
	if !f.debug {
		return slog.New(&noticeHandler{w: f.IO.ErrOut, min: slog.LevelWarn})
	}
	return slog.New(slog.NewTextHandler(f.IO.ErrOut, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// Notices is the logger for notices the user should see without --debug
// (a clamped duration): one "rolehop: ..." line each, or the debug log.
func (f *Factory) Notices() *slog.Logger {
	if f.debug {
		return f.Logger()
	}
	return slog.New(&noticeHandler{w: f.IO.ErrOut})
}
