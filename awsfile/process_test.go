package awsfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The tests in this file run real processes: the test binary re-executed
// with AWSFILE_TEST_HELPER naming what the child does; TestMain runs the
// child's work instead of the tests (so no test is ever skipped for it).
const (
	helperEnv        = "AWSFILE_TEST_HELPER"
	helperPathEnv    = "AWSFILE_TEST_PATH"
	helperProfileEnv = "AWSFILE_TEST_PROFILE"
)

// helperValues are the credentials writer number i puts into profile.
func helperValues(profile string, i int) map[string]string {
	return map[string]string{
		KeyAccessKeyID:     fmt.Sprintf("ASIA%012d", i),
		KeySecretAccessKey: strings.Repeat(string(rune('a'+i%26)), 40),
		KeySessionToken:    strings.Repeat(fmt.Sprintf("%s-token-%d/", profile, i), 40),
		KeyExpiration:      time.Date(2026, 11, 22, 0, 0, i%60, 0, time.UTC).Format(time.RFC3339),
	}
}

// TestMain runs a helper child (helperProcess) when AWSFILE_TEST_HELPER is
// set, and the tests otherwise.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		helperProcess(mode)
	}
	os.Exit(m.Run())
}

// helperProcess does what a child is asked to and exits: 0 when done, 1
// with the error on stderr.
func helperProcess(mode string) {
	path, profile := os.Getenv(helperPathEnv), os.Getenv(helperProfileEnv)
	ctx := context.Background()
	fail := func(err error) {
		fmt.Fprint(os.Stderr, err.Error())
		os.Exit(1)
	}
	switch mode {
	case "write": // a few updates of its own profile, as `rolehop login` would
		for i := 1; i <= 3; i++ {
			if err := UpdateCredentials(ctx, path, profile, helperValues(profile, i)); err != nil {
				fail(err)
			}
		}
	case "once":
		if err := UpdateCredentials(ctx, path, profile, helperValues(profile, 1)); err != nil {
			fail(err)
		}
	case "stall": // stop forever in the middle of writing the temporary file
		testHookMidWrite = func() {
			_ = os.WriteFile(path+".stalled", nil, 0o600)
			for { // until killed; a sleep, not select{}: outside a test the
				// runtime would call a lone blocked goroutine a deadlock
				time.Sleep(time.Hour)
			}
		}
		if err := UpdateCredentials(ctx, path, profile, helperValues(profile, 1)); err != nil {
			fail(err)
		}
		fail(errors.New("the write finished instead of stalling"))
	case "loop": // write forever until killed
		_ = os.WriteFile(path+".started", nil, 0o600)
		for i := 1; ; i++ {
			if err := UpdateCredentials(ctx, path, profile, helperValues(profile, i)); err != nil {
				fail(err)
			}
		}
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
	os.Exit(0)
}

func helperCmd(bin, mode, path, profile string) *exec.Cmd {
	cmd := exec.Command(bin, "-test.run=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+mode, helperPathEnv+"="+path, helperProfileEnv+"="+profile)
	return cmd
}

// waitFor polls for a file a child creates; the limit only guards against a
// hung child.
func waitFor(t *testing.T, path string, cmd *exec.Cmd) {
	t.Helper()
	for range 6000 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	t.Fatalf("the child never created %s", path)
}

func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var tmp []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			tmp = append(tmp, filepath.Join(dir, e.Name()))
		}
	}
	return tmp
}

func TestConcurrentProcessesKeepEveryProfile(t *testing.T) {
	const n = 20
	original := fixture + "\n"
	path := filepath.Join(t.TempDir(), "credentials")
	writeFile(t, path, original, 0o600)

	cmds := make([]*exec.Cmd, n)
	stderr := make([]bytes.Buffer, n)
	for i := range cmds {
		cmds[i] = helperCmd(os.Args[0], "write", path, fmt.Sprintf("proc-%02d", i))
		cmds[i].Stderr = &stderr[i]
	}
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("writer %d: %v: %s", i, err, stderr[i].String())
		}
	}
	got := readFile(t, path)
	if !strings.HasPrefix(got, original) {
		t.Fatalf("the original content changed:\n%s", got)
	}
	profiles, err := Profiles(path, Credentials)
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) != 3+n {
		t.Fatalf("%d profiles, want %d: %v", len(profiles), 3+n, profiles)
	}
	for i := range n {
		p := fmt.Sprintf("proc-%02d", i)
		v, err := ReadProfile(path, Credentials, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if want := helperValues(p, 3); !slices.Equal(sortedPairs(v), sortedPairs(want)) {
			t.Errorf("%s holds %v, want its last write", p, v)
		}
	}
	if m := modeOf(t, path); m != 0o600 {
		t.Errorf("mode %v", m)
	}
	if tmp := tempFiles(t, filepath.Dir(path)); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

func sortedPairs(m map[string]string) []string {
	var s []string
	for k, v := range m {
		s = append(s, k+"="+v)
	}
	slices.Sort(s)
	return s
}

func TestKilledMidWriteLeavesTheOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	writeFile(t, path, fixture, 0o600)

	cmd := helperCmd(os.Args[0], "stall", path, "work")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, path+".stalled", cmd)
	// While the writer is stuck half way, readers see the old file.
	if v, err := ReadProfile(path, Credentials, "work"); err != nil || v[KeyAccessKeyID] != "AKIAWORK" {
		t.Fatalf("reader during the write: %v, %v", v, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed: %v %s", cmd.ProcessState, stderr.String())
	}
	if got := readFile(t, path); got != fixture {
		t.Fatalf("the file changed after the kill:\n%s", got)
	}
	tmp := tempFiles(t, dir)
	if len(tmp) != 1 {
		t.Fatalf("want the killed writer's temporary file, got %v", tmp)
	}
	full, err := edit(path, []byte(fixture), Credentials, []Update{{Profile: "work", Set: helperValues("work", 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if partial := readFile(t, tmp[0]); partial == "" || len(partial) >= len(full) || !strings.HasPrefix(string(full), partial) {
		t.Fatalf("the temporary file does not hold a partial write: %q", partial)
	}
	if m := modeOf(t, tmp[0]); m != 0o600 {
		t.Fatalf("the partial file has mode %v, want 0600", m)
	}

	// The kernel released the dead writer's lock: the next writer goes ahead.
	// A fresh leftover stays (it could belong to a live writer elsewhere) ...
	if err := UpdateCredentials(context.Background(), path, "work", helperValues("work", 2)); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, dir); !slices.Equal(left, tmp) {
		t.Fatalf("temporary files after a write: %v", left)
	}
	// ... an old one is removed by the next writer.
	old := time.Now().Add(-2 * staleTempAge)
	if err := os.Chtimes(tmp[0], old, old); err != nil {
		t.Fatal(err)
	}
	if err := UpdateCredentials(context.Background(), path, "work", helperValues("work", 3)); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Fatalf("old temporary file not cleaned up: %v", left)
	}
	if v, _ := ReadProfile(path, Credentials, "work"); v[KeyAccessKeyID] != helperValues("work", 3)[KeyAccessKeyID] {
		t.Fatalf("work = %v", v)
	}
}

func TestKilledAtRandomPointsLeavesAWholeFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "credentials")
	original := fixture + "\n"
	writeFile(t, path, original, 0o600)
	const profile = "looping"
	expected := func(n int) string {
		out, err := edit(path, []byte(original), Credentials, []Update{{Profile: profile, Set: helperValues(profile, n)}})
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	writes := 0
	for round := range 12 {
		_ = os.Remove(path + ".started")
		cmd := helperCmd(os.Args[0], "loop", path, profile)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, path+".started", cmd)
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: the child ended on its own: %v %s", round, cmd.ProcessState, stderr.String())
		}
		got := readFile(t, path)
		if got == original {
			continue
		}
		v, err := ReadProfile(path, Credentials, profile)
		if err != nil {
			t.Fatalf("round %d: the file is not whole: %v\n%s", round, err, got)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(v[KeyAccessKeyID], "ASIA"))
		if err != nil {
			t.Fatalf("round %d: unexpected key %q", round, v[KeyAccessKeyID])
		}
		if got != expected(n) {
			t.Fatalf("round %d: the file is a mix, not write %d:\n%s", round, n, got)
		}
		writes += n
	}
	t.Logf("the killed writers had finished %d writes between them", writes)
	old := time.Now().Add(-2 * staleTempAge)
	for _, tmp := range tempFiles(t, dir) {
		if err := os.Chtimes(tmp, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := UpdateCredentials(context.Background(), path, profile, helperValues(profile, 1)); err != nil {
		t.Fatal(err)
	}
	if left := tempFiles(t, dir); len(left) != 0 {
		t.Fatalf("old temporary files not cleaned up: %v", left)
	}
}

// TestUnwritableFolder checks a write into a folder the user cannot write
// fails with an error naming the path and changes nothing. As root (who may
// write anywhere) the write runs in a child process as user nobody.
func TestUnwritableFolder(t *testing.T) {
	base, err := os.MkdirTemp("", "awsfile-unwritable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = filepath.Walk(base, func(p string, _ os.FileInfo, _ error) error { return os.Chmod(p, 0o700) })
		_ = os.RemoveAll(base)
	})
	for _, withLock := range []bool{false, true} {
		t.Run(fmt.Sprintf("lock file present=%v", withLock), func(t *testing.T) {
			dir, err := os.MkdirTemp(base, "aws-")
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, "credentials")
			writeFile(t, path, fixture, 0o600)
			if withLock {
				writeFile(t, path+".lock", "", 0o600)
			}
			errText := writeAsUnprivileged(t, base, dir, path)
			t.Logf("error: %s", errText)
			want := path + ".lock"
			if withLock {
				want = "cannot write " + path
			}
			if !strings.Contains(errText, want) || !strings.Contains(errText, "permission denied") {
				t.Fatalf("error %q does not say %q and permission denied", errText, want)
			}
			if got := readFile(t, path); got != fixture {
				t.Fatalf("the file changed")
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 1+btoi(withLock) {
				t.Fatalf("the folder changed: %v", entries)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// writeAsUnprivileged makes dir read-only for the writer and runs one
// UpdateCredentials of path; it returns the error text.
func writeAsUnprivileged(t *testing.T, base, dir, path string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(dir, 0o700)
		err := UpdateCredentials(context.Background(), path, "p", helperValues("p", 1))
		if err == nil {
			t.Fatal("the write into a read-only folder succeeded")
		}
		return err.Error()
	}
	const nobody = 65534
	// The child must be able to run the test binary and read the file.
	bin := filepath.Join(base, "awsfile.test")
	if _, err := os.Stat(bin); err != nil {
		copyFile(t, os.Args[0], bin, 0o755)
	}
	for _, p := range []string{base, dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if err := os.Chown(filepath.Join(dir, e.Name()), nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
	cmd := helperCmd(bin, "once", path, "p")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("the unprivileged writer: %v %s", err, stderr.String())
	}
	return stderr.String()
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestRootKeepsTheUsersOwnership: `sudo rolehop login` writing into a user's
// ~/.aws must leave files the user can still open and replace.
func TestRootKeepsTheUsersOwnership(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, and this test needs it: it writes as root into another user's folder")
		}
		t.Skip("needs root to write as one user into another's folder")
	}
	const nobody = 65534
	dir := filepath.Join(t.TempDir(), ".aws")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "credentials")
	for i := 1; i <= 2; i++ { // creates the file, then replaces it
		if err := UpdateCredentials(context.Background(), path, "p", helperValues("p", i)); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{path, path + ".lock"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if st := fi.Sys().(*syscall.Stat_t); st.Uid != nobody || st.Gid != nobody {
				t.Fatalf("write %d: %s is owned by %d:%d, want the folder's owner", i, p, st.Uid, st.Gid)
			}
		}
	}
}
