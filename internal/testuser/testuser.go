//go:build unix

// Package testuser gives tests two real local users, for the attacks that
// need "another local user": a folder one user controls and another reads,
// or root (sudo, a container) working on a user's files.
//
// Two creates the users rolehop-test-a and rolehop-test-b with useradd
// (system users without a home folder or a login shell) when they do not
// exist yet, and reuses them otherwise; they are left in place, so that
// packages testing at the same time can share them. Creating users needs
// root: CI runs as root. As any other user the test is skipped with a
// message saying so (it is impossible there, CI=true or not); as root, a
// missing useradd fails the test under CI=true and skips it otherwise.
//
// Run runs a command as one of the users; World makes a folder every user
// may traverse, and Binary puts a copy of the test binary there so that the
// users can execute it (the os/exec helper-process pattern).
package testuser

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Names of the two users.
const (
	NameA = "rolehop-test-a"
	NameB = "rolehop-test-b"
)

// User is a local user a test may act as.
type User struct {
	Name     string
	UID, GID int
}

var mu sync.Mutex

// Two returns the two test users, creating them when needed.
func Two(t testing.TB) (User, User) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("needs root to create two local users (%s, %s) with useradd and to act as them; "+
			"run the tests as root (CI does) to cover the multi-user attacks", NameA, NameB)
	}
	mu.Lock()
	defer mu.Unlock()
	return ensure(t, NameA), ensure(t, NameB)
}

func ensure(t testing.TB, name string) User {
	t.Helper()
	if u, ok := lookup(name); ok {
		return u
	}
	useradd, err := exec.LookPath("useradd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/useradd", "/sbin/useradd"} {
			if _, e := os.Stat(p); e == nil {
				useradd, err = p, nil
				break
			}
		}
	}
	if err != nil {
		msg := "useradd is missing; apt-get install passwd (Debian) to run the multi-user tests"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	var last string
	for range 50 {
		out, err := exec.Command(useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if u, ok := lookup(name); ok {
			return u
		}
		if err == nil {
			break
		}
		// Another test binary may hold the passwd lock: try again.
		last = strings.TrimSpace(string(out))
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("useradd %s failed: %s", name, last)
	return User{}
}

func lookup(name string) (User, bool) {
	u, err := user.Lookup(name)
	if err != nil {
		return User{}, false
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return User{}, false
	}
	return User{Name: name, UID: uid, GID: gid}, true
}

// Chown gives path (not following a symlink) to u.
func (u User) Chown(t testing.TB, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.Lchown(p, u.UID, u.GID); err != nil {
			t.Fatal(err)
		}
	}
}

// Mkdir creates path with mode perm, owned by u.
func (u User) Mkdir(t testing.TB, path string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(path, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	u.Chown(t, path)
}

// WriteFile writes path with mode perm, owned by u.
func (u User) WriteFile(t testing.TB, path, data string, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	u.Chown(t, path)
}

// Symlink creates a symlink at link pointing to target, owned by u (as if
// u had made it).
func (u User) Symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	u.Chown(t, link)
}

// Command is exec.Command run as u, with env added to a minimal
// environment (PATH, HOME=/nonexistent).
func (u User) Command(name string, args []string, env ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID)},
	}
	return cmd
}

// Run runs cmd with a deadline (a hung child fails the test instead of the
// package) and returns its stdout, stderr and error.
func Run(t testing.TB, cmd *exec.Cmd, limit time.Duration) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), errb.String(), err
	case <-time.After(limit):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("%s did not finish within %s (killed): %s", cmd.Path, limit, errb.String())
		return "", "", nil
	}
}

// World returns a new folder, mode 0755 and owned by root, that every user
// may traverse; it is removed when the test ends.
func World(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rolehop-multiuser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// Binary copies the running test binary into dir (mode 0755) so that the
// test users can run it, and returns its path.
func Binary(t testing.TB, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, filepath.Base(os.Args[0]))
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return bin
}

// Owner returns the uid owning path (not following a symlink).
func Owner(t testing.TB, path string) int {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("no owner for %s", path)
	}
	return int(st.Uid)
}

// String names the user for messages.
func (u User) String() string { return fmt.Sprintf("%s (uid %d)", u.Name, u.UID) }
