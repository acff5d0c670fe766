package broker

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/saml/samlverify"
)

// replayCache is the samlverify.ReplayCache over the store for one request.
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
		return samlverify.ErrReplay
	}
	return nil
}

// refusalReason names a refused response's cause for metrics and the audit.
func refusalReason(err error) string {
	var ve *samlverify.VerifyError
	if !errors.As(err, &ve) {
		return "other"
	}
	for _, k := range []struct {
		err  error
		name string
	}{
		{samlverify.ErrTooLarge, "too_large"}, {samlverify.ErrMalformed, "malformed"}, {samlverify.ErrSignature, "signature"},
		{samlverify.ErrIssuer, "issuer"}, {samlverify.ErrAudience, "audience"}, {samlverify.ErrRecipient, "recipient"},
		{samlverify.ErrDestination, "destination"}, {samlverify.ErrRequestID, "request_id"}, {samlverify.ErrStatus, "status"},
		{samlverify.ErrExpired, "expired"}, {samlverify.ErrNotYetValid, "not_yet_valid"}, {samlverify.ErrReplay, "replay"},
		{samlverify.ErrReplayCheck, "store"}, {samlverify.ErrVerifyConfig, "config"},
	} {
		if errors.Is(ve.Kind, k.err) {
			return k.name
		}
	}
	return "other"
}

// acs is POST /saml/acs: the IdP's answer, checked by samlverify.Verify only.
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
	trust := samlverify.Trust{
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
	resp, err := samlverify.Verify(raw, trust, s.now())
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
