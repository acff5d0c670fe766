package broker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/saml/samlverify"
)

// Limits of what the broker reads from a request.
const (
	// maxACSBody bounds the ACS form: a SAMLResponse of samlverify.DefaultMaxSize
	// base64 characters, URL-encoded (up to 3 bytes each), and a RelayState.
	maxACSBody = 3*samlverify.DefaultMaxSize + 4096
	// maxFormBody bounds the broker's own forms (a CSRF token).
	maxFormBody = 8 << 10
	// loginWindow is how long a started login may take at the IdP.
	loginWindow = 10 * time.Minute
	// maxPending is how many logins a browser may have started at once.
	maxPending = 3
	// maxGroups bounds the groups kept for a user.
	maxGroups = 200
)

// Deps are what a Server takes from its surroundings. Zero fields take
// working defaults.
type Deps struct {
	// Base is the broker's own AWS configuration: its credentials assume
	// the targets' roles (through session.Assume, one call per console
	// opened, nothing cached), its endpoint, region and HTTP client reach
	// STS. Required.
	Base aws.Config
	// Store keeps sessions and the replay cache; nil means a new
	// store.Memory (one process).
	Store store.Store
	// Logger receives operational messages; nil discards them.
	Logger *slog.Logger
	// Audit receives one line per decision (login, console request,
	// logout); nil discards them. Never a credential, token or URL.
	Audit *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HTTPClient reaches the federation endpoint and the IdP metadata URL;
	// nil means a client with a 15-second timeout.
	HTTPClient *http.Client
	// Registry receives the broker's metrics; nil means a new registry
	// (see Server.MetricsHandler).
	Registry *prometheus.Registry
}

// Server is the broker: an http.Handler serving the SAML service provider
// (/saml/metadata, /saml/login, /saml/acs), the index of the user's
// consoles, the console targets, /logout, /healthz, /readyz and, unless
// metrics_listen moves it, /metrics. It is safe for concurrent use;
// Reload swaps its configuration atomically.
type Server struct {
	deps     Deps
	log      *slog.Logger
	audit    *slog.Logger
	now      func() time.Time
	store    store.Store
	reg      *prometheus.Registry
	m        *metrics
	st       atomic.Pointer[state]
	ready    atomic.Bool
	acsSlots chan struct{}
	warned   atomic.Bool
	metricsH http.Handler
}

// state is everything derived from one configuration.
type state struct {
	cfg      *Config
	plan     *Plan
	idp      *IdP
	sp       *sp
	keys     *keyring
	randKeys bool // keys are random (no session_key_file)
	secure   bool // https: Secure cookies with __Host- names, HSTS
	origin   string
	csp      string
	sessName string // session cookie name
	authName string // login-state cookie name
}

// New builds a Server for cfg: it retrieves the broker's credentials to
// plan the targets' durations (Config.Plan), loads the IdP metadata and
// the session keys. Any failure is returned; nothing is served.
func New(ctx context.Context, cfg *Config, deps Deps) (*Server, error) {
	if deps.Base.Credentials == nil {
		return nil, errors.New("broker: no AWS credentials for the broker (Deps.Base.Credentials is nil)")
	}
	s := &Server{deps: deps, log: deps.Logger, audit: deps.Audit, now: deps.Now, store: deps.Store, reg: deps.Registry}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.audit == nil {
		s.audit = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.store == nil {
		s.store = store.NewMemory(s.now)
	}
	if s.deps.HTTPClient == nil {
		s.deps.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.m = newMetrics(s.reg)
	s.metricsH = promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{})
	s.acsSlots = make(chan struct{}, 4*runtime.GOMAXPROCS(0))
	st, err := s.prepare(ctx, cfg, nil)
	if err != nil {
		return nil, err
	}
	s.st.Store(st)
	s.ready.Store(true)
	return s, nil
}

// prepare derives a state from cfg (old is the state it replaces, if any).
func (s *Server) prepare(ctx context.Context, cfg *Config, old *state) (*state, error) {
	creds, err := s.deps.Base.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("broker credentials: %w", err)
	}
	plan, err := cfg.Plan(KindOf(creds), creds.Source)
	if err != nil {
		return nil, err
	}
	if err := checkPartition(cfg, s.deps.Base.Region); err != nil {
		return nil, err
	}
	idp, err := LoadIdP(ctx, cfg, s.deps.HTTPClient)
	if err != nil {
		return nil, err
	}
	sp, err := newSP(cfg, idp)
	if err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, plan: plan, idp: idp, sp: sp, secure: cfg.ExternalURL.Scheme == "https"}
	switch {
	case cfg.SessionKeyFile != "":
		b, err := readTrusted(cfg.SessionKeyFile, true, 64<<10)
		if err != nil {
			return nil, fmt.Errorf("session_key_file: %w", err)
		}
		if st.keys, err = parseKeys(b); err != nil {
			return nil, fmt.Errorf("session_key_file %s: %w", cfg.SessionKeyFile, err)
		}
	case old != nil && old.randKeys:
		st.keys, st.randKeys = old.keys, true // a reload keeps everyone signed in
	default:
		st.keys, st.randKeys = randomKeys(), true
	}
	st.origin = cfg.ExternalURL.Scheme + "://" + cfg.ExternalURL.Host
	st.sessName, st.authName = "rolehop_session", "rolehop_login"
	if st.secure {
		// __Host-: Secure, Path=/, no Domain; a sibling subdomain cannot
		// plant or overwrite it.
		st.sessName, st.authName = "__Host-"+st.sessName, "__Host-"+st.authName
	}
	st.csp = contentSecurityPolicy(cfg)
	for _, n := range plan.Notes {
		s.log.Info("broker: "+n, "credentials", plan.Kind.String(), "source", plan.Source)
	}
	return st, nil
}

// checkPartition: one broker's credentials belong to one partition, so
// every target must be in it.
func checkPartition(cfg *Config, region string) error {
	want := awsarn.PartitionOf(region).ID
	for _, t := range cfg.Targets {
		if t.Role.Partition != want {
			return &ConfigError{File: cfg.File, Line: t.Line, Key: "targets." + t.Path + ".role",
				Msg: fmt.Sprintf("the role is in partition %s but the broker's credentials are used in %s (region %q); "+
					"run one broker per partition, with credentials.region set in it", t.Role.Partition, want, region)}
		}
	}
	return nil
}

// contentSecurityPolicy allows the broker's own stylesheet and forms, and
// the redirects a console form leads to (federation endpoint, console).
func contentSecurityPolicy(cfg *Config) string {
	actions := []string{"'self'"}
	add := func(s string) {
		if !slices.Contains(actions, s) {
			actions = append(actions, s)
		}
	}
	for _, t := range cfg.Targets {
		if p, ok := awsarn.LookupPartition(t.Role.Partition); ok {
			add("https://" + p.SigninHost)
			add("https://" + p.ConsoleHost)
			add("https://*." + p.ConsoleHost)
		}
	}
	if u, err := url.Parse(cfg.FederationURL); err == nil && cfg.FederationURL != "" {
		add(u.Scheme + "://" + u.Host)
	}
	return "default-src 'none'; style-src 'self'; img-src 'self'; form-action " + strings.Join(actions, " ") +
		"; frame-ancestors 'none'; base-uri 'none'"
}

// Reload replaces the configuration with cfg if it is valid for the
// broker's credentials and its IdP metadata loads; otherwise the running
// configuration stays and the error says why. Listen addresses, TLS files
// and the store are read at start only; a change to them is logged as
// needing a restart.
func (s *Server) Reload(ctx context.Context, cfg *Config) error {
	old := s.st.Load()
	st, err := s.prepare(ctx, cfg, old)
	if err != nil {
		s.m.reloads.WithLabelValues("error").Inc()
		return err
	}
	o := old.cfg
	if o.Listen != cfg.Listen || o.Store != cfg.Store || o.TLSCertFile != cfg.TLSCertFile ||
		o.TLSKeyFile != cfg.TLSKeyFile || o.MetricsListen != cfg.MetricsListen {
		s.log.Warn("broker: listen, metrics_listen, tls_* and store changes take effect at the next restart")
	}
	s.st.Store(st)
	s.m.reloads.WithLabelValues("ok").Inc()
	s.log.Info("broker: configuration reloaded", "targets", len(cfg.Targets))
	return nil
}

// ReloadFile reads the configuration file at path and reloads it (see
// Reload); a file that does not parse is refused the same way.
func (s *Server) ReloadFile(ctx context.Context, path string) error {
	cfg, err := LoadConfig(path)
	if err != nil {
		s.m.reloads.WithLabelValues("error").Inc()
		return err
	}
	return s.Reload(ctx, cfg)
}

// Config returns the configuration in use.
func (s *Server) Config() *Config { return s.st.Load().cfg }

// Plan returns the duration plan in use.
func (s *Server) Plan() *Plan { return s.st.Load().plan }

// SPMetadata returns the broker's SAML SP metadata (what /saml/metadata
// serves): register it at the IdP.
func (s *Server) SPMetadata() []byte { return slices.Clone(s.st.Load().sp.metadata) }

// SetReady sets what /readyz answers: false while draining for a
// shutdown, so that load balancers stop sending new users.
func (s *Server) SetReady(ready bool) { s.ready.Store(ready) }

// MetricsHandler serves the broker's metrics in the Prometheus format.
func (s *Server) MetricsHandler() http.Handler { return s.metricsH }

// Close closes the store.
func (s *Server) Close() error { return s.store.Close() }

// exchange is one request being served.
type exchange struct {
	w   http.ResponseWriter
	r   *http.Request
	st  *state
	rid string
}

func requestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomText(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b64.EncodeToString(b)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x := &exchange{w: w, r: r, st: s.st.Load(), rid: requestID()}
	h := w.Header()
	h.Set("X-Request-Id", x.rid)
	h.Set("Content-Security-Policy", x.st.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-store")
	if x.st.secure {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
	cfg := x.st.cfg
	p := r.URL.Path
	switch {
	case p == "/healthz":
		s.healthz(x)
	case p == "/readyz":
		if s.ready.Load() {
			plain(w, http.StatusOK, "ready")
		} else {
			plain(w, http.StatusServiceUnavailable, "draining")
		}
	case p == "/metrics" && cfg.MetricsListen == "" && fromLoopback(r):
		// Without metrics_listen, only a scraper on the same host sees
		// the metrics (they name every target): set metrics_listen to
		// serve them to a Prometheus elsewhere.
		s.metricsH.ServeHTTP(w, r)
	case p == "/metrics":
		s.page(x, msgNotFound, nil)
	case p == "/static/broker.css":
		h.Set("Content-Type", "text/css; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(stylesheet)
	case p == "/favicon.ico":
		h.Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent)
	case p == "/robots.txt":
		h.Set("Cache-Control", "public, max-age=86400")
		plain(w, http.StatusOK, "User-agent: *\nDisallow: /")
	case p == "/saml/metadata":
		h.Set("Content-Type", "application/samlmetadata+xml")
		h.Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(x.st.sp.metadata)
	case p == "/saml/login":
		s.login(x)
	case p == "/saml/acs":
		s.acs(x)
	case p == "/logout":
		s.logout(x)
	case p == cfg.URLPrefix:
		s.index(x)
	case p == "/" && cfg.URLPrefix != "/":
		s.redirect(x, http.StatusFound, cfg.URLPrefix)
	case strings.HasPrefix(p, cfg.URLPrefix):
		s.target(x, strings.TrimPrefix(p, cfg.URLPrefix))
	default:
		s.page(x, msgNotFound, nil)
	}
}

func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func plain(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(text + "\n"))
}

// page renders a message page; sess (may be nil) shows who is signed in.
func (s *Server) page(x *exchange, m message, sess *Session) {
	d := &pageData{Title: x.st.cfg.Title, PageTitle: m.heading, RequestID: x.rid, Kind: m.kind,
		Heading: m.heading, Message: m.message, Link: m.link, LinkLabel: m.linkLabel}
	if d.LinkLabel != "" && d.Link == "" {
		d.Link = x.st.cfg.URLPrefix
		if strings.HasPrefix(m.linkLabel, "Sign in") {
			d.Link = "/saml/login"
		}
	}
	if sess != nil {
		d.User, d.CSRF = sess.User, sess.CSRF
	}
	render(x.w, "message", m.status, d)
}

// redirect answers status with a Location on the broker's own external
// URL: path is always one of the broker's paths.
func (s *Server) redirect(x *exchange, status int, path string) {
	x.w.Header().Set("Location", x.st.cfg.ExternalURL.String()+path)
	x.w.WriteHeader(status)
}

func (s *Server) healthz(x *exchange) {
	ctx, cancel := context.WithTimeout(x.r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.storeFailed(x, "ping", err)
		plain(x.w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	plain(x.w, http.StatusOK, "ok")
}

func (s *Server) storeFailed(x *exchange, op string, err error) {
	s.m.storeErrs.WithLabelValues(op).Inc()
	s.log.Error("broker: session store failed", "op", op, "err", err, "request_id", x.rid)
}
