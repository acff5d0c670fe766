//go:build unix

package credcache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// The cache's own atomicity under a crash (issue 17): writers killed at
// random points and in the middle of a write leave either the old entry
// or a whole new one, never a mix; their temporary files are swept.

func helperCmd(mode, dir, signal string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CREDCACHE_HELPER="+mode, "CREDCACHE_DIR="+dir, "CREDCACHE_SIGNAL="+signal)
	return cmd
}

// waitForFile polls for a file the child creates; the limit only guards
// against a hung child.
func waitForFile(t *testing.T, path string, cmd *exec.Cmd) {
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

func killed(t *testing.T, cmd *exec.Cmd, stderr *bytes.Buffer) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("the child was not killed but ended: %v %s", cmd.ProcessState, stderr.String())
	}
}

// wholeEntry checks the entry file is one complete write: it parses, and
// its key, secret and token all come from the same fetch.
func wholeEntry(t *testing.T, path string) (int, bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false
	}
	if err != nil {
		t.Fatal(err)
	}
	e, reason := parse(data)
	if reason != "" {
		t.Fatalf("the entry is not whole (%s):\n%s", reason, data)
	}
	var n int
	if _, err := fmt.Sscanf(e.Credentials.AccessKeyID, "ASIATEST%04d", &n); err != nil {
		t.Fatalf("unexpected key %q", e.Credentials.AccessKeyID)
	}
	want := creds(n, time.Time{})
	if e.Credentials.SecretAccessKey != want.SecretAccessKey || e.Credentials.SessionToken != want.SessionToken {
		t.Fatalf("the entry mixes two writes: key %s with secret %s", e.Credentials.AccessKeyID, e.Credentials.SecretAccessKey)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("entry mode %v %v", fi.Mode(), err)
	}
	return n, true
}

func temps(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

func ageAll(t *testing.T, paths []string) {
	t.Helper()
	old := time.Now().Add(-2 * staleTempAge)
	for _, p := range paths {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
}

func TestKilledAtRandomPointsLeavesAWholeEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	entry := filepath.Join(dir, testKey+".json")
	signal := filepath.Join(t.TempDir(), "started")
	writes := 0
	for round := range 12 {
		_ = os.Remove(signal)
		cmd := helperCmd("loop", dir, signal)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForFile(t, signal, cmd)
		time.Sleep(time.Duration(rand.IntN(40_000)) * time.Microsecond)
		killed(t, cmd, &stderr)
		if n, ok := wholeEntry(t, entry); ok {
			writes++
			t.Logf("round %d: entry from fetch %d", round, n)
		}
	}
	if writes == 0 {
		t.Fatal("no killed writer ever finished a write: the test checked nothing")
	}
	left := temps(t, dir)
	t.Logf("%d temporary files left by killed writers", len(left))
	ageAll(t, left)
	c := &Cache{Dir: dir, RefreshWindow: 2 * time.Hour}
	if _, err := c.Get(t.Context(), testKey, func(context.Context) (aws.Credentials, error) {
		return creds(1, time.Now().Add(time.Hour)), nil
	}); err != nil {
		t.Fatal(err)
	}
	if left := temps(t, dir); len(left) != 0 {
		t.Fatalf("old temporary files not swept: %v", left)
	}
}

func TestKilledMidWriteLeavesTheOldEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	entry := filepath.Join(dir, testKey+".json")
	c := &Cache{Dir: dir}
	if _, err := c.Get(t.Context(), testKey, func(context.Context) (aws.Credentials, error) {
		return creds(1, time.Now().Add(time.Hour)), nil
	}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(entry)

	signal := filepath.Join(t.TempDir(), "stalled")
	cmd := helperCmd("stall", dir, signal)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, signal, cmd)
	// Half way through the write, readers still get the old entry.
	cr, err := c.Get(t.Context(), testKey, func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("must not fetch")
	})
	if err != nil || cr.AccessKeyID != "ASIATEST0001" {
		t.Fatalf("reader during the write: %s %v", cr.AccessKeyID, err)
	}
	killed(t, cmd, &stderr)
	if after, _ := os.ReadFile(entry); !bytes.Equal(after, before) {
		t.Fatalf("the entry changed after the kill:\n%s", after)
	}
	tmp := temps(t, dir)
	if len(tmp) != 1 {
		t.Fatalf("want the killed writer's temporary file, got %v", tmp)
	}
	partial, _ := os.ReadFile(tmp[0])
	if len(partial) == 0 || !bytes.HasPrefix(partial, []byte(`{"Credentials":{"AccessKeyId":"ASIATEST5000"`)) {
		t.Fatalf("the temporary file does not hold the partial write: %q", partial)
	}
	if fi, _ := os.Stat(tmp[0]); fi.Mode().Perm() != 0o600 {
		t.Fatalf("the partial file has mode %v, want 0600", fi.Mode().Perm())
	}
	// A fresh leftover stays (it could be a live writer's); an old one goes
	// with the next write.
	refresh := &Cache{Dir: dir, RefreshWindow: 2 * time.Hour}
	get := func(n int) {
		if _, err := refresh.Get(t.Context(), testKey, func(context.Context) (aws.Credentials, error) {
			return creds(n, time.Now().Add(time.Hour)), nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	get(2)
	if left := temps(t, dir); len(left) != 1 {
		t.Fatalf("temporary files after a write: %v", left)
	}
	ageAll(t, tmp)
	get(3)
	if left := temps(t, dir); len(left) != 0 {
		t.Fatalf("old temporary file not swept: %v", left)
	}
	if n, ok := wholeEntry(t, entry); !ok || n != 3 {
		t.Fatalf("entry from fetch %d, want 3", n)
	}
}
