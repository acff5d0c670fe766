//go:build unix

package settings

import (
	"bytes"
	"encoding/base64"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testuser"
)

// The on-disk assertion cache trusts only what it wrote (issue 11,
// findings 3 and 10). Each test failed on the code before the fix: see the
// commit that added it.

// samlFor is an unsigned Response for subject whose assertion expires at
// exp (zero: no expiry at all); pad adds that many bytes of whitespace
// inside the XML.
func samlFor(subject, sessionName string, exp time.Time, pad int) string {
	cond := ""
	if !exp.IsZero() {
		cond = `<saml:Conditions NotOnOrAfter="` + exp.UTC().Format(time.RFC3339) + `"/>`
	}
	attr := ""
	if sessionName != "" {
		attr = `<saml:AttributeStatement><saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName">` +
			`<saml:AttributeValue>` + sessionName + `</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>`
	}
	xml := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` +
		`<saml:Assertion><saml:Issuer>idp</saml:Issuer><saml:Subject><saml:NameID>` + subject + `</saml:NameID></saml:Subject>` +
		cond + strings.Repeat(" ", pad) + attr + `</saml:Assertion></samlp:Response>`
	return base64.StdEncoding.EncodeToString([]byte(xml))
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// newCache is alice's cache for login "corp" in a fresh 0700 folder.
func newCache(t *testing.T) (*AssertionCache, *syncBuf) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "saml")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	buf := &syncBuf{}
	return &AssertionCache{Path: filepath.Join(dir, "corp.b64"), ExpectedUser: "alice",
		Logger: slog.New(slog.NewTextHandler(buf, nil))}, buf
}

func plant(t *testing.T, path, b64 string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(b64+"\n"), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// loadGuarded is Load with a hang guard (not a speed check).
func loadGuarded(t *testing.T, c *AssertionCache) (string, bool) {
	t.Helper()
	type res struct {
		s  string
		ok bool
	}
	done := make(chan res, 1)
	go func() { s, ok := c.Load(); done <- res{s, ok} }()
	select {
	case r := <-done:
		return r.s, r.ok
	case <-time.After(20 * time.Second):
		if f, err := os.OpenFile(c.Path, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal("Load hung for 20 seconds")
		return "", false
	}
}

func TestAssertionCacheUsesOnlyWhatItWrote(t *testing.T) {
	live := time.Now().Add(5 * time.Minute)
	for _, tc := range []struct {
		name  string
		plant func(t *testing.T, path string)
	}{
		{"another user's assertion", func(t *testing.T, path string) {
			plant(t, path, samlFor("bob", "bob", live, 0), 0o600)
		}},
		{"expires in 2099", func(t *testing.T, path string) {
			plant(t, path, samlFor("alice", "", time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), 0), 0o600)
		}},
		{"never expires", func(t *testing.T, path string) {
			plant(t, path, samlFor("alice", "", time.Time{}, 0), 0o600)
		}},
		{"readable by others", func(t *testing.T, path string) {
			plant(t, path, samlFor("alice", "", live, 0), 0o644)
		}},
		{"symlink", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "other.b64")
			plant(t, other, samlFor("alice", "", live, 0), 0o600)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"larger than any assertion", func(t *testing.T, path string) {
			plant(t, path, samlFor("alice", "", live, 6<<20), 0o600)
		}},
		{"FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, logs := newCache(t)
			tc.plant(t, c.Path)
			if _, ok := loadGuarded(t, c); ok {
				t.Fatal("Load used an assertion rolehop did not write for alice")
			}
			if !strings.Contains(logs.String(), "level=WARN") {
				t.Errorf("no warning: %s", logs.String())
			}
			t.Logf("warning: %s", strings.TrimSpace(logs.String()))
		})
	}
}

func TestAssertionCacheAcceptsTheUsersOwn(t *testing.T) {
	live := time.Now().Add(5 * time.Minute)
	for _, tc := range []struct{ user, nameID, sessionName string }{
		{"alice", "alice", ""},
		{"alice", "ALICE@example.com", ""},
		{"alice@example.com", "alice", ""},
		{`CORP\alice`, "alice", ""},
		{"alice", "_a9f0e1persistentid", "alice@example.com"},
	} {
		c, logs := newCache(t)
		c.ExpectedUser = tc.user
		b64 := samlFor(tc.nameID, tc.sessionName, live, 0)
		if err := c.Save(b64); err != nil {
			t.Fatal(err)
		}
		if got, ok := c.Load(); !ok || got != b64 {
			t.Errorf("user %q, NameID %q, RoleSessionName %q: not loaded: %s", tc.user, tc.nameID, tc.sessionName, logs.String())
		}
	}
	c, _ := newCache(t)
	c.ExpectedUser = "alice@example.com"
	if err := c.Save(samlFor("alice@evil.example", "", live, 0)); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Load(); ok {
		t.Error("alice@example.com accepted an assertion for alice@evil.example")
	}
}

func TestAssertionCacheFolderRolehopCannotTrust(t *testing.T) {
	c, logs := newCache(t)
	dir := filepath.Dir(c.Path)
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	planted := samlFor("alice", "", time.Now().Add(5*time.Minute), 0)
	plant(t, c.Path, planted, 0o600)
	if _, ok := c.Load(); ok {
		t.Error("Load used an assertion from a folder anyone may write")
	}
	if err := c.Save(samlFor("alice", "", time.Now().Add(5*time.Minute), 0)); err == nil {
		t.Error("Save wrote into a folder anyone may write")
	}
	if b, _ := os.ReadFile(c.Path); strings.TrimSpace(string(b)) != planted {
		t.Error("the planted file changed")
	}
	t.Logf("warning: %s", strings.TrimSpace(logs.String()))
}

func TestAssertionCacheSweepsStaleTempFiles(t *testing.T) {
	c, _ := newCache(t)
	dir := filepath.Dir(c.Path)
	stale := filepath.Join(dir, ".corp.b64.123456.tmp")
	fresh := filepath.Join(dir, ".corp.b64.654321.tmp")
	for _, p := range []string{stale, fresh} {
		plant(t, p, samlFor("alice", "", time.Now().Add(time.Minute), 0), 0o600)
	}
	past := time.Now().Add(-2 * time.Minute)
	if err := os.Chtimes(stale, past, past); err != nil {
		t.Fatal(err)
	}
	if err := c.Save(samlFor("alice", "", time.Now().Add(5*time.Minute), 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); err == nil {
		t.Error("a stale temporary file (a full assertion) was left behind")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temporary file (a writer at work) was removed")
	}
}

// TestAssertionCacheFileOfAnotherUser: root's cache folder holding a file
// another user owns (root is the victim here: sudo rolehop --cache-saml).
func TestAssertionCacheFileOfAnotherUser(t *testing.T) {
	a, _ := testuser.Two(t)
	c, _ := newCache(t)
	plant(t, c.Path, samlFor("alice", "", time.Now().Add(5*time.Minute), 0), 0o600)
	a.Chown(t, c.Path)
	if _, ok := c.Load(); ok {
		t.Error("Load used a file owned by another user")
	}
	// A folder owned by another user is not used either.
	c2, _ := newCache(t)
	plant(t, c2.Path, samlFor("alice", "", time.Now().Add(5*time.Minute), 0), 0o600)
	a.Chown(t, filepath.Dir(c2.Path), c2.Path)
	if _, ok := c2.Load(); ok {
		t.Error("Load used a folder owned by another user")
	}
}
