package settings

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/saml"
)

// AssertionCache keeps a login's SAML assertion on disk for --cache-saml (a
// session.AssertionStore):
// base64 in <UserCacheDir>/rolehop/saml/<login>.b64 (~/.cache/rolehop/saml
// on Linux), mode 0600 in a 0700 folder, written atomically. A saved
// assertion is used only until its own NotOnOrAfter; an expired one is
// removed when read. The assertion is a bearer secret: it is never logged.
type AssertionCache struct {
	Path   string
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
}

// NewAssertionCache returns the cache of login profile login ("" is
// "default").
func NewAssertionCache(login string) (*AssertionCache, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return nil, fmt.Errorf("find the cache folder for --cache-saml: %w; set XDG_CACHE_HOME or HOME", err)
	}
	if login == "" {
		login = "default"
	}
	if strings.ContainsAny(login, `/\`) || login == "." || login == ".." {
		return nil, fmt.Errorf("login name %q cannot name a cache file: use letters, digits, - and _", login)
	}
	return &AssertionCache{Path: filepath.Join(dir, "rolehop", "saml", login+".b64")}, nil
}

func (c *AssertionCache) log() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}

// Load returns the saved assertion while it lives.
func (c *AssertionCache) Load() (string, bool) {
	b, err := os.ReadFile(c.Path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log().Info("cannot read the saved saml assertion", "file", c.Path, "error", err)
		}
		return "", false
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	raw := strings.TrimSpace(string(b))
	r, err := saml.Parse(raw)
	if err != nil || r.Expired(now()) {
		c.log().Debug("removing an unusable saved saml assertion", "file", c.Path)
		_ = os.Remove(c.Path)
		return "", false
	}
	return raw, true
}

// Save writes the assertion (0600, atomically).
func (c *AssertionCache) Save(b64 string) error {
	dir := filepath.Dir(c.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save saml assertion: %w", err)
	}
	if err := atomicfile.Write(c.Path, []byte(b64+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("save saml assertion: %w", err)
	}
	return nil
}
