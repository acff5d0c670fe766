package session

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// DefaultAssertionCacheTime is how long a SAML assertion is reused by
// default (never past its own NotOnOrAfter).
const DefaultAssertionCacheTime = 5 * time.Minute

// assertionMargin is how long before its NotOnOrAfter an assertion is no
// longer handed to STS: it must still be valid when STS reads it.
const assertionMargin = 30 * time.Second

// AssertionStore keeps a SAML assertion between runs (rolehop's
// --cache-saml, or one assertion shared by many processes). The assertion
// is a bearer secret: keep it in a 0600 file.
type AssertionStore interface {
	// Load returns a saved base64 assertion, if any. The provider asks once,
	// before its first login, and uses it only while it lives.
	Load() (string, bool)
	// Save receives every freshly obtained assertion.
	Save(b64 string) error
}

// Assertion returns the current assertion, logging in when there is none
// that is fresh enough. Concurrent callers share one login.
func (s *SAML) Assertion(ctx context.Context) (*saml.Response, error) {
	if r := s.cached(); r != nil {
		return r, nil
	}
	ch := s.logins.DoChan("login", func() (any, error) {
		if r := s.cached(); r != nil { // a login that just ended
			return r, nil
		}
		return s.login(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*saml.Response), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// usable reports whether an assertion fetched at fetched may still be used.
func (s *SAML) usable(r *saml.Response, fetched, now time.Time) bool {
	if r == nil || !now.Before(fetched.Add(s.cacheTime)) {
		return false
	}
	return r.NotOnOrAfter.IsZero() || now.Before(r.NotOnOrAfter.Add(-assertionMargin))
}

func (s *SAML) cached() *saml.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usable(s.resp, s.fetched, s.o.Now()) {
		return s.resp
	}
	return nil
}

// login gets a new assertion: from the store once, else from the IdP.
func (s *SAML) login(ctx context.Context) (*saml.Response, error) {
	s.mu.Lock()
	tryStore := !s.storeTried && s.store != nil
	s.storeTried = true
	s.mu.Unlock()
	log := s.o.Logger
	if tryStore {
		if raw, ok := s.store.Load(); ok {
			now := s.o.Now()
			r, err := saml.Parse(raw)
			switch {
			case err != nil:
				log.Info("ignoring the saved saml assertion: it cannot be read", "error", err)
			case !s.usable(r, now, now):
				log.Info("ignoring the saved saml assertion: it has expired", "not_on_or_after", r.NotOnOrAfter)
			default:
				log.Debug("using the saved saml assertion", "issuer", r.Issuer, "roles", len(r.Roles), "not_on_or_after", r.NotOnOrAfter)
				s.set(r, now, true)
				return r, nil
			}
		}
	}
	log.Debug("logging in to the identity provider")
	raw, err := s.client.Assertion(ctx)
	if err != nil {
		switch {
		case errors.Is(err, idp.ErrAccessDenied):
			return nil, &idpError{kind: ErrIdPAccessDenied, err: err}
		case errors.Is(err, idp.ErrNoAssertion):
			return nil, &idpError{kind: ErrNoAssertion, err: err}
		}
		return nil, fmt.Errorf("saml login: %w", err)
	}
	now := s.o.Now()
	r, err := saml.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAssertion, err)
	}
	log.Info("saml login succeeded", "issuer", r.Issuer, "subject", r.NameID, "roles", len(r.Roles), "not_on_or_after", r.NotOnOrAfter)
	if !s.usable(r, now, now) {
		log.Warn("the new saml assertion already looks expired: check this machine's clock against the IdP's",
			"not_on_or_after", r.NotOnOrAfter, "now", now)
	}
	s.set(r, now, false)
	if s.store != nil {
		if err := s.store.Save(r.Raw); err != nil {
			log.Warn("cannot save the saml assertion for the next run", "error", err)
		}
	}
	return r, nil
}

func (s *SAML) set(r *saml.Response, fetched time.Time, fromStore bool) {
	s.mu.Lock()
	s.resp, s.fetched, s.fromStore = r, fetched, fromStore
	s.mu.Unlock()
}

// drop forgets r (if it is still the current assertion), so the next need
// logs in again.
func (s *SAML) drop(r *saml.Response) {
	s.mu.Lock()
	if s.resp == r {
		s.resp = nil
	}
	s.mu.Unlock()
}

func (s *SAML) isFromStore(r *saml.Response) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resp == r && s.fromStore
}
