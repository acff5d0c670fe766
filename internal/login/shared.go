package login

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// Shared is one login profile's IdP login shared by every rolehop process
// of the user: an idp.Client (and, for credential_process, the
// session.AssertionStore) over the on-disk assertion cache
// (settings.AssertionCache), its lock and the IdP's session cookies
// (settings.IdPSession).
//
// Why it is built this way: STS takes an assertion only within 5 minutes
// of its IssueInstant. So one assertion serves every role of a login for
// those minutes — 20 credential_process profiles resolved at once cost one
// login, whoever starts first logs in under the lock while the others wait
// and then use the assertion it saved — but every later refresh needs a new
// assertion, hence a new login. That login is silent while the IdP's own
// session lives: the form and ADFS clients keep the IdP's cookies in a jar
// that is saved after each login and put back before the next, as the
// browser IdP keeps its profile folder. Only when the IdP asks for the
// password again (its session ended: typically once a working day) does a
// person have to type it.
type Shared struct {
	lp      settings.LoginProfile
	client  idp.Client
	cache   *settings.AssertionCache
	session *settings.IdPSession // nil: the client keeps no cookies of ours
	jar     *savingJar
	reuse   bool
	wait    time.Duration
	log     *slog.Logger

	mu   sync.Mutex
	seen map[[32]byte]bool // assertions handed out by this process
}

// SharedOptions tune NewShared.
type SharedOptions struct {
	// Reuse uses what other processes left: a saved assertion STS still
	// takes, and the saved IdP session. For credential_process and sources.
	// Without it (an explicit `rolehop login` or `roles`) every login signs
	// in afresh, and its assertion and IdP session are still saved for
	// the others.
	Reuse bool
	// LockWait bounds the wait for another process's login (0:
	// settings.DefaultLockWait); then this process logs in itself.
	LockWait time.Duration
	// Now is the clock of the caches (nil: time.Now).
	Now func() time.Time
}

// NewShared builds the IdP client lp describes (NewIdPClient) and shares
// its logins through the caches of login profile lp.Name.
func NewShared(lp settings.LoginProfile, prompter idp.Prompter, logger *slog.Logger, getenv func(string) string, o SharedOptions) (*Shared, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	client, err := NewIdPClient(lp, prompter, logger, getenv)
	if err != nil {
		return nil, err
	}
	cache, err := settings.NewAssertionCache(lp.Name)
	if err != nil {
		return nil, err
	}
	cache.Logger, cache.Now, cache.ExpectedUser = logger, now, lp.Username
	s := &Shared{lp: lp, client: client, cache: cache, reuse: o.Reuse, wait: o.LockWait, log: logger, seen: map[[32]byte]bool{}}
	var opts *idp.Options
	switch c := client.(type) {
	case *idp.Form:
		opts = &c.Options
	case *idp.ADFS:
		opts = &c.Options
	}
	if opts != nil && opts.HTTPClient == nil {
		sess, err := settings.NewIdPSession(lp.Name)
		if err != nil {
			return nil, err
		}
		sess.Logger, sess.Now = logger, now
		s.session, s.jar = sess, newSavingJar(now)
		if o.Reuse {
			s.jar.restore(sess.Load())
		}
		timeout := opts.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		opts.HTTPClient = &http.Client{Jar: s.jar, Timeout: timeout}
	}
	return s, nil
}

var (
	_ idp.Client             = (*Shared)(nil)
	_ session.AssertionStore = (*Shared)(nil)
)

// SAML is a session.SAML logging in through s: lp's role, duration, region
// and STS endpoint (as NewSAML), with s as its assertion store when s
// reuses assertions; extra options come last.
func (s *Shared) SAML(extra ...func(*session.SAMLOptions)) (*session.SAML, error) {
	opts := []func(*session.SAMLOptions){func(o *session.SAMLOptions) {
		if s.reuse {
			o.AssertionStore = s
		}
	}}
	return newSAML(s.lp, s, s.log, append(opts, extra...)...)
}

// Assertion returns an assertion for STS: with Reuse, one another process
// saved that this process has not used yet (it may be what STS just
// refused); else, under the lock, a new login, saved with the IdP session
// for the others.
func (s *Shared) Assertion(ctx context.Context) (string, error) {
	if raw, ok := s.fromDisk(); ok {
		return raw, nil
	}
	unlock, err := s.cache.Lock(ctx, s.wait)
	switch {
	case err == nil:
		defer unlock()
	case ctx.Err() != nil:
		return "", ctx.Err()
	case errors.Is(err, atomicfile.ErrLockTimeout):
		s.log.Warn("another rolehop has been logging in for a long time; logging in without waiting for it", "login", s.lp.Name)
	default:
		s.log.Warn("cannot lock the saml assertion cache; logging in without it", "login", s.lp.Name, "reason", err.Error())
	}
	// Another process may have logged in while we waited.
	if raw, ok := s.fromDisk(); ok {
		return raw, nil
	}
	s.log.Debug("logging in to the identity provider", "login", s.lp.Name, "idp_session_cookies", s.jar != nil)
	raw, err := s.client.Assertion(ctx)
	if err != nil {
		return "", err
	}
	if s.jar != nil {
		if err := s.session.Save(s.jar.saved()); err != nil {
			s.log.Warn("cannot save the idp session; the next login may ask for the password", "error", err)
		}
	}
	if err := s.cache.Save(raw); err != nil {
		s.log.Warn("cannot save the saml assertion for other processes", "error", err)
	}
	s.markSeen(raw)
	return raw, nil
}

// Load hands session.SAML a saved assertion STS still takes (Reuse only).
func (s *Shared) Load() (string, bool) { return s.fromDisk() }

// Save does nothing: Assertion saved every assertion it got.
func (s *Shared) Save(string) error { return nil }

// fromDisk returns the saved assertion when reusing, STS still takes it
// and this process has not used it yet.
func (s *Shared) fromDisk() (string, bool) {
	if !s.reuse {
		return "", false
	}
	raw, _, ok := s.cache.LoadForSTS()
	if !ok {
		return "", false
	}
	if !s.markSeen(raw) {
		return "", false
	}
	s.log.Debug("using the saved saml assertion", "login", s.lp.Name)
	return raw, true
}

// markSeen records raw; it reports whether it was new.
func (s *Shared) markSeen(raw string) bool {
	h := sha256.Sum256([]byte(raw))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[h] {
		return false
	}
	s.seen[h] = true
	return true
}
