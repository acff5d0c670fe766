package idp

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Browser logs in through a real Chromium or Chrome, driven over the
// DevTools protocol (chromedp, through a pipe: no debugging port is opened).
// It works with every IdP and every MFA, because the person signs in
// exactly as they do every day:
//
//  1. the browser starts with a rolehop-owned profile folder (0700) and
//     opens the sign-on URL;
//  2. the person signs in — passwords, push, number matching, WebAuthn,
//     whatever the IdP asks — while rolehop waits (LoginTimeout, default 5
//     minutes);
//  3. the IdP's page posts the SAMLResponse to AWS sign-in
//     (https://signin.aws.amazon.com/saml, the regional
//     https://REGION.signin.aws.amazon.com/saml, and the China and GovCloud
//     partitions' signin.amazonaws.cn and signin.amazonaws-us-gov.com);
//     rolehop intercepts that request (the Fetch domain) before it leaves
//     the browser, fails it, and takes the SAMLResponse from its body. The
//     request never reaches AWS: it is stopped in the browser, and Chrome's
//     resolver is also told that the AWS sign-in hosts do not exist, so
//     even a request the interception misses (a pop-up window) goes nowhere
//     (unless a proxy resolves names for the browser);
//  4. the window closes.
//
// The profile keeps the IdP's cookies, so while the IdP's own session lives
// the next login needs no one at the keyboard. Chrome keeps persistent
// cookies itself; the session cookies it would drop at exit (many IdPs use
// only those) are saved by rolehop in the profile, 0600, and put back at the
// next start, for at most SessionCookieMaxAge (12 hours) — as if the window
// had stayed open. Cookies are protected by the folder's permissions, not by
// the desktop keyring (Chrome runs with --password-store=basic, so it never
// prompts to unlock a keyring). The folder is refused when it is a symbolic
// link, not owned by the user, or writable by others; one login at a time
// uses it (a lock file).
//
// In the interactive mode rolehop says (log, and the Prompter when it is a
// Notifier) that it waits for the sign-in in the window.
//
// Headless mode, for IdPs that allow it and for scripts and CI: the browser
// has no window and rolehop itself types the username and password from the
// Prompter (and a one-time code when the IdP asks for one) into the page, as
// key presses. It types only into a page whose origin is the sign-on URL's
// (or one of TypeOrigins), checked immediately before typing; anywhere else
// it stops and names the host. A login form shown again after the password
// was sent, or an error banner that appears, ends the login with the IdP's
// message and ErrAccessDenied. The interactive mode never asks the Prompter
// for anything: the password store is not touched.
//
// Chrome gets only the environment it needs (HOME, PATH, DISPLAY, locale,
// proxy, XDG variables, ...), not rolehop's, which may hold AWS keys. As root
// it runs with --no-sandbox (Chrome refuses to start otherwise). The browser
// never outlives the login: a cancelled context (Ctrl-C) or the time limit
// kills it, it is started with a parent-death signal on Linux, and (on
// Linux) any helper process still using the profile afterwards is killed.
//
// Not covered: an IdP page that posts the SAMLResponse from a pop-up window
// or from inside a cross-site iframe (those requests are not intercepted;
// the resolver rule still keeps them from AWS, and the login times out).
type Browser struct {
	// Options: Logger and InsecureSkipVerify (Chrome then ignores
	// certificate errors, with a warning) apply; HTTPClient and Timeout do
	// not (the browser does its own HTTP).
	Options
	// URL is the IdP-initiated sign-on URL for AWS (the page that ends by
	// posting the SAMLResponse to AWS sign-in).
	URL string
	// Name names the login; it picks the default profile folder
	// USERCACHEDIR/rolehop/browser/NAME (default "default"). Letters,
	// digits, ".", "_" and "-".
	Name string
	// BrowserPath is the browser to run: a path or a program name. Empty
	// means the first of chromium, chromium-browser, google-chrome,
	// google-chrome-stable found on PATH (and the usual application paths
	// on macOS).
	BrowserPath string
	// ProfileDir overrides the profile folder. It is created (0700) when
	// missing.
	ProfileDir string
	// Headless runs the browser without a window and has rolehop type the
	// credentials from Prompter.
	Headless bool
	// Prompter supplies the username, password and one-time codes in
	// headless mode. The interactive mode asks it nothing (it only tells a
	// Prompter that is a Notifier where to sign in).
	Prompter Prompter
	// UsernameField and PasswordField name the login form's inputs (headless
	// mode) when the defaults (found by input type and name) pick the wrong
	// ones.
	UsernameField, PasswordField string
	// TypeOrigins are origins ("https://login.example.com") besides the
	// sign-on URL's where headless mode may type the credentials: for IdPs
	// whose sign-on URL redirects to a login page on another host.
	TypeOrigins []string
	// LoginTimeout bounds the whole login, browser start included (default
	// 5 minutes).
	LoginTimeout time.Duration
	// StallTimeout ends a headless login when the page shows nothing rolehop
	// can fill and does not change for this long (default 30s).
	StallTimeout time.Duration
	// Waiting, when set, is called once with a PNG screenshot of the IdP's
	// page at the moment rolehop starts waiting for the person (interactive)
	// or is about to type (headless).
	Waiting func(screenshot []byte)

	// drive, set by tests, runs the browser headless without typing and
	// calls drive with the tab's context when rolehop starts waiting: the
	// test plays the person at the keyboard.
	drive func(ctx context.Context) error
}

var _ Client = (*Browser)(nil)

// ErrNoBrowser reports that no Chromium or Chrome could be found or
// started.
var ErrNoBrowser = errors.New("no chromium or chrome browser")

const (
	defaultLoginTimeout = 5 * time.Minute
	defaultStallTimeout = 30 * time.Second
	// SessionCookieMaxAge bounds how long the IdP's session cookies saved
	// in the profile are put back into the next browser.
	SessionCookieMaxAge = 12 * time.Hour
)

// browserNames are the programs looked up on PATH, in order.
var browserNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// findBrowser returns the browser executable to run.
func findBrowser(configured string) (string, error) {
	if configured != "" {
		p, err := exec.LookPath(configured)
		if err != nil {
			return "", fmt.Errorf("%w: browser path %q is not an executable program (%v); set it to a Chromium or Chrome binary", ErrNoBrowser, configured, errors.Unwrap(err))
		}
		return p, nil
	}
	for _, name := range browserNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	if runtime.GOOS == "darwin" {
		for _, p := range []string{
			"/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
			"/Applications/Chromium.app/Contents/MacOS/Chromium",
		} {
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p, nil
			}
		}
	}
	return "", fmt.Errorf("%w found on PATH (looked for %s); install one (Debian/Ubuntu: apt-get install chromium) or set the browser path",
		ErrNoBrowser, strings.Join(browserNames, ", "))
}

// originOf returns scheme://host[:port] as a browser's location.origin
// spells it: lower case, default ports left out.
func originOf(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return strings.ToLower(u.Scheme) + "://" + host
}

// awsSignInHost reports whether host is an AWS sign-in host of any
// partition, global or regional.
func awsSignInHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	for _, base := range awsSignInBases {
		if host == base || strings.HasSuffix(host, "."+base) {
			return true
		}
	}
	return false
}

var awsSignInBases = []string{"signin.aws.amazon.com", "signin.amazonaws.cn", "signin.amazonaws-us-gov.com"}

// awsSAMLPath reports whether path is AWS sign-in's SAML endpoint (/saml,
// or /saml/acs/ID for per-provider endpoints).
func awsSAMLPath(path string) bool {
	return path == "/saml" || path == "/saml/" || strings.HasPrefix(path, "/saml/")
}

// interceptPatterns are the Fetch patterns that pause every request to an
// AWS sign-in host. Each paused request is checked exactly in Go: one that
// only looks like it (a wildcard matched elsewhere in the URL) goes on.
func interceptPatterns() []*fetch.RequestPattern {
	var ps []*fetch.RequestPattern
	for _, base := range awsSignInBases {
		ps = append(ps,
			&fetch.RequestPattern{URLPattern: "*://" + base + "/*"},
			&fetch.RequestPattern{URLPattern: "*://*." + base + "/*"})
	}
	return ps
}

// resolverRules make Chrome's resolver fail for every AWS sign-in host.
func resolverRules() string {
	var rules []string
	for _, base := range awsSignInBases {
		rules = append(rules, "MAP "+base+" ~NOTFOUND", "MAP *."+base+" ~NOTFOUND")
	}
	return strings.Join(rules, ", ")
}

// browserEnv are the environment variables the browser gets from rolehop's
// (plus every LC_* and XDG_* one).
var browserEnv = []string{
	"HOME", "USER", "LOGNAME", "PATH", "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR",
	"DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS",
	"http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY",
	"SSL_CERT_FILE", "SSL_CERT_DIR", "FONTCONFIG_PATH", "FONTCONFIG_FILE", "CHROMIUM_FLAGS",
	"SYSTEMROOT", "TEMP", "TMP", "USERPROFILE", "LOCALAPPDATA", "APPDATA", "PROGRAMFILES", "PROGRAMFILES(X86)",
}

func browserEnvironment() []string {
	keep := map[string]bool{}
	for _, k := range browserEnv {
		keep[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if keep[k] || strings.HasPrefix(k, "LC_") || strings.HasPrefix(k, "XDG_") {
			env = append(env, kv)
		}
	}
	return env
}

// Assertion starts the browser, opens the sign-on URL, waits for the
// SAMLResponse on its way to AWS and returns it.
func (b *Browser) Assertion(ctx context.Context) (string, error) {
	start, err := url.Parse(b.URL)
	if err != nil || (start.Scheme != "https" && start.Scheme != "http") || start.Host == "" {
		return "", fmt.Errorf("browser idp: sign-on url %q is not an http(s) url; check the configured IdP url", oneLine(b.URL, 200))
	}
	allowed := map[string]bool{originOf(start): true}
	for _, o := range b.TypeOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return "", fmt.Errorf("browser idp: typing origin %q is not an origin like https://login.example.com", oneLine(o, 200))
		}
		allowed[originOf(u)] = true
	}
	exe, err := findBrowser(b.BrowserPath)
	if err != nil {
		return "", fmt.Errorf("browser idp: %w", err)
	}
	dir, err := b.profileDir()
	if err != nil {
		return "", err
	}
	limit := b.LoginTimeout
	if limit <= 0 {
		limit = defaultLoginTimeout
	}
	stall := b.StallTimeout
	if stall <= 0 {
		stall = defaultStallTimeout
	}
	lctx, cancel := context.WithTimeoutCause(ctx, limit, errLoginTimeout)
	defer cancel()
	log := b.logger()
	unlock, err := lockProfile(lctx, dir, log)
	if err != nil {
		return "", b.ctxErr(ctx, lctx, limit, err)
	}
	defer unlock()

	s := &browserLogin{
		b: b, exe: exe, dir: dir, start: start, allowed: allowed, stall: stall,
		log: log,
		fl:  &flow{name: "browser idp", userField: b.UsernameField, passField: b.PasswordField, prompter: b.Prompter},
		got: make(chan intercepted, 4),
	}
	out, err := s.run(lctx)
	if err != nil {
		if errors.Is(err, ErrNoBrowser) || lctx.Err() == nil {
			return "", err
		}
		return "", b.ctxErr(ctx, lctx, limit, err)
	}
	return out, nil
}

var errLoginTimeout = errors.New("login time limit reached")

// ctxErr explains an error that ended with the login's context.
func (b *Browser) ctxErr(parent, lctx context.Context, limit time.Duration, err error) error {
	if parent.Err() != nil {
		return fmt.Errorf("browser idp: login cancelled, browser closed: %w", parent.Err())
	}
	if errors.Is(context.Cause(lctx), errLoginTimeout) {
		return fmt.Errorf("browser idp: no sign-in within %s, browser closed (raise the login timeout if the IdP needs longer): %w", limit, context.DeadlineExceeded)
	}
	return err
}

// intercepted is one request to AWS sign-in that the browser was stopped
// from sending.
type intercepted struct {
	method, host, path string
	samlResponse       string
	err                error
}

// browserLogin is one run of the browser.
type browserLogin struct {
	b       *Browser
	exe     string
	dir     string
	start   *url.URL
	allowed map[string]bool
	stall   time.Duration
	log     *slog.Logger
	fl      *flow

	got    chan intercepted
	output tailBuffer
	// parent is the login's context: when it is still live and the tab's
	// context ends, the browser went away.
	parent context.Context
}

func (s *browserLogin) allocatorOptions() []chromedp.ExecAllocatorOption {
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(s.exe),
		chromedp.UserDataDir(s.dir),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// A closed network must not stall the start: no background
		// fetches, component updates, sync or QUIC probes.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("disable-features", "Translate,MediaRouter,OptimizationHints"),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("password-store", "basic"),
		chromedp.Flag("use-mock-keychain", true),
		chromedp.Flag("host-resolver-rules", resolverRules()),
		chromedp.WindowSize(1000, 800),
		chromedp.NoInheritEnv,
		chromedp.Env(browserEnvironment()...),
		chromedp.CombinedOutput(&s.output),
	}
	if s.b.InsecureSkipVerify {
		opts = append(opts, chromedp.IgnoreCertErrors)
	}
	if s.b.Headless || s.b.drive != nil {
		opts = append(opts, chromedp.Headless)
	} else {
		opts = append(opts, chromedp.VisibleWindow, chromedp.Flag("start-maximized", false))
	}
	return opts
}

func (s *browserLogin) run(ctx context.Context) (string, error) {
	log := s.log
	s.parent = ctx
	if s.b.InsecureSkipVerify {
		log.WarnContext(ctx, "browser idp: TLS certificate errors are IGNORED in the browser (InsecureSkipVerify); anyone on the network path can read the password and the assertion")
	}
	// Whatever happens, no process using the profile survives the login.
	defer killProfileProcesses(s.dir)
	actx, acancel := chromedp.NewExecAllocator(ctx, s.allocatorOptions()...)
	defer acancel()
	tctx, tcancel := chromedp.NewContext(actx,
		chromedp.WithErrorf(func(format string, args ...any) {
			// chromedp's own complaints; some quote whole protocol messages
			// (which can carry the typed password or the assertion), so
			// only their kind is logged.
			kind, _, _ := strings.Cut(format, ":")
			log.DebugContext(ctx, "browser idp: devtools client", "complaint", oneLine(strings.TrimRight(kind, " %qsvT#"), 60))
		}),
		chromedp.WithLogf(func(string, ...any) {}))
	defer tcancel()

	t0 := time.Now()
	if err := chromedp.Do(tctx); err != nil {
		if errors.Is(err, chromedp.ErrNoDisplay) {
			return "", errors.New("browser idp: no display for the browser window ($DISPLAY and $WAYLAND_DISPLAY are empty); sign in from a desktop session, or use headless mode where the IdP allows it")
		}
		if ctx.Err() != nil {
			return "", err
		}
		return "", fmt.Errorf("browser idp: %w: starting %s: %v (browser output: %s)", ErrNoBrowser, s.exe, err, oneLine(s.output.String(), 300))
	}
	log.DebugContext(ctx, "browser idp: browser started", "browser", s.exe, "profile", s.dir, "headless", s.b.Headless || s.b.drive != nil, "took", time.Since(t0).Round(time.Millisecond))

	if err := s.restoreCookies(tctx); err != nil {
		log.WarnContext(ctx, "browser idp: could not restore the IdP session cookies; the IdP may ask to sign in again", "error", oneLine(err.Error(), 200))
	}
	// Subscribe first, then enable: no paused request is missed.
	paused := chromedp.Events(tctx, fetch.RequestPaused)
	if _, err := chromedp.Call(tctx, fetch.Enable, fetch.EnableParams{Patterns: interceptPatterns()}); err != nil {
		return "", fmt.Errorf("browser idp: enabling request interception: %w", err)
	}
	go s.intercept(tctx, paused)

	nav, err := chromedp.Call(tctx, cdppage.Navigate, cdppage.NavigateParams{URL: s.start.String()})
	if err != nil {
		return "", fmt.Errorf("%w: browser idp: opening %s: %v", ErrIdP, s.start.Host, err)
	}
	if nav.ErrorText != "" {
		hint := ""
		if strings.Contains(nav.ErrorText, "ERR_CERT_") {
			hint = " (add the IdP's CA to the system trust store; InsecureSkipVerify is for test IdPs only)"
		}
		return "", fmt.Errorf("%w: browser idp: opening %s://%s%s: %s%s", ErrIdP, s.start.Scheme, s.start.Host, s.start.Path, oneLine(nav.ErrorText, 120), hint)
	}
	detached, err := chromedp.Detached(tctx)
	if err != nil {
		return "", fmt.Errorf("browser idp: %w", err)
	}

	var sr string
	if s.b.Headless && s.b.drive == nil {
		sr, err = s.fill(tctx, detached)
	} else {
		sr, err = s.wait(tctx, detached)
	}
	if err != nil {
		return "", err
	}
	if err := s.saveCookies(tctx); err != nil {
		log.WarnContext(ctx, "browser idp: could not save the IdP session cookies; the next login may ask to sign in again", "error", oneLine(err.Error(), 200))
	}
	// A graceful close lets Chrome write its cookie store to disk.
	cctx, ccancel := context.WithTimeout(tctx, 5*time.Second)
	defer ccancel()
	if err := chromedp.Cancel(cctx); err != nil {
		log.DebugContext(ctx, "browser idp: closing the browser", "error", oneLine(err.Error(), 200))
	}
	log.DebugContext(ctx, "browser idp: got SAMLResponse", "took", time.Since(t0).Round(time.Millisecond))
	return sr, nil
}

// intercept handles every paused request: AWS sign-in is failed (and a
// SAMLResponse in its body reported), anything else continues.
func (s *browserLogin) intercept(ctx context.Context, paused iter.Seq2[fetch.EventRequestPaused, error]) {
	for ev, err := range paused {
		if err != nil {
			return
		}
		u, perr := url.Parse(ev.Request.URL)
		if perr != nil || !awsSignInHost(u.Hostname()) {
			if _, err := chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID}); err != nil {
				s.log.DebugContext(ctx, "browser idp: continuing a request", "error", oneLine(err.Error(), 200))
			}
			continue
		}
		in := intercepted{method: ev.Request.Method, host: u.Hostname(), path: u.Path}
		if ev.Request.Method == "POST" && awsSAMLPath(u.Path) {
			body, berr := s.postData(ctx, &ev)
			if berr != nil {
				in.err = berr
			} else if vals, qerr := url.ParseQuery(body); qerr == nil {
				in.samlResponse = strings.TrimSpace(vals.Get("SAMLResponse"))
			}
		}
		// Stop it before it leaves the browser, whatever it carried.
		if _, err := chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient}); err != nil {
			s.log.DebugContext(ctx, "browser idp: failing the AWS sign-in request", "error", oneLine(err.Error(), 200))
		}
		s.log.DebugContext(ctx, "browser idp: stopped a request to AWS sign-in", "method", in.method, "host", in.host, "path", in.path, "saml_response", in.samlResponse != "")
		select {
		case s.got <- in:
		default:
		}
	}
}

// postData returns a paused request's body: from the event, or asked for
// when Chrome left a long one out.
func (s *browserLogin) postData(ctx context.Context, ev *fetch.EventRequestPaused) (string, error) {
	var b strings.Builder
	for _, e := range ev.Request.PostDataEntries {
		if e != nil {
			b.Write(e.Bytes)
		}
	}
	if b.Len() > 0 || !ev.Request.HasPostData {
		return b.String(), nil
	}
	if ev.NetworkID == "" {
		return "", errors.New("the browser did not pass on the form's body")
	}
	res, err := chromedp.Call(ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: ev.NetworkID})
	if err != nil {
		return "", fmt.Errorf("reading the form's body: %w", err)
	}
	return string(res.PostData), nil
}

// result turns an intercepted request into the login's outcome: ok false
// means keep waiting (a request to AWS sign-in that carried no assertion).
func (s *browserLogin) result(ctx context.Context, in intercepted) (string, bool, error) {
	switch {
	case in.err != nil:
		return "", true, fmt.Errorf("%w: browser idp: the IdP posted to AWS sign-in (%s%s) but %v", ErrNoAssertion, in.host, in.path, in.err)
	case in.samlResponse != "":
		return in.samlResponse, true, nil
	case in.method == "POST" && awsSAMLPath(in.path):
		return "", true, fmt.Errorf("%w: browser idp: the IdP posted to AWS sign-in (%s%s) without a SAMLResponse", ErrNoAssertion, in.host, in.path)
	}
	s.log.DebugContext(ctx, "browser idp: ignoring a blocked request to AWS sign-in without an assertion", "method", in.method, "host", in.host, "path", in.path)
	return "", false, nil
}

// wait is the interactive mode: the person signs in; rolehop waits for the
// SAMLResponse, the end of the time limit, or the window to close.
func (s *browserLogin) wait(ctx context.Context, detached <-chan struct{}) (string, error) {
	if s.b.Waiting != nil {
		s.screenshotWhenLoaded(ctx)
	}
	if s.b.drive != nil {
		errc := make(chan error, 1)
		go func() { errc <- s.b.drive(ctx) }()
		defer func() {
			if err := <-errc; err != nil && ctx.Err() == nil {
				s.log.DebugContext(ctx, "browser idp: test driver", "error", err)
			}
		}()
	} else {
		msg := fmt.Sprintf("browser idp: sign in to %s in the browser window that opened; rolehop takes it from there (waiting up to %s)",
			s.start.Host, time.Until(deadline(ctx)).Round(time.Second))
		s.log.InfoContext(ctx, msg)
		if n, ok := s.b.Prompter.(Notifier); ok {
			n.Notify(ctx, msg)
		}
	}
	for {
		select {
		case in := <-s.got:
			sr, ok, err := s.result(ctx, in)
			if ok {
				return sr, err
			}
		case <-detached:
			return "", s.closed()
		case <-ctx.Done():
			return "", s.closed()
		}
	}
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// closed explains the end of the tab: the login's own end (cancel, time
// limit), or the window closed by the person or the browser gone.
func (s *browserLogin) closed() error {
	if err := s.parent.Err(); err != nil {
		return err
	}
	return fmt.Errorf("browser idp: the browser window was closed before the sign-in finished: %w", context.Canceled)
}

// screenshotWhenLoaded waits (briefly) for the page to finish loading and
// hands a screenshot to Waiting.
func (s *browserLogin) screenshotWhenLoaded(ctx context.Context) {
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for wctx.Err() == nil {
		st, err := chromedp.Run(wctx, chromedp.Evaluate[string](`document.readyState`))
		if err == nil && st == "complete" {
			break
		}
		select {
		case <-wctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.screenshot(ctx)
}

func (s *browserLogin) screenshot(ctx context.Context) {
	if s.b.Waiting == nil {
		return
	}
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.log.DebugContext(ctx, "browser idp: screenshot", "error", oneLine(err.Error(), 200))
		return
	}
	s.b.Waiting(png)
}

// tailBuffer keeps the last 4 KiB written to it (the browser's output, for
// a start failure's message).
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = append(t.b[:0], t.b[len(t.b)-4096:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}

// profileDir returns the profile folder, created and checked.
func (b *Browser) profileDir() (string, error) {
	if b.ProfileDir != "" {
		dir, err := filepath.Abs(b.ProfileDir)
		if err != nil {
			return "", fmt.Errorf("browser idp: profile folder %q: %w", b.ProfileDir, err)
		}
		if err := ensureOwnedDir(dir, true); err != nil {
			return "", fmt.Errorf("browser idp: %w", err)
		}
		return dir, nil
	}
	name := b.Name
	if name == "" {
		name = "default"
	}
	if !validProfileName(name) {
		return "", fmt.Errorf("browser idp: login name %q cannot name a profile folder: use letters, digits, '.', '_' and '-' (at most 64)", oneLine(name, 80))
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("browser idp: no user cache folder for the browser profile (%v); set the profile folder", err)
	}
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return "", fmt.Errorf("browser idp: creating the user cache folder for the browser profile: %w", err)
	}
	dir := cache
	for _, part := range []string{"rolehop", "browser", name} {
		dir = filepath.Join(dir, part)
		if err := ensureOwnedDir(dir, false); err != nil {
			return "", fmt.Errorf("browser idp: %w", err)
		}
	}
	return dir, nil
}

func validProfileName(s string) bool {
	if len(s) == 0 || len(s) > 64 || s[0] == '.' || s[0] == '-' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}
