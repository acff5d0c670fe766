package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
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
	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/session"
)

// Limits of what the broker reads from a request.
const (
	// maxACSBody bounds the ACS form: a SAMLResponse of saml.DefaultMaxSize
	// base64 characters, URL-encoded (up to 3 bytes each), and a RelayState.
	maxACSBody = 3*saml.DefaultMaxSize + 4096
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

// Session is a signed-in user, kept in the store under a hash of the
// cookie's random ID.
type Session struct {
	User    string    `json:"u"` // as the IdP named the user
	Name    string    `json:"n"` // SessionName(User): RoleSessionName and SourceIdentity
	Groups  []string  `json:"g"`
	CSRF    string    `json:"c"`
	Created time.Time `json:"t"`
	Expires time.Time `json:"e"`
}

func sessionKey(id []byte) string {
	sum := sha256.Sum256(id)
	return "sess:" + hex.EncodeToString(sum[:])
}

// loadSession returns the request's session, nil when there is none (no
// cookie, a forged or expired one); an error only when the store failed.
func (s *Server) loadSession(x *exchange) (*Session, []byte, error) {
	c, err := x.r.Cookie(x.st.sessName)
	if err != nil {
		return nil, nil, nil
	}
	id, ok := x.st.keys.verify("session", c.Value)
	if !ok || len(id) != 32 {
		return nil, nil, nil
	}
	key := sessionKey(id)
	signed, err := s.store.Get(x.r.Context(), key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	// The stored value is signed too, bound to its key: whoever can write
	// the store (a Redis shared too widely) still cannot make or move a
	// session.
	b, ok := x.st.keys.verify("stored session "+key, string(signed))
	if !ok {
		s.log.Warn("broker: a stored session does not carry the broker's signature; ignored", "request_id", x.rid)
		return nil, nil, nil
	}
	var sess Session
	if err := json.Unmarshal(b, &sess); err != nil || !s.now().Before(sess.Expires) {
		return nil, nil, nil
	}
	return &sess, id, nil
}

// sessionOrLogin returns the session, or answers (a login or the store
// page) and returns nil.
func (s *Server) sessionOrLogin(x *exchange, next string) *Session {
	sess, _, err := s.loadSession(x)
	if err != nil {
		s.storeFailed(x, "get", err)
		s.page(x, msgStoreDown, nil)
		return nil
	}
	if sess == nil {
		s.startLogin(x, next)
		return nil
	}
	return sess
}

func (s *Server) setCookie(x *exchange, name, value string, maxAge int, sameSite http.SameSite) {
	http.SetCookie(x.w, &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge,
		Secure: x.st.secure, HttpOnly: true, SameSite: sameSite})
}

// pending is one login this browser started: the AuthnRequest ID the
// response must answer, the RelayState that identifies it and where to go
// afterwards. The list lives in a signed cookie: whoever holds an
// assertion without this browser's cookie cannot use it.
type pending struct {
	ID    string `json:"i"`
	Relay string `json:"r"`
	Next  string `json:"n"`
	Exp   int64  `json:"e"`
}

func (s *Server) readPending(x *exchange) []pending {
	c, err := x.r.Cookie(x.st.authName)
	if err != nil {
		return nil
	}
	b, ok := x.st.keys.verify("login", c.Value)
	if !ok {
		return nil
	}
	var ps, live []pending
	if json.Unmarshal(b, &ps) != nil {
		return nil
	}
	now := s.now().Unix()
	for _, p := range ps {
		if p.Exp > now {
			live = append(live, p)
		}
	}
	return live
}

// writePending sets the login-state cookie. It must reach the ACS on the
// IdP's cross-site POST, so over https it is SameSite=None (and Secure);
// on plain-http loopback (a trial) browsers refuse None without Secure, and
// Lax works as long as the IdP is on the same host.
func (s *Server) writePending(x *exchange, ps []pending) {
	ss := http.SameSiteLaxMode
	if x.st.secure {
		ss = http.SameSiteNoneMode
	}
	if len(ps) == 0 {
		s.setCookie(x, x.st.authName, "", -1, ss)
		return
	}
	b, _ := json.Marshal(ps)
	s.setCookie(x, x.st.authName, x.st.keys.sign("login", b), int(loginWindow/time.Second), ss)
}

// safeNext keeps next only when it is the index or a configured target:
// never an open redirect.
func safeNext(cfg *Config, next string) string {
	if next == cfg.URLPrefix {
		return next
	}
	if rest, ok := strings.CutPrefix(next, cfg.URLPrefix); ok && cfg.TargetByPath(rest) != nil {
		return next
	}
	return cfg.URLPrefix
}

// startLogin sends the browser to the IdP with a new AuthnRequest bound to
// it (see pending).
func (s *Server) startLogin(x *exchange, next string) {
	relay := randomText(16)
	u, id, err := x.st.sp.authnRequest(relay)
	if err != nil {
		s.log.Error("broker: cannot make an AuthnRequest", "err", err, "request_id", x.rid)
		s.page(x, msgInternal, nil)
		return
	}
	ps := append(s.readPending(x), pending{ID: id, Relay: relay, Next: safeNext(x.st.cfg, next), Exp: s.now().Add(loginWindow).Unix()})
	if len(ps) > maxPending {
		ps = ps[len(ps)-maxPending:]
	}
	s.writePending(x, ps)
	x.w.Header().Set("Location", u)
	x.w.WriteHeader(http.StatusFound)
}

// login is GET /saml/login[?next=PATH]: SP-initiated login, or straight on
// when the browser has a session already.
func (s *Server) login(x *exchange) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		s.page(x, msgMethod, nil)
		return
	}
	next := safeNext(x.st.cfg, x.r.URL.Query().Get("next"))
	sess, _, err := s.loadSession(x)
	if err != nil {
		s.storeFailed(x, "get", err)
		s.page(x, msgStoreDown, nil)
		return
	}
	if sess != nil {
		s.redirect(x, http.StatusSeeOther, next)
		return
	}
	s.startLogin(x, next)
}

// replayCache is the saml.ReplayCache over the store for one request.
type replayCache struct {
	ctx    context.Context
	store  store.Store
	now    func() time.Time
	issuer string
}

func (c *replayCache) Consume(id string, until time.Time) error {
	ttl := until.Sub(c.now())
	if ttl < time.Second {
		ttl = time.Second
	}
	sum := sha256.Sum256([]byte(c.issuer + "\x00" + id))
	ok, err := c.store.Claim(c.ctx, "seen:"+hex.EncodeToString(sum[:]), ttl)
	if err != nil {
		return err
	}
	if !ok {
		return saml.ErrReplay
	}
	return nil
}

// refusalReason names a refused response's cause for metrics and the audit.
func refusalReason(err error) string {
	var ve *saml.VerifyError
	if !errors.As(err, &ve) {
		return "other"
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{saml.ErrTooLarge, "too_large"}, {saml.ErrMalformed, "malformed"}, {saml.ErrSignature, "signature"},
		{saml.ErrIssuer, "issuer"}, {saml.ErrAudience, "audience"}, {saml.ErrRecipient, "recipient"},
		{saml.ErrDestination, "destination"}, {saml.ErrRequestID, "request_id"}, {saml.ErrStatus, "status"},
		{saml.ErrExpired, "expired"}, {saml.ErrNotYetValid, "not_yet_valid"}, {saml.ErrReplay, "replay"},
		{saml.ErrReplayCheck, "store"}, {saml.ErrVerifyConfig, "config"},
	} {
		if errors.Is(ve.Kind, k.err) {
			return k.name
		}
	}
	return "other"
}

// acs is POST /saml/acs: the IdP's answer, checked by saml.Verify only.
func (s *Server) acs(x *exchange) {
	if x.r.Method != http.MethodPost {
		s.page(x, msgMethod, nil)
		return
	}
	select {
	case s.acsSlots <- struct{}{}:
		defer func() { <-s.acsSlots }()
	default:
		s.page(x, msgTooMany, nil)
		return
	}
	cfg, st := x.st.cfg, x.st
	refuse := func(reason string, m message, err error) {
		s.m.logins.WithLabelValues("refused").Inc()
		s.m.refusals.WithLabelValues(reason).Inc()
		s.log.Warn("broker: saml response refused", "reason", reason, "err", err, "request_id", x.rid)
		s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "login", slog.String("outcome", "refused"),
			slog.String("reason", reason), slog.String("request_id", x.rid))
		s.page(x, m, nil)
	}
	x.r.Body = http.MaxBytesReader(x.w, x.r.Body, maxACSBody)
	if err := x.r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			refuse("too_large", message{http.StatusRequestEntityTooLarge, "error", msgLoginFailed.heading, msgLoginFailed.message, "", msgLoginFailed.linkLabel}, err)
			return
		}
		refuse("malformed", msgLoginFailed, err)
		return
	}
	raw, relay := x.r.PostForm.Get("SAMLResponse"), x.r.PostForm.Get("RelayState")
	ps := s.readPending(x)
	var entry *pending
	for i := range ps {
		if subtle.ConstantTimeCompare([]byte(ps[i].Relay), []byte(relay)) == 1 {
			found := ps[i] // a copy: ps is edited below
			entry = &found
			break
		}
	}
	trust := saml.Trust{
		Issuer:            st.idp.EntityID,
		Certs:             st.idp.Certs,
		Audiences:         []string{cfg.EntityID},
		Recipients:        []string{st.sp.acs},
		Destination:       st.sp.acs,
		AllowIdPInitiated: cfg.IdP.AllowIdPInitiated,
		Replay:            &replayCache{ctx: x.r.Context(), store: s.store, now: s.now, issuer: st.idp.EntityID},
	}
	if entry != nil {
		trust.RequestIDs = []string{entry.ID}
	}
	resp, err := saml.Verify(raw, trust, s.now())
	if err != nil {
		reason := refusalReason(err)
		switch reason {
		case "store":
			s.m.storeErrs.WithLabelValues("claim").Inc()
			refuse(reason, msgStoreDown, err)
		case "request_id", "replay", "expired":
			refuse(reason, msgLoginExpired, err)
		default:
			refuse(reason, msgLoginFailed, err)
		}
		return
	}

	user := resp.NameID
	if cfg.IdP.UserAttribute != "" {
		user = ""
		if v := resp.Attributes[cfg.IdP.UserAttribute]; len(v) > 0 {
			user = v[0]
		}
	} else if strings.HasSuffix(resp.NameIDFormat, ":transient") {
		user = ""
	}
	user = strings.TrimSpace(user)
	if user == "" || len(user) > 256 || strings.ContainsFunc(user, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		refuse("no_user", msgNoUser, errors.New("the assertion names no usable user (a transient or empty NameID, or no user attribute)"))
		return
	}
	var groups []string
	for _, g := range resp.Attributes[cfg.IdP.GroupsAttribute] {
		if g != "" && len(g) <= 256 && !slices.Contains(groups, g) && len(groups) < maxGroups {
			groups = append(groups, g)
		}
	}
	if _, oldID, err := s.loadSession(x); err == nil && oldID != nil {
		// A new login replaces the browser's old session everywhere, not
		// only in the cookie.
		_ = s.store.Delete(x.r.Context(), sessionKey(oldID))
	}
	now := s.now()
	sess := &Session{User: user, Name: SessionName(user), Groups: groups, CSRF: randomText(24),
		Created: now, Expires: now.Add(cfg.SessionLifetime)}
	id := make([]byte, 32)
	_, _ = rand.Read(id)
	b, _ := json.Marshal(sess)
	key := sessionKey(id)
	if err := s.store.Put(x.r.Context(), key, []byte(st.keys.sign("stored session "+key, b)), cfg.SessionLifetime); err != nil {
		s.m.storeErrs.WithLabelValues("put").Inc()
		refuse("store", msgStoreDown, err)
		return
	}
	var next string
	if entry != nil {
		next = safeNext(cfg, entry.Next)
		ps = slices.DeleteFunc(ps, func(p pending) bool { return p.Relay == entry.Relay })
		s.writePending(x, ps)
	} else {
		next = safeNext(cfg, relay) // IdP-initiated: RelayState is the IdP's, trusted only as a known path
	}
	s.setCookie(x, st.sessName, st.keys.sign("session", id), 0, http.SameSiteLaxMode)
	s.m.logins.WithLabelValues("ok").Inc()
	s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "login", slog.String("outcome", "ok"),
		slog.String("user", user), slog.Any("groups", groups), slog.String("source_identity", sess.Name),
		slog.Bool("idp_initiated", entry == nil), slog.String("request_id", x.rid))
	s.redirect(x, http.StatusSeeOther, next)
}

// sameOriginNavigation reports whether the browser says the request comes
// from the broker's own pages or from the user (a bookmark, the address
// bar): Fetch Metadata, sent by every current browser.
func sameOriginNavigation(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	}
	return false
}

// checkForm verifies a POST of the broker's own forms: sent from the
// broker's origin, with the session's CSRF token.
func (s *Server) checkForm(x *exchange, sess *Session) bool {
	if o := x.r.Header.Get("Origin"); o != "" && o != x.st.origin {
		return false
	}
	if sfs := x.r.Header.Get("Sec-Fetch-Site"); sfs != "" && sfs != "same-origin" {
		return false
	}
	x.r.Body = http.MaxBytesReader(x.w, x.r.Body, maxFormBody)
	if err := x.r.ParseForm(); err != nil {
		return false
	}
	tok := x.r.PostForm.Get("csrf")
	return sess != nil && tok != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) == 1
}

// logout is POST /logout.
func (s *Server) logout(x *exchange) {
	if x.r.Method != http.MethodPost {
		s.page(x, msgMethod, nil)
		return
	}
	sess, id, err := s.loadSession(x)
	if err != nil {
		s.storeFailed(x, "get", err)
		s.page(x, msgStoreDown, nil)
		return
	}
	if sess != nil {
		if !s.checkForm(x, sess) {
			s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "logout", slog.String("outcome", "csrf_refused"),
				slog.String("user", sess.User), slog.String("request_id", x.rid))
			s.page(x, msgBadRequest, sess)
			return
		}
		if err := s.store.Delete(x.r.Context(), sessionKey(id)); err != nil {
			s.storeFailed(x, "delete", err)
			s.page(x, msgStoreDown, sess)
			return
		}
		s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "logout", slog.String("outcome", "ok"),
			slog.String("user", sess.User), slog.String("request_id", x.rid))
	}
	s.setCookie(x, x.st.sessName, "", -1, http.SameSiteLaxMode)
	s.page(x, msgSignedOut, nil)
}

// index is the list of consoles the user may open.
func (s *Server) index(x *exchange) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodHead {
		s.page(x, msgMethod, nil)
		return
	}
	sess := s.sessionOrLogin(x, x.st.cfg.URLPrefix)
	if sess == nil {
		return
	}
	cfg := x.st.cfg
	d := &pageData{Title: cfg.Title, PageTitle: "Your AWS consoles", User: sess.User, CSRF: sess.CSRF, RequestID: x.rid}
	for _, t := range cfg.Targets {
		if !t.Allows(sess.Groups) {
			continue
		}
		alias := t.AccountAlias
		if alias == "" {
			alias = t.Role.AccountID
		}
		tv := targetView{Path: cfg.URLPath(t), Alias: alias, Account: t.Role.AccountID, Role: t.Role.PathName(),
			Description: t.Description, Region: t.Region}
		if tp, ok := x.st.plan.Targets[t.Path]; ok {
			tv.Duration = humanDuration(tp.Duration)
		}
		d.Targets = append(d.Targets, tv)
	}
	render(x.w, "index", http.StatusOK, d)
}

func humanDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	default:
		return fmt.Sprintf("%d min", d/time.Minute)
	}
}

// decision writes the audit line of a console request.
func (s *Server) decision(x *exchange, sess *Session, target, role, outcome string, extra ...slog.Attr) {
	label := target
	if x.st.cfg.TargetByPath(target) == nil {
		label = "" // bounded metric labels: only configured targets
	}
	s.m.decisions.WithLabelValues(label, outcome).Inc()
	attrs := []slog.Attr{slog.String("user", sess.User), slog.Any("groups", sess.Groups),
		slog.String("target", clip(target)), slog.String("role", role), slog.String("outcome", outcome),
		slog.String("source_identity", sess.Name), slog.String("request_id", x.rid)}
	s.audit.LogAttrs(x.r.Context(), slog.LevelInfo, "decision", append(attrs, extra...)...)
}

// target is GET or POST on a console target's path.
func (s *Server) target(x *exchange, path string) {
	if x.r.Method != http.MethodGet && x.r.Method != http.MethodPost {
		s.page(x, msgMethod, nil)
		return
	}
	sess := s.sessionOrLogin(x, x.r.URL.Path)
	if sess == nil {
		return
	}
	cfg := x.st.cfg
	t := cfg.TargetByPath(path)
	if t == nil {
		s.decision(x, sess, path, "", "unknown_target")
		s.page(x, msgNotFound, sess)
		return
	}
	if !t.Allows(sess.Groups) {
		s.decision(x, sess, t.Path, t.RoleARN, "forbidden")
		s.page(x, msgForbidden, sess)
		return
	}
	if x.r.Method == http.MethodGet && !sameOriginNavigation(x.r) {
		// A link from another site (or a browser that sends no Fetch
		// Metadata): ask before opening a console in the user's name.
		alias := t.AccountAlias
		if alias == "" {
			alias = t.Role.AccountID
		}
		render(x.w, "confirm", http.StatusOK, &pageData{Title: cfg.Title, PageTitle: "Open the AWS console?",
			User: sess.User, CSRF: sess.CSRF, RequestID: x.rid, Heading: alias + " · " + t.Role.PathName(), Action: cfg.URLPath(t)})
		return
	}
	if x.r.Method == http.MethodPost && !s.checkForm(x, sess) {
		s.decision(x, sess, t.Path, t.RoleARN, "csrf_refused")
		s.page(x, msgBadRequest, sess)
		return
	}
	u, tp, stage, err := s.signin(x.r.Context(), x.st, sess, t)
	if err != nil {
		outcome := stage + "_error"
		s.log.Error("broker: console sign-in failed", "stage", stage, "target", t.Path, "role", t.RoleARN,
			"user", sess.User, "err", err, "request_id", x.rid)
		s.decision(x, sess, t.Path, t.RoleARN, outcome)
		s.page(x, msgAWSFailed, sess)
		return
	}
	s.decision(x, sess, t.Path, t.RoleARN, "allowed", slog.String("session_duration", tp.Duration.String()),
		slog.String("console_kind", tp.Console.String()))
	h := x.w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("Location", u)
	x.w.WriteHeader(http.StatusFound) // AWS's sign-in URL is a 15-minute bearer secret: 302, never a cacheable 301
}

// signin assumes t's role for the user (one STS call, nothing cached) and
// returns the console sign-in URL. stage says what failed: "sts" or
// "federation".
func (s *Server) signin(ctx context.Context, st *state, sess *Session, t *Target) (string, TargetPlan, string, error) {
	cfg := st.cfg
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tp := st.plan.Targets[t.Path]
	parent, err := s.deps.Base.Credentials.Retrieve(ctx)
	if err != nil {
		return "", tp, "sts", fmt.Errorf("the broker's credentials: %w", err)
	}
	if k := KindOf(parent); k != st.plan.Kind {
		// The credentials changed kind since the plan was made (a profile
		// edited under a running broker): follow what they are now.
		if !s.warned.Swap(true) {
			s.log.Warn("broker: the broker's credentials changed kind; durations follow the new kind until the next reload",
				"planned", st.plan.Kind.String(), "now", k.String())
		}
		tp = targetPlan(k, min(tp.Duration, MaxFor(k)))
	}
	params := session.AssumeRoleParams{RoleSessionName: sess.Name, Duration: tp.Duration}
	if cfg.SourceIdentity {
		params.SourceIdentity = sess.Name
	}
	tags := cfg.SessionTags
	if t.SessionTags != nil {
		tags = *t.SessionTags
	}
	if tags {
		params.Tags = map[string]string{"user": tagValue(sess.User), "groups": groupsTag(t.matched(sess.Groups))}
	}
	start := time.Now()
	creds, err := session.Assume(ctx, s.deps.Base, t.RoleARN, params, func(o *session.Options) {
		o.Logger, o.Now = s.log, s.now
	})
	s.m.sts.WithLabelValues(outcome(err)).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", tp, "sts", err
	}
	start = time.Now()
	u, err := console.SigninURL(ctx, creds, console.Options{
		Destination:     t.Destination,
		Region:          t.Region,
		Issuer:          cfg.ExternalURL.String() + cfg.URLPrefix,
		SessionDuration: tp.SessionDuration,
		Kind:            tp.Console,
		Partition:       t.Role.Partition,
		FederationURL:   cfg.FederationURL,
		HTTPClient:      s.deps.HTTPClient,
		Logger:          s.log,
	})
	s.m.federation.WithLabelValues(outcome(err)).Observe(time.Since(start).Seconds())
	if err != nil {
		return "", tp, "federation", err
	}
	return u, tp, "", nil
}

func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}
