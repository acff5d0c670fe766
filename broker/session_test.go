package broker_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func cookieNamed(r *http.Response, suffix string) *http.Cookie {
	for _, c := range r.Cookies() {
		if strings.HasSuffix(c.Name, suffix) {
			return c
		}
	}
	return nil
}

// TestCookiesAndHeaders: over https the cookies are __Host- prefixed,
// Secure and HttpOnly, the session SameSite=Lax and the login state
// SameSite=None (it must ride the IdP's cross-site POST); on plain-http
// loopback Secure is dropped and both are Lax. Every page carries the
// security headers.
func TestCookiesAndHeaders(t *testing.T) {
	for _, tls := range []bool{true, false} {
		h := newHarness(t, harnessOptions{tls: tls})
		b := h.browser()
		start := b.nav(h.url + "/saml/login")
		login := cookieNamed(start.Response, "rolehop_login")
		req := decodeAuthnRequest(t, start.Header.Get("Location"))
		acs := h.postACS(b, b64(craft(t, h.idp, h.shape(req, "alice", "admins"))), req.Relay)
		sess := cookieNamed(acs.Response, "rolehop_session")
		if login == nil || sess == nil {
			t.Fatalf("tls=%v: cookies %v / %v", tls, start.Cookies(), acs.Cookies())
		}
		wantPrefix, wantLoginSS := "", http.SameSiteLaxMode
		if tls {
			wantPrefix, wantLoginSS = "__Host-", http.SameSiteNoneMode
		}
		for _, c := range []struct {
			c  *http.Cookie
			ss http.SameSite
		}{{login, wantLoginSS}, {sess, http.SameSiteLaxMode}} {
			if !strings.HasPrefix(c.c.Name, wantPrefix) || c.c.Secure != tls || !c.c.HttpOnly || c.c.SameSite != c.ss || c.c.Path != "/" || c.c.Domain != "" {
				t.Errorf("tls=%v: cookie %s: %+v", tls, c.c.Name, c.c)
			}
		}
		if sess.MaxAge != 0 || !sess.Expires.IsZero() {
			t.Errorf("tls=%v: the session cookie outlives the browser session: %+v", tls, sess)
		}
		if c := cookieNamed(acs.Response, "rolehop_login"); c == nil || c.MaxAge >= 0 {
			t.Errorf("tls=%v: the used login state is not cleared: %+v", tls, c)
		}
		idx := b.nav(h.url + "/")
		hd := idx.Header
		for k, want := range map[string]string{
			"X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
			"Cache-Control": "no-store", "Cross-Origin-Opener-Policy": "same-origin",
		} {
			if hd.Get(k) != want {
				t.Errorf("tls=%v: %s: %q, want %q", tls, k, hd.Get(k), want)
			}
		}
		csp := hd.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self' https://signin.aws.amazon.com"} {
			if !strings.Contains(csp, want) {
				t.Errorf("tls=%v: CSP %q lacks %q", tls, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(idx.body, "style=") || strings.Contains(idx.body, "<script") {
			t.Errorf("tls=%v: inline styles or scripts", tls)
		}
		if got := hd.Get("Strict-Transport-Security"); (got != "") != tls {
			t.Errorf("tls=%v: HSTS %q", tls, got)
		}
		if len(hd.Get("X-Request-Id")) != 16 || !strings.Contains(idx.body, hd.Get("X-Request-Id")) {
			t.Errorf("tls=%v: request ID %q not on the page", tls, hd.Get("X-Request-Id"))
		}
	}
}

// TestCSRF: a console opened from another site asks first (no STS call);
// every state-changing POST needs the session's token and the broker's
// origin.
func TestCSRF(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	h.login(b, "alice", "admins")
	idx := b.nav(h.url + "/")
	_, rest, _ := strings.Cut(idx.body, `name="csrf" value="`)
	token, _, _ := strings.Cut(rest, `"`)
	if len(token) < 30 {
		t.Fatalf("no CSRF token on the index")
	}

	for _, site := range []string{"cross-site", "same-site", ""} {
		hdr := map[string]string{}
		if site != "" {
			hdr["Sec-Fetch-Site"] = site
		}
		r := b.do(http.MethodGet, h.url+"/prod-admin", nil, hdr)
		if r.StatusCode != http.StatusOK || !strings.Contains(r.body, "Open the AWS console?") || !strings.Contains(r.body, `method="post" action="/prod-admin"`) {
			t.Errorf("GET from %q: %d, want the confirmation page", site, r.StatusCode)
		}
	}
	if n := len(h.bridge.Forms()); n != 0 {
		t.Fatalf("%d AssumeRole calls before any confirmation", n)
	}
	for name, c := range map[string]struct {
		token string
		hdr   map[string]string
	}{
		"no token":        {"", map[string]string{"Sec-Fetch-Site": "same-origin"}},
		"wrong token":     {token + "x", map[string]string{"Sec-Fetch-Site": "same-origin"}},
		"foreign origin":  {token, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "same-origin"}},
		"cross-site form": {token, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		r := b.do(http.MethodPost, h.url+"/prod-admin", map[string][]string{"csrf": {c.token}}, c.hdr)
		if r.StatusCode != http.StatusForbidden {
			t.Errorf("POST with %s: %d, want 403", name, r.StatusCode)
		}
		if r := b.do(http.MethodPost, h.url+"/logout", map[string][]string{"csrf": {c.token}}, c.hdr); r.StatusCode != http.StatusForbidden {
			t.Errorf("logout with %s: %d, want 403", name, r.StatusCode)
		}
	}
	if n := len(h.bridge.Forms()); n != 0 {
		t.Fatalf("%d AssumeRole calls from refused forms", n)
	}
	r := b.do(http.MethodPost, h.url+"/prod-admin", map[string][]string{"csrf": {token}}, map[string]string{"Origin": h.url, "Sec-Fetch-Site": "same-origin"})
	if r.StatusCode != http.StatusFound {
		t.Fatalf("confirmed POST: %d", r.StatusCode)
	}
	if h.signedInAs(b) != "alice" {
		t.Fatal("a refused logout signed alice out")
	}
	stale := b.c.Jar.Cookies(mustURL(t, h.url+"/"))
	if r := b.do(http.MethodPost, h.url+"/logout", map[string][]string{"csrf": {token}}, map[string]string{"Origin": h.url}); r.StatusCode != 200 || !strings.Contains(r.body, "You are signed out") {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	if who := h.signedInAs(b); who != "" {
		t.Errorf("after logout still signed in as %q", who)
	}
	replay := h.browser()
	replay.c.Jar.SetCookies(mustURL(t, h.url+"/"), stale)
	if who := h.signedInAs(replay); who != "" {
		t.Errorf("the cookie of a logged-out session still works (%q)", who)
	}
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// TestSessionLifetime: a session ends after session_lifetime; a forged or
// altered cookie is no session; the login state expires after 10 minutes.
func TestSessionLifetime(t *testing.T) {
	clock := &fakeClock{t: time.Now()}
	h := newHarness(t, harnessOptions{now: clock.Now, extraYAML: "session_lifetime: 30m\n"})
	b := h.browser()
	h.login(b, "alice", "admins")
	if h.signedInAs(b) != "alice" {
		t.Fatal("not signed in")
	}
	cookies := b.c.Jar.Cookies(mustURL(t, h.url+"/"))
	for _, c := range cookies {
		if strings.HasSuffix(c.Name, "rolehop_session") {
			forged := h.browser()
			c2 := *c
			c2.Value = strings.ToUpper(c.Value[:10]) + c.Value[10:]
			forged.c.Jar.SetCookies(mustURL(t, h.url+"/"), []*http.Cookie{&c2})
			if who := h.signedInAs(forged); who != "" {
				t.Errorf("an altered cookie signs in as %q", who)
			}
		}
	}
	clock.Add(31 * time.Minute)
	if who := h.signedInAs(b); who != "" {
		t.Errorf("after the session lifetime still signed in as %q", who)
	}

	late := h.browser()
	req := h.startLogin(late, "/")
	clock.Add(11 * time.Minute)
	s := h.shape(req, "alice", "admins")
	s.IssueInstant = clock.Now().UTC().Truncate(time.Second)
	if r := h.postACS(late, b64(craft(t, h.idp, s)), req.Relay); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "Your sign-in expired") {
		t.Errorf("an answer after the 10-minute login window: %d", r.StatusCode)
	}
}

// TestRelogReplacesSession: a new login in a browser (here an
// IdP-initiated one, as on a shared computer) ends the session it
// replaces, so a copy of the old cookie is worth nothing.
func TestRelogReplacesSession(t *testing.T) {
	h := newHarness(t, harnessOptions{configure: func(y *string) {
		*y = strings.Replace(*y, "idp:\n", "idp:\n  allow_idp_initiated: true\n", 1)
	}})
	b := h.browser()
	h.login(b, "alice", "admins")
	old := b.c.Jar.Cookies(mustURL(t, h.url+"/"))
	if r := h.postACS(b, b64(craft(t, h.idp, h.shape(authnRequest{}, "bob", "dev"))), ""); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("IdP-initiated login: %d", r.StatusCode)
	}
	if h.signedInAs(b) != "bob" {
		t.Fatal("the new login does not work")
	}
	copyOfOld := h.browser()
	copyOfOld.c.Jar.SetCookies(mustURL(t, h.url+"/"), old)
	if who := h.signedInAs(copyOfOld); who != "" {
		t.Errorf("the replaced session still works (%q)", who)
	}
}

// TestMetricsOnlyFromLoopback: without metrics_listen, /metrics (which
// names every target) answers only a scraper on the broker's own host.
func TestMetricsOnlyFromLoopback(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for addr, want := range map[string]bool{"127.0.0.1:5555": true, "[::1]:5555": true, "203.0.113.7:5555": false, "10.0.0.3:5555": false} {
		req := httptest.NewRequest(http.MethodGet, h.url+"/metrics", nil)
		req.RemoteAddr = addr
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, req)
		got := strings.Contains(rec.Body.String(), "rolehop_broker_logins_total")
		if got != want || (!want && rec.Code != http.StatusNotFound) {
			t.Errorf("/metrics from %s: served=%v, want %v (status %d)", addr, got, want, rec.Code)
		}
	}
}

// TestLoginsInSeveralTabs: a browser may have up to three logins under way
// (tabs); each answer is taken once, the others stay pending, and a fourth
// start drops the oldest.
func TestLoginsInSeveralTabs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	var reqs []authnRequest
	for range 4 {
		reqs = append(reqs, h.startLogin(b, "/prod-dev"))
	}
	answer := func(req authnRequest) int {
		return h.postACS(b, b64(craft(t, h.idp, h.shape(req, "alice", "dev"))), req.Relay).StatusCode
	}
	if code := answer(reqs[0]); code != http.StatusBadRequest {
		t.Errorf("the oldest of four starts: %d, want 400 (dropped)", code)
	}
	for i, req := range reqs[1:] {
		if code := answer(req); code != http.StatusSeeOther {
			t.Errorf("tab %d: %d, want 303", i+2, code)
		}
	}
	if code := answer(reqs[2]); code != http.StatusBadRequest {
		t.Errorf("a tab's request answered twice: %d, want 400", code)
	}
}
