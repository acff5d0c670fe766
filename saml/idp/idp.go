// Package idp logs in to an identity provider and returns the base64
// SAMLResponse it issues for AWS sign-in. Every IdP is one file behind one
// small interface, Client: Form (generic HTML-forms IdPs such as
// SimpleSAMLphp, Shibboleth and Keycloak), ADFS (forms or HTTP
// authentication), OneLogin and Okta (their APIs, not scraping), and
// Browser: the person's own sign-in in a real Chromium driven over the
// DevTools protocol, which works with every IdP and every MFA.
//
// Usernames, passwords and one-time codes come from an injected Prompter, so
// a CLI can ask on a terminal and tests can answer from a script. Passwords
// and assertions never appear in errors or log lines. TLS certificates are
// always verified unless InsecureSkipVerify is set, which logs a warning.
//
// An IdP page is treated as hostile input. The password goes only to the
// sign-on URL's origin (or one listed in Options.PasswordOrigins); redirects
// never go from https to http, never re-send a request body to another
// origin, and drop the Authorization header on the way to another origin
// (see origin.go). Every text taken from a server (titles, error banners,
// labels shown at the OTP prompt, API messages, host names and paths) is
// passed through internal/safetext before it reaches an error, a log line
// or the Prompter: no terminal escape, bidi override or line break, and a
// bounded length.
package idp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"time"

	"github.com/rolehop/rolehop/internal/safetext"
)

// Client gets a SAML assertion from an IdP.
type Client interface {
	// Assertion logs in (asking the Prompter as needed) and returns the
	// base64 SAMLResponse, as the IdP would post it to AWS sign-in.
	Assertion(ctx context.Context) (string, error)
}

// Prompter supplies what a person types. The CLI asks on a terminal; tests
// and scripts answer from fixed values (see Fixed).
type Prompter interface {
	Username(ctx context.Context) (string, error)
	Password(ctx context.Context) (string, error)
	// OTP asks for a one-time code; factor describes which (a device type
	// or the IdP's label for the field).
	OTP(ctx context.Context, factor string) (string, error)
}

// Sentinel errors; check them with errors.Is.
var (
	// ErrAccessDenied: the IdP rejected the login (wrong password, locked
	// account, bad one-time code, bad API client credentials).
	ErrAccessDenied = errors.New("idp rejected the login")
	// ErrNoAssertion: the IdP answered without a SAMLResponse (unknown
	// service provider, an unexpected page).
	ErrNoAssertion = errors.New("idp answered without a saml assertion")
	// ErrMFARequired: the IdP wants a one-time code but none could be had.
	ErrMFARequired = errors.New("idp requires a one-time code")
	// ErrIdP: a protocol or HTTP failure talking to the IdP.
	ErrIdP = errors.New("idp request failed")
)

// Fixed is a Prompter with fixed answers, for scripts and tests. An empty
// OTPCode makes OTP fail with ErrMFARequired.
type Fixed struct {
	User, Pass, OTPCode string
}

// Username returns f.User.
func (f Fixed) Username(context.Context) (string, error) { return f.User, nil }

// Password returns f.Pass.
func (f Fixed) Password(context.Context) (string, error) { return f.Pass, nil }

// OTP returns f.OTPCode, or ErrMFARequired when it is empty.
func (f Fixed) OTP(_ context.Context, factor string) (string, error) {
	if f.OTPCode == "" {
		return "", fmt.Errorf("%w: no one-time code configured for %s", ErrMFARequired, factor)
	}
	return f.OTPCode, nil
}

// Options are shared by every client. The zero value works.
type Options struct {
	// HTTPClient sends every request. Nil means a client with a cookie jar
	// (kept across Assertion calls, so a live IdP session is reused) and
	// Timeout. A caller-supplied client should have a cookie jar: the
	// form-based IdPs need one (one is added to a copy if it has none).
	HTTPClient *http.Client
	// Logger receives debug lines about each step and the
	// InsecureSkipVerify warning. Nil discards.
	Logger *slog.Logger
	// InsecureSkipVerify turns off TLS certificate verification. Only for
	// test IdPs; a warning is logged whenever it is used.
	InsecureSkipVerify bool
	// Timeout bounds each HTTP request of the default client (default 30s).
	Timeout time.Duration
	// PasswordOrigins lists the origins, besides the sign-on URL's own,
	// that may receive the password: "https://login.example.com",
	// "https://login.example.com:8443" or a bare host name (https). A login
	// form that would post the password anywhere else is refused. For IdPs
	// that show their login form on another host than the sign-on URL.
	PasswordOrigins []string

	once   sync.Once
	client *http.Client
}

var discard = slog.New(slog.DiscardHandler)

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return discard
	}
	return o.Logger
}

// httpClient returns the client to use, built once.
func (o *Options) httpClient() *http.Client {
	o.once.Do(func() {
		log := o.logger()
		if o.HTTPClient != nil {
			c := *o.HTTPClient
			if c.Jar == nil {
				c.Jar, _ = cookiejar.New(nil)
			}
			if o.InsecureSkipVerify {
				if t, ok := c.Transport.(*http.Transport); ok {
					t = t.Clone()
					if t.TLSClientConfig == nil {
						t.TLSClientConfig = &tls.Config{}
					}
					t.TLSClientConfig.InsecureSkipVerify = true
					c.Transport = t
				} else if c.Transport == nil {
					c.Transport = insecureTransport()
				} else {
					log.Warn("idp: InsecureSkipVerify ignored: the supplied HTTP client has a custom transport")
				}
			}
			c.CheckRedirect = redirectPolicy(c.CheckRedirect)
			o.client = &c
		} else {
			jar, _ := cookiejar.New(nil)
			timeout := o.Timeout
			if timeout <= 0 {
				timeout = 30 * time.Second
			}
			o.client = &http.Client{Jar: jar, Timeout: timeout, CheckRedirect: redirectPolicy(nil)}
			if o.InsecureSkipVerify {
				o.client.Transport = insecureTransport()
			}
		}
	})
	if o.InsecureSkipVerify {
		o.logger().Warn("idp: TLS certificate verification is OFF (InsecureSkipVerify); anyone on the network path can read the password and the assertion")
	}
	return o.client
}

func insecureTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user opted out, and is warned
	return t
}

// oneLine makes an IdP-supplied text safe for a one-line error: the
// secrets given replaced by "[redacted]", then on one line without control,
// bidi or other format characters (internal/safetext), at most n
// characters.
func oneLine(s string, n int, secrets ...string) string {
	redact := func(s string) string {
		for _, sec := range secrets {
			if sec != "" && strings.Contains(s, sec) {
				s = strings.ReplaceAll(s, sec, "[redacted]")
			}
		}
		return s
	}
	return safetext.Clean(redact(safetext.Clean(redact(s), 0)), n)
}
