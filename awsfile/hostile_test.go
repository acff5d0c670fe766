//go:build unix

package awsfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testuser"
)

// Attacks by another local user on the files rolehop writes (issue 11,
// findings 1 and 2). Each test failed on the code before the fix: see the
// commit that added it.

const rootSecret = "[root-only]\nkey = root-secret-value\n"

// rootOnlyFile is a file only root may read or write, as /etc/shadow is.
func rootOnlyFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "root-only")
	if err := os.WriteFile(p, []byte(rootSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func assertRootFileUntouched(t *testing.T, path string, ino uint64) {
	t.Helper()
	if got := readFile(t, path); got != rootSecret {
		t.Errorf("the root-only file was rewritten:\n%s", got)
	}
	if inode(t, path) != ino {
		t.Errorf("the root-only file was replaced by another file")
	}
	if uid := testuser.Owner(t, path); uid != 0 {
		t.Errorf("the root-only file now belongs to uid %d", uid)
	}
	if m := modeOf(t, path); m != 0o600 {
		t.Errorf("the root-only file's mode became %v", m)
	}
}

// userAWS makes a ~/.aws owned by user a inside a folder every user may
// traverse, and returns it.
func userAWS(t *testing.T, a testuser.User) (base, aws string) {
	t.Helper()
	base = testuser.World(t)
	home := filepath.Join(base, "home-a")
	a.Mkdir(t, home, 0o755)
	aws = filepath.Join(home, ".aws")
	a.Mkdir(t, aws, 0o700)
	return base, aws
}

// TestRootDoesNotChownThroughALockSymlink: a user plants
// ~/.aws/credentials.lock -> a root-only file; `sudo rolehop login` used to
// chown that file to the user (chown by path follows the link).
func TestRootDoesNotChownThroughALockSymlink(t *testing.T) {
	a, _ := testuser.Two(t)
	base, aws := userAWS(t, a)
	victim := rootOnlyFile(t, base)
	ino := inode(t, victim)
	path := filepath.Join(aws, "credentials")
	a.WriteFile(t, path, "[a]\nx = 1\n", 0o600)
	a.Symlink(t, victim, path+".lock")

	err := UpdateCredentials(context.Background(), path, "p", sessionCreds)
	t.Logf("refusal: %v", err)
	assertRootFileUntouched(t, victim, ino)
	if err == nil || !strings.Contains(err.Error(), path+".lock") || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("err = %v, want a refusal naming the symlinked lock file", err)
	}
	if got := readFile(t, path); got != "[a]\nx = 1\n" {
		t.Errorf("the credentials file changed: %q", got)
	}
}

// TestRootDoesNotReplaceAFileThroughAUsersSymlink: a user's
// ~/.aws/credentials -> a root-only file used to make root replace that file
// with one holding the user's credentials.
func TestRootDoesNotReplaceAFileThroughAUsersSymlink(t *testing.T) {
	a, _ := testuser.Two(t)
	base, aws := userAWS(t, a)
	victim := rootOnlyFile(t, base)
	ino := inode(t, victim)
	path := filepath.Join(aws, "credentials")
	a.Symlink(t, victim, path)

	err := UpdateCredentials(context.Background(), path, "p", sessionCreds)
	t.Logf("refusal: %v", err)
	assertRootFileUntouched(t, victim, ino)
	if !errors.Is(err, ErrUnsafePath) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrUnsafePath naming %s", err, path)
	}
	if _, err := os.Stat(victim + ".lock"); err == nil {
		t.Error("a lock file was created next to the root-only file")
	}
	// Reading through the link is refused the same way.
	if _, err := Profiles(path, Credentials); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("Profiles through the link: %v, want ErrUnsafePath", err)
	}
}

// TestRootDoesNotWriteThroughAUsersFolderSymlink: ~/.aws itself a link to a
// root-only folder.
func TestRootDoesNotWriteThroughAUsersFolderSymlink(t *testing.T) {
	a, _ := testuser.Two(t)
	base := testuser.World(t)
	home := filepath.Join(base, "home-a")
	a.Mkdir(t, home, 0o755)
	rootDir := filepath.Join(base, "root-dir")
	if err := os.Mkdir(rootDir, 0o700); err != nil {
		t.Fatal(err)
	}
	a.Symlink(t, rootDir, filepath.Join(home, ".aws"))
	path := filepath.Join(home, ".aws", "credentials")

	err := UpdateCredentials(context.Background(), path, "p", sessionCreds)
	t.Logf("refusal: %v", err)
	if !errors.Is(err, ErrUnsafePath) {
		t.Errorf("err = %v, want ErrUnsafePath", err)
	}
	if entries, _ := os.ReadDir(rootDir); len(entries) != 0 {
		t.Errorf("files were created in the root-only folder: %v", entries)
	}
}

// TestRootFollowsAUsersLinkToTheUsersOwnFile: the dotfiles case keeps
// working under sudo, and the file keeps its owner.
func TestRootFollowsAUsersLinkToTheUsersOwnFile(t *testing.T) {
	a, _ := testuser.Two(t)
	_, aws := userAWS(t, a)
	dotfiles := filepath.Join(filepath.Dir(aws), "dotfiles")
	a.Mkdir(t, dotfiles, 0o700)
	target := filepath.Join(dotfiles, "credentials")
	a.WriteFile(t, target, "[a]\nx = 1\n", 0o600)
	path := filepath.Join(aws, "credentials")
	a.Symlink(t, "../dotfiles/credentials", path)

	if err := UpdateCredentials(context.Background(), path, "p", sessionCreds); err != nil {
		t.Fatal(err)
	}
	if v, err := ReadProfile(path, Credentials, "p"); err != nil || v[KeyAccessKeyID] != sessionCreds[KeyAccessKeyID] {
		t.Fatalf("profile p = %v, %v", v, err)
	}
	for _, p := range []string{target, target + ".lock"} {
		if uid := testuser.Owner(t, p); uid != a.UID {
			t.Errorf("%s belongs to uid %d, want %s", p, uid, a)
		}
	}
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link was replaced: %v %v", fi, err)
	}
}

// TestAnotherUsersLinkInASharedFolder: user b keeps credentials in a shared
// sticky folder (AWS_SHARED_CREDENTIALS_FILE=/shared/creds); user a plants
// the name as a link to one of b's own files. b's rolehop used to replace
// that file.
func TestAnotherUsersLinkInASharedFolder(t *testing.T) {
	a, b := testuser.Two(t)
	base := testuser.World(t)
	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	homeB := filepath.Join(base, "home-b")
	b.Mkdir(t, homeB, 0o700)
	victim := filepath.Join(homeB, "important")
	const important = "[keep]\nvalue = b's own file\n"
	b.WriteFile(t, victim, important, 0o600)
	path := filepath.Join(shared, "creds")
	a.Symlink(t, victim, path)

	bin := testuser.Binary(t, base)
	cmd := b.Command(bin, []string{"-test.run=^TestHelperProcess$", "-test.count=1"},
		helperEnv+"=once", helperPathEnv+"="+path, helperProfileEnv+"=p")
	_, stderr, err := testuser.Run(t, cmd, time.Minute)
	t.Logf("refusal: %s", stderr)
	if got := readFile(t, victim); got != important {
		t.Errorf("b's file was replaced through a's link:\n%s", got)
	}
	if err == nil || !strings.Contains(stderr, "symlink") {
		t.Fatalf("b's write through a's link: %v %s, want a refusal", err, stderr)
	}
}

// TestNonRegularTargetsAreRefused: /dev/null (a common way to switch the
// file off) used to be replaced by a regular file holding keys when root
// wrote it; a FIFO hung rolehop for ever.
func TestNonRegularTargetsAreRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	checkRefused(t, fifo, "FIFO")

	// A FIFO as the lock file hung the same way.
	path := filepath.Join(dir, "credentials")
	writeFile(t, path, fixture, 0o600)
	if err := syscall.Mkfifo(path+".lock", 0o600); err != nil {
		t.Fatal(err)
	}
	err := withDeadline(t, path+".lock", func() error {
		return UpdateCredentials(context.Background(), path, "p", sessionCreds)
	})
	if err == nil || !strings.Contains(err.Error(), "FIFO") {
		t.Errorf("FIFO lock file: err = %v, want a refusal", err)
	}

	if os.Geteuid() != 0 {
		t.Skip("creating a character device (a copy of /dev/null) needs root; the FIFO cases ran")
	}
	null := filepath.Join(dir, "null")
	if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, int(1<<8|3)); err != nil { // major 1, minor 3: /dev/null
		t.Fatal(err)
	}
	checkRefused(t, null, "device")
}

func checkRefused(t *testing.T, path, kind string) {
	t.Helper()
	before, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	err = withDeadline(t, path, func() error {
		return UpdateCredentials(context.Background(), path, "p", sessionCreds)
	})
	if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), kind) || !strings.Contains(err.Error(), path) {
		t.Errorf("writing a %s: err = %v, want ErrNotRegular naming it", kind, err)
	}
	t.Logf("refusal: %v", err)
	if err != nil && strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("the error is not one line: %q", err)
	}
	after, err := os.Lstat(path)
	if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
		t.Fatalf("the %s was replaced: %v -> %v (%v)", kind, before.Mode(), after, err)
	}
	// Reading does not hang either.
	err = withDeadline(t, path, func() error {
		_, err := Profiles(path, Credentials)
		return err
	})
	if !errors.Is(err, ErrNotRegular) {
		t.Errorf("reading a %s: err = %v, want ErrNotRegular", kind, err)
	}
}

// withDeadline runs fn and fails the test when it does not return within a
// 20 seconds (a hang guard, not a speed check): a blocked open() of a FIFO is released by opening its other end.
func withDeadline(t *testing.T, fifo string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
	}
	// Release the blocked open so the goroutine ends, then fail.
	if f, err := os.OpenFile(fifo, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
		_ = f.Close()
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	t.Fatalf("hung for 20 seconds on %s", fifo)
	return nil
}
