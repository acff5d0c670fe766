package settings

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// MaxIdPSessionAge bounds how long saved IdP cookies are used: a cookie
// without its own expiry (a browser would drop it at exit) is put back for
// at most this long after it was set, and none is kept longer whatever it
// claims. IdPs end their sessions well before (SimpleSAMLphp: 8 hours);
// then the IdP asks for the password again.
const MaxIdPSessionAge = 12 * time.Hour

// maxCookieBytes bounds the cookie file.
const maxCookieBytes = 1 << 20

// IdPSession keeps a login's IdP session cookies on disk, beside the
// assertion cache: <UserCacheDir>/rolehop/saml/<login>.cookies, 0600 in the
// 0700 folder, written atomically. STS takes an assertion only within 5
// minutes of its issue, so every refresh of SAML credentials needs a new
// login; with the IdP's own session (a cookie) that login is silent, as in
// a browser. The cookies are bearer secrets for the IdP session: they are
// never logged, and the file is trusted only as the assertion cache is (a
// private folder of the user's; a regular file of the user's with no group
// or other bits, at most 1 MiB); anything else is warned about and ignored.
type IdPSession struct {
	Path   string
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
}

// SavedCookie is one cookie as the IdP set it: the URL that set it and the
// Set-Cookie attributes, replayed into a cookie jar to restore the session.
type SavedCookie struct {
	URL      string    `json:"url"`
	Name     string    `json:"name"`
	Value    string    `json:"value"`
	Domain   string    `json:"domain,omitempty"`
	Path     string    `json:"path,omitempty"`
	Expires  time.Time `json:"expires,omitzero"` // zero: a session cookie
	Secure   bool      `json:"secure,omitempty"`
	HTTPOnly bool      `json:"httpOnly,omitempty"`
	SameSite int       `json:"sameSite,omitempty"`
	Set      time.Time `json:"set"`
}

// Live reports whether the cookie may be replayed at now.
func (c SavedCookie) Live(now time.Time) bool {
	if c.Set.IsZero() || c.Set.After(now.Add(time.Minute)) || now.Sub(c.Set) > MaxIdPSessionAge {
		return false
	}
	return c.Expires.IsZero() || now.Before(c.Expires)
}

type savedCookies struct {
	Cookies []SavedCookie `json:"cookies"`
}

// NewIdPSession returns the IdP session file of login profile login ("" is
// "default").
func NewIdPSession(login string) (*IdPSession, error) {
	c, err := NewAssertionCache(login)
	if err != nil {
		return nil, err
	}
	return &IdPSession{Path: strings.TrimSuffix(c.Path, ".b64") + ".cookies"}, nil
}

func (s *IdPSession) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *IdPSession) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Load returns the saved cookies that are still live.
func (s *IdPSession) Load() []SavedCookie {
	d, was, err := atomicfile.OpenPrivate(filepath.Dir(s.Path), false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log().Warn("cannot use the saved idp session; the idp may ask to sign in again", "path", filepath.Dir(s.Path), "reason", err.Error())
		}
		return nil
	}
	defer d.Close()
	if was != 0 {
		s.log().Warn("tightened the saml cache folder to 0700", "path", filepath.Dir(s.Path), "from", fmt.Sprintf("%04o", was))
	}
	name := filepath.Base(s.Path)
	b, _, err := d.ReadFile(name, maxCookieBytes, atomicfile.CheckPrivate)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log().Warn("not using the saved idp session; the idp may ask to sign in again", "file", s.Path, "reason", err.Error())
			_ = d.Remove(name)
		}
		return nil
	}
	var in savedCookies
	if err := json.Unmarshal(b, &in); err != nil {
		s.log().Warn("not using the saved idp session: not a file rolehop wrote", "file", s.Path)
		_ = d.Remove(name)
		return nil
	}
	now := s.now()
	var out []SavedCookie
	for _, c := range in.Cookies {
		if c.Live(now) && c.URL != "" && c.Name != "" {
			out = append(out, c)
		}
	}
	return out
}

// Save writes the live cookies (0600, atomically); none removes the file.
func (s *IdPSession) Save(cookies []SavedCookie) error {
	now := s.now()
	var live []SavedCookie
	for _, c := range cookies {
		if c.Live(now) {
			live = append(live, c)
		}
	}
	d, _, err := atomicfile.OpenPrivate(filepath.Dir(s.Path), true)
	if err != nil {
		return fmt.Errorf("save the idp session: %w", err)
	}
	defer d.Close()
	name := filepath.Base(s.Path)
	if len(live) == 0 {
		if err := d.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove the idp session: %w", err)
		}
		return nil
	}
	for _, n := range d.RemoveStale(func(n string) bool { return atomicfile.IsTemp(n, name) }, staleTempAge, time.Now()) {
		s.log().Debug("removed a leftover temporary file", "file", n)
	}
	b, err := json.Marshal(savedCookies{Cookies: live})
	if err != nil {
		return err
	}
	if err := d.Write(name, b, atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("save the idp session: %w", err)
	}
	return nil
}

// Remove deletes the saved session (a login the IdP refused).
func (s *IdPSession) Remove() {
	if err := os.Remove(s.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log().Debug("cannot remove the saved idp session", "file", s.Path, "err", err)
	}
}
