//go:build unix

package credcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gofrs/flock"

	"github.com/rolehop/rolehop/internal/testuser"
)

// Files in the cache that rolehop did not write (issue 11, findings 3 and
// 10). Each test failed on the code before the fix: see the commit that
// added it.

const plantedKey = "ASIAPLANTEDBYOTHER"

// plantedEntry is a well-formed entry holding someone else's keys.
func plantedEntry(exp time.Time) string {
	return fmt.Sprintf(`{"Credentials": {"AccessKeyId": %q, "SecretAccessKey": "planted-SECRETVALUE", "SessionToken": "planted-TOKENVALUE", "Expiration": %q}}`,
		plantedKey, exp.UTC().Format(time.RFC3339))
}

func writeEntry(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// fetched is what a real fetch returns in these tests.
func fetched() (aws.Credentials, error) { return creds(9, time.Now().Add(time.Hour)), nil }

// getGuarded is Get with a hang guard (not a speed check): a FIFO or a held
// lock must not stop the caller for ever.
func getGuarded(t *testing.T, c *Cache) (aws.Credentials, error) {
	t.Helper()
	type res struct {
		cr  aws.Credentials
		err error
	}
	done := make(chan res, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	go func() {
		cr, err := c.Get(ctx, testKey, func(context.Context) (aws.Credentials, error) { return fetched() })
		done <- res{cr, err}
	}()
	select {
	case r := <-done:
		return r.cr, r.err
	case <-time.After(25 * time.Second):
		// Release a FIFO's blocked open, then fail.
		if f, err := os.OpenFile(filepath.Join(c.Dir, testKey+".json"), os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
		t.Fatal("Get hung for 25 seconds")
		return aws.Credentials{}, nil
	}
}

func TestEntriesRolehopDidNotWriteAreNotUsed(t *testing.T) {
	for _, tc := range []struct {
		name, reason string
		plant        func(t *testing.T, path string)
	}{
		{"expires in 2099", "expires", func(t *testing.T, path string) {
			writeEntry(t, path, plantedEntry(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)), 0o600)
		}},
		{"expires in 13 days", "expires", func(t *testing.T, path string) {
			writeEntry(t, path, plantedEntry(time.Now().Add(13*24*time.Hour)), 0o600)
		}},
		{"readable by others", "mode", func(t *testing.T, path string) {
			writeEntry(t, path, plantedEntry(time.Now().Add(time.Hour)), 0o644)
		}},
		{"symlink to an entry elsewhere", "symlink", func(t *testing.T, path string) {
			other := filepath.Join(t.TempDir(), "entry.json")
			writeEntry(t, other, plantedEntry(time.Now().Add(time.Hour)), 0o600)
			if err := os.Symlink(other, path); err != nil {
				t.Fatal(err)
			}
		}},
		{"larger than any entry", "bytes", func(t *testing.T, path string) {
			e := plantedEntry(time.Now().Add(time.Hour))
			writeEntry(t, path, e[:len(e)-1]+strings.Repeat(" ", 2<<20)+"}", 0o600)
		}},
		{"FIFO", "FIFO", func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, testKey+".json")
			tc.plant(t, path)
			log, buf := logCapture()
			c := &Cache{Dir: dir, Logger: log}
			cr, err := getGuarded(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if cr.AccessKeyID == plantedKey {
				t.Fatalf("Get returned the planted credentials")
			}
			if cr.AccessKeyID != "ASIATEST0009" {
				t.Fatalf("Get returned %s, want the fetched credentials", cr.AccessKeyID)
			}
			if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), tc.reason) {
				t.Errorf("no warning saying %q: %s", tc.reason, buf.String())
			}
			if strings.Contains(buf.String(), "SECRETVALUE") || strings.Contains(buf.String(), "TOKENVALUE") {
				t.Errorf("the warning leaks the file's content: %s", buf.String())
			}
			t.Logf("warning: %s", strings.TrimSpace(buf.String()))
			// The next Get uses the entry rolehop wrote in its place.
			c2 := &Cache{Dir: dir}
			cr2, err := c2.Get(t.Context(), testKey, func(context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("must not fetch")
			})
			if err != nil || cr2.AccessKeyID != "ASIATEST0009" {
				t.Fatalf("after replacement: %s %v", cr2.AccessKeyID, err)
			}
		})
	}
}

func TestFolderRolehopCannotTrustRunsWithoutTheCache(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T) string // returns the cache folder
	}{
		{"writable by others", func(t *testing.T) string {
			dir := filepath.Join(t.TempDir(), "creds")
			if err := os.Mkdir(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o777); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
		{"a symlink", func(t *testing.T) string {
			real := filepath.Join(t.TempDir(), "elsewhere")
			if err := os.Mkdir(real, 0o700); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "creds")
			if err := os.Symlink(real, dir); err != nil {
				t.Fatal(err)
			}
			return dir
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.make(t)
			planted := plantedEntry(time.Now().Add(time.Hour))
			writeEntry(t, filepath.Join(dir, testKey+".json"), planted, 0o600)
			log, buf := logCapture()
			c := &Cache{Dir: dir, Logger: log}
			cr, err := getGuarded(t, c)
			if err != nil {
				t.Fatal(err)
			}
			if cr.AccessKeyID != "ASIATEST0009" {
				t.Fatalf("Get returned %s, want fetched credentials (the folder is not trustworthy)", cr.AccessKeyID)
			}
			if !strings.Contains(buf.String(), "without the cache") {
				t.Errorf("no warning: %s", buf.String())
			}
			t.Logf("warning: %s", strings.TrimSpace(buf.String()))
			b, _ := os.ReadFile(filepath.Join(dir, testKey+".json"))
			if string(b) != planted {
				t.Errorf("rolehop wrote into a folder it does not trust")
			}
			if _, err := os.Stat(filepath.Join(dir, testKey+".lock")); err == nil {
				t.Errorf("rolehop created a lock file in a folder it does not trust")
			}
		})
	}
}

// TestFolderReadableByOthersIsTightened: a folder of ours that others may
// only read (botocore creates ~/.aws/cli/cache 0755) is made 0700 and used.
func TestFolderReadableByOthersIsTightened(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	log, buf := logCapture()
	c := &Cache{Dir: dir, Logger: log}
	if _, err := getGuarded(t, c); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v, want 0700", fi.Mode().Perm())
	}
	if !strings.Contains(buf.String(), "0700") {
		t.Errorf("no warning about the tightened folder: %s", buf.String())
	}
	if _, err := os.Stat(filepath.Join(dir, testKey+".json")); err != nil {
		t.Errorf("the entry was not written: %v", err)
	}
}

// TestLockSymlinkCreatesNothing: a .lock symlink used to make rolehop
// create an empty file wherever it pointed.
func TestLockSymlinkCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	elsewhere := filepath.Join(t.TempDir(), "created-by-rolehop")
	if err := os.Symlink(elsewhere, filepath.Join(dir, testKey+".lock")); err != nil {
		t.Fatal(err)
	}
	log, buf := logCapture()
	cr, err := getGuarded(t, &Cache{Dir: dir, Logger: log})
	if err != nil || cr.AccessKeyID != "ASIATEST0009" {
		t.Fatalf("Get: %s %v", cr.AccessKeyID, err)
	}
	if _, err := os.Lstat(elsewhere); err == nil {
		t.Fatal("rolehop created the file the .lock symlink points to")
	}
	if !strings.Contains(buf.String(), "symlink") {
		t.Errorf("no warning about the lock: %s", buf.String())
	}
}

// TestHeldLockWaitIsBounded: a lock held for ever (a hung process, or
// another user's) used to stop Get until its context ended.
func TestHeldLockWaitIsBounded(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	lk := flock.New(filepath.Join(dir, testKey+".lock"))
	if ok, err := lk.TryLock(); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer lk.Unlock()
	log, buf := logCapture()
	cr, err := getGuarded(t, &Cache{Dir: dir, Logger: log, LockTimeout: 200 * time.Millisecond})
	if err != nil || cr.AccessKeyID != "ASIATEST0009" {
		t.Fatalf("Get with a held lock: %s %v, want fetched credentials", cr.AccessKeyID, err)
	}
	if !strings.Contains(buf.String(), "without the cache") {
		t.Errorf("no warning: %s", buf.String())
	}
	t.Logf("warning: %s", strings.TrimSpace(buf.String()))
}

// TestStaleTempFilesAreSwept: a writer killed between create and rename
// leaves a temporary file holding full credentials; the next writer removes
// it once it is a minute old (as awsfile does).
func TestStaleTempFilesAreSwept(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "."+testKey+".json.123456.tmp")
	other := filepath.Join(dir, ".ffffffffffffffffffffffffffffffffffffffff.json.99.tmp")
	fresh := filepath.Join(dir, "."+testKey+".json.777.tmp")
	for _, p := range []string{old, other, fresh} {
		writeEntry(t, p, plantedEntry(time.Now().Add(time.Hour)), 0o600)
	}
	past := time.Now().Add(-2 * time.Minute)
	for _, p := range []string{old, other} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := getGuarded(t, &Cache{Dir: dir}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{old, other} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("stale temporary file %s left behind", filepath.Base(p))
		}
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Errorf("a fresh temporary file (a writer at work) was removed: %v", err)
	}
}

// TestAnotherUsersCacheFolder: the cache folder on a shared path
// (XDG_CACHE_HOME=/shared) pre-created 0777 by another user, with an entry
// holding that user's keys: the victim used to run with them.
func TestAnotherUsersCacheFolder(t *testing.T) {
	a, b := testuser.Two(t)
	base := testuser.World(t)
	shared := filepath.Join(base, "shared")
	a.Mkdir(t, shared, 0o777)
	dir := filepath.Join(shared, "creds")
	a.Mkdir(t, dir, 0o777)
	a.WriteFile(t, filepath.Join(dir, testKey+".json"), plantedEntry(time.Now().Add(time.Hour)), 0o644)

	bin := testuser.Binary(t, base)
	cmd := b.Command(bin, []string{"-test.run=^TestHelperProcess$", "-test.count=1"}, "CREDCACHE_HELPER=get", "CREDCACHE_DIR="+dir)
	out, stderr, err := testuser.Run(t, cmd, time.Minute)
	if err != nil {
		t.Fatalf("the victim's Get: %v %s", err, stderr)
	}
	if out != "ASIATEST0009" {
		t.Fatalf("%s ran with %q, want its own fetched credentials", b, out)
	}
	if !strings.Contains(stderr, "without the cache") {
		t.Errorf("no warning: %s", stderr)
	}
	t.Logf("warning: %s", strings.TrimSpace(stderr))
}

// TestEntryOwnedByAnotherUser: an entry in our own folder that another user
// owns (root put it there) is not used.
func TestEntryOwnedByAnotherUser(t *testing.T) {
	a, _ := testuser.Two(t)
	dir := t.TempDir()
	path := filepath.Join(dir, testKey+".json")
	a.WriteFile(t, path, plantedEntry(time.Now().Add(time.Hour)), 0o600)
	log, buf := logCapture()
	cr, err := getGuarded(t, &Cache{Dir: dir, Logger: log})
	if err != nil || cr.AccessKeyID != "ASIATEST0009" {
		t.Fatalf("Get: %s %v, want fetched credentials", cr.AccessKeyID, err)
	}
	if !strings.Contains(buf.String(), "owned by uid") {
		t.Errorf("no warning naming the owner: %s", buf.String())
	}
}
