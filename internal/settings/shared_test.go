package settings

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/saml"
)

func TestLiveForSTS(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		issued, notAfter time.Time
		live             bool
	}{
		{now.Add(-time.Minute), now.Add(time.Hour), true},
		{now.Add(-4 * time.Minute), now.Add(time.Hour), true},
		{now.Add(-5 * time.Minute), now.Add(time.Hour), false},    // STS: 5 minutes after issue
		{now.Add(-time.Minute), now.Add(20 * time.Second), false}, // about to expire
		{time.Time{}, now.Add(time.Hour), true},
	} {
		r := &saml.Response{IssueInstant: tc.issued, NotOnOrAfter: tc.notAfter}
		if got := LiveForSTS(r, now); got != tc.live {
			t.Errorf("issued %v, not on or after %v: live %v, want %v", tc.issued, tc.notAfter, got, tc.live)
		}
	}
}

// TestAssertionLock: one holder at a time, the others wait; the wait is
// bounded.
func TestAssertionLock(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	c, err := NewAssertionCache("corp")
	if err != nil {
		t.Fatal(err)
	}
	var inside, most atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			unlock, err := c.Lock(t.Context(), time.Minute)
			if err != nil {
				t.Error(err)
				return
			}
			if n := inside.Add(1); n > most.Load() {
				most.Store(n)
			}
			time.Sleep(5 * time.Millisecond)
			inside.Add(-1)
			unlock()
		})
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders at once", most.Load())
	}
	unlock, err := c.Lock(t.Context(), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	if _, err := c.Lock(t.Context(), 50*time.Millisecond); !errors.Is(err, atomicfile.ErrLockTimeout) {
		t.Errorf("second holder: %v, want a timeout", err)
	}
	fi, err := os.Lstat(filepath.Join(filepath.Dir(c.Path), "corp.lock"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("lock file: %v %v", fi, err)
	}
}

func TestIdPSession(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	s, err := NewIdPSession("corp")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	s.Now = func() time.Time { return now }
	if got := s.Load(); got != nil {
		t.Errorf("empty: %v", got)
	}
	cookies := []SavedCookie{
		{URL: "https://idp.example.com/sso", Name: "sid", Value: "v1", Set: now.Add(-time.Hour)},
		{URL: "https://idp.example.com/sso", Name: "old", Value: "v2", Set: now.Add(-13 * time.Hour)},   // past the 12 h bound
		{URL: "https://idp.example.com/sso", Name: "gone", Value: "v3", Set: now, Expires: now.Add(-1)}, // deleted
	}
	if err := s.Save(cookies); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%v %v", fi, err)
	}
	got := s.Load()
	if len(got) != 1 || got[0].Name != "sid" || got[0].Value != "v1" {
		t.Errorf("loaded %+v", got)
	}
	// A file others may read is not trusted, and removed.
	if err := os.Chmod(s.Path, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := s.Load(); got != nil {
		t.Errorf("0644 file loaded: %v", got)
	}
	if _, err := os.Stat(s.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("untrusted file kept: %v", err)
	}
	// A symlink planted under the name is never followed.
	target := filepath.Join(t.TempDir(), "x")
	if err := os.WriteFile(target, []byte(`{"cookies":[]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, s.Path); err != nil {
		t.Fatal(err)
	}
	if got := s.Load(); got != nil {
		t.Errorf("symlink followed: %v", got)
	}
	if err := s.Save(cookies[:1]); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != `{"cookies":[]}` {
		t.Errorf("the symlink's target was written: %s", b)
	}
}
