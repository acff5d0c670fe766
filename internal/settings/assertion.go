package settings

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/internal/safetext"
	"github.com/rolehop/rolehop/saml"
)

// MaxAssertionLifetime bounds how far in the future a saved assertion may
// expire. IdPs issue assertions for minutes (SimpleSAMLphp, Okta: 5) up to
// an hour (ADFS, Entra ID); a day is far beyond any of them, and an
// assertion that claims more (or no expiry at all) is not one to keep.
const MaxAssertionLifetime = 24 * time.Hour

// maxAssertionBytes bounds the cache file: the IdP page that carried the
// assertion was read up to 4 MiB.
const maxAssertionBytes = 4 << 20

// staleTempAge is how old a leftover temporary file must be before Save
// removes it.
const staleTempAge = time.Minute

// AssertionCache keeps a login's SAML assertion on disk for --cache-saml (a
// session.AssertionStore):
// base64 in <UserCacheDir>/rolehop/saml/<login>.b64 (~/.cache/rolehop/saml
// on Linux), mode 0600 in a 0700 folder, written atomically. A saved
// assertion is used only until its own NotOnOrAfter; an expired one is
// removed when read. The assertion is a bearer secret: it is never logged.
//
// It trusts only what it wrote. The folder must be a folder (not a
// symlink) owned by the process's user and writable by no one else (one
// that others may only read is tightened to 0700); otherwise Load and Save
// warn and the login goes on without the cache. The file is opened without
// following a symlink or blocking (a FIFO), must be a regular file owned by
// the user with no group or other bits and at most 4 MiB, and the
// assertion must expire within MaxAssertionLifetime and, when ExpectedUser
// is set, name that user as its subject. Anything else is warned about and
// removed. Save sweeps temporary files that writers killed between create
// and rename left behind (a minute old or more).
type AssertionCache struct {
	Path   string
	Now    func() time.Time // nil means time.Now
	Logger *slog.Logger     // nil discards
	// ExpectedUser is the user name the login profile logs in as. When
	// set, a saved assertion is used only when its subject — the NameID
	// or the RoleSessionName attribute — is that user: compared without
	// case, and "alice" matches "alice@example.com" and `CORP\alice` (a
	// side without a domain matches any domain; two different domains do
	// not match). An assertion whose subject is an opaque ID and that has
	// no RoleSessionName cannot be matched and is not used.
	ExpectedUser string
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

func (c *AssertionCache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// openDir opens the cache folder (creating it when create is set) and
// checks that only this user can change it.
func (c *AssertionCache) openDir(create bool) (*atomicfile.Dir, error) {
	dir := filepath.Dir(c.Path)
	d, was, err := atomicfile.OpenPrivate(dir, create)
	if err != nil {
		return nil, err
	}
	if was != 0 {
		c.log().Warn("tightened the saml assertion cache folder to 0700", "path", dir, "from", fmt.Sprintf("%04o", was))
	}
	return d, nil
}

// Load returns the saved assertion while it lives.
func (c *AssertionCache) Load() (string, bool) {
	d, err := c.openDir(false)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log().Warn("cannot use the saml assertion cache folder; logging in without it", "path", filepath.Dir(c.Path), "reason", err.Error())
		}
		return "", false
	}
	defer d.Close()
	name := filepath.Base(c.Path)
	b, _, err := d.ReadFile(name, maxAssertionBytes, atomicfile.CheckPrivate)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", false
		}
		reason := err.Error()
		var nr *atomicfile.NotRegularError
		switch {
		case errors.As(err, &nr):
			reason = "it is " + nr.Kind + ", not a file rolehop wrote"
		case errors.Is(err, atomicfile.ErrTooLarge):
			reason = fmt.Sprintf("it holds more than %d bytes, more than any assertion", maxAssertionBytes)
		}
		c.discard(d, name, reason)
		return "", false
	}
	raw := strings.TrimSpace(string(b))
	r, err := saml.Parse(raw)
	now := c.now()
	switch {
	case err != nil:
		c.log().Debug("removing an unusable saved saml assertion", "file", c.Path)
	case r.Expired(now):
		c.log().Debug("removing an expired saved saml assertion", "file", c.Path)
	case r.NotOnOrAfter.IsZero():
		c.discard(d, name, "the assertion carries no expiry")
		return "", false
	case r.NotOnOrAfter.After(now.Add(MaxAssertionLifetime)):
		c.discard(d, name, fmt.Sprintf("the assertion claims to be valid until %s, more than %d hours from now",
			r.NotOnOrAfter.UTC().Format(time.RFC3339), int(MaxAssertionLifetime.Hours())))
		return "", false
	case c.ExpectedUser != "" && !sameUser(c.ExpectedUser, r):
		c.discard(d, name, fmt.Sprintf("the assertion is for %q, not for the configured user %q",
			safetext.Clean(r.NameID, 80), safetext.Clean(c.ExpectedUser, 80)))
		return "", false
	default:
		return raw, true
	}
	_ = d.Remove(name)
	return "", false
}

// discard warns about a saved assertion that is not used and removes it.
func (c *AssertionCache) discard(d *atomicfile.Dir, name, reason string) {
	c.log().Warn("not using the saved saml assertion; logging in again", "file", c.Path, "reason", reason)
	_ = d.Remove(name)
}

// Save writes the assertion (0600, atomically).
func (c *AssertionCache) Save(b64 string) error {
	d, err := c.openDir(true)
	if err != nil {
		return fmt.Errorf("save saml assertion: %w", err)
	}
	defer d.Close()
	name := filepath.Base(c.Path)
	for _, n := range d.RemoveStale(func(n string) bool { return atomicfile.IsTemp(n, name) }, staleTempAge, time.Now()) {
		c.log().Debug("removed a leftover temporary file", "file", n)
	}
	if err := d.Write(name, []byte(b64+"\n"), atomicfile.Options{Perm: 0o600}); err != nil {
		return fmt.Errorf("save saml assertion: %w", err)
	}
	return nil
}

// sameUser reports whether the assertion's subject (NameID or
// RoleSessionName) is the user want.
func sameUser(want string, r *saml.Response) bool {
	return userMatches(want, r.NameID) || userMatches(want, r.RoleSessionName)
}

func userMatches(want, got string) bool {
	want, got = strings.ToLower(strings.TrimSpace(want)), strings.ToLower(strings.TrimSpace(got))
	if want == "" || got == "" {
		return false
	}
	if want == got {
		return true
	}
	wu, wd := splitUser(want)
	gu, gd := splitUser(got)
	return wu == gu && (wd == "" || gd == "")
}

// splitUser reads "user@domain" and `DOMAIN\user` as user and domain.
func splitUser(s string) (user, domain string) {
	if d, u, ok := strings.Cut(s, `\`); ok {
		return u, d
	}
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// STSWindow is how long after its IssueInstant STS takes an assertion in
// AssumeRoleWithSAML: 5 minutes ("Token must be redeemed within 5 minutes
// of issuance"), whatever its NotOnOrAfter says.
const STSWindow = 5 * time.Minute

// stsMargin is how much of the window must be left for an assertion to be
// handed to STS: the call takes time, and clocks differ.
const stsMargin = 30 * time.Second

// LiveForSTS reports whether STS still takes r at now: within STSWindow of
// its IssueInstant and before its NotOnOrAfter, each with a margin.
func LiveForSTS(r *saml.Response, now time.Time) bool {
	if !r.IssueInstant.IsZero() && !now.Before(r.IssueInstant.Add(STSWindow-stsMargin)) {
		return false
	}
	return r.NotOnOrAfter.IsZero() || now.Before(r.NotOnOrAfter.Add(-stsMargin))
}

// LoadForSTS is Load for an assertion about to go to STS: it returns the
// saved assertion only while LiveForSTS (an assertion past that window but
// not past its NotOnOrAfter stays on disk: it still lists the roles).
func (c *AssertionCache) LoadForSTS() (string, *saml.Response, bool) {
	raw, ok := c.Load()
	if !ok {
		return "", nil, false
	}
	r, err := saml.Parse(raw)
	if err != nil || !LiveForSTS(r, c.now()) {
		return "", nil, false
	}
	return raw, r, true
}

// DefaultLockWait bounds the wait for another process's login under the
// cache's lock: as long as a person may take to sign in (the browser IdP's
// default login timeout).
const DefaultLockWait = 5 * time.Minute

// Lock takes the cache's lock, "<login>.lock" beside the assertion (a
// regular file of the user's, never followed through a symlink), so that
// one process logs in while the others wait and then use its assertion. It
// waits at most wait (0: DefaultLockWait) or until ctx ends; the error then
// matches atomicfile.ErrLockTimeout or is ctx's.
func (c *AssertionCache) Lock(ctx context.Context, wait time.Duration) (unlock func(), err error) {
	if wait <= 0 {
		wait = DefaultLockWait
	}
	d, err := c.openDir(true)
	if err != nil {
		return nil, fmt.Errorf("lock the saml assertion cache: %w", err)
	}
	lk, err := d.Lock(ctx, strings.TrimSuffix(filepath.Base(c.Path), ".b64")+".lock", atomicfile.LockOptions{Timeout: wait, Retry: 50 * time.Millisecond})
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("lock the saml assertion cache: %w", err)
	}
	return func() {
		_ = lk.Unlock()
		d.Close()
	}, nil
}
