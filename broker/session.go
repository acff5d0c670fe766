package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/rolehop/rolehop/broker/store"
)

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
