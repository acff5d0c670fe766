// Package testpeer starts the real peers rolehop's tests talk to — MinIO
// (STS AssumeRole and S3), SimpleSAMLphp (a SAML IdP) and Redis — as plain
// processes on loopback ports chosen at run time, with their files in a
// folder the caller owns.
//
// Tests use the New* constructors: each starts a fresh peer in t.TempDir()
// and stops it in t.Cleanup. When a peer's binary or package is missing the
// test is skipped with the command that installs it (`make peers`), or fails
// when CI=true. Programs that are not tests (the demo) use the Start*
// functions and call Stop themselves.
//
// Every child process is started with Pdeathsig=SIGKILL, so a crashed or
// killed test binary leaves no peer behind.
package testpeer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ErrMissing reports that a peer's binary or package is not installed.
// `make peers` (scripts/install-peers.sh) installs every peer.
var ErrMissing = errors.New("test peer not installed")

// startTimeout bounds how long a peer may take to become ready.
const startTimeout = 90 * time.Second

// stopTimeout bounds how long a peer may take to exit after SIGTERM before
// it is killed.
const stopTimeout = 10 * time.Second

// BinDir is the folder holding the minio, mc and staticcheck binaries built by
// scripts/install-peers.sh: $ROLEHOP_PEERS_DIR/bin, by default
// $HOME/.cache/rolehop-peers/bin.
func BinDir() string {
	if d := os.Getenv("ROLEHOP_PEERS_DIR"); d != "" {
		return filepath.Join(d, "bin")
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "rolehop-peers", "bin")
}

// Missing reports a missing peer: it fails the test when the environment
// variable CI is "true" and skips it otherwise. The message says to run
// `make peers`.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...) + " (run `make peers` to install the test peers)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s", msg)
		return
	}
	t.Skipf("%s", msg)
}

// fatalOrMissing ends the test for a failed start: Missing for ErrMissing,
// Fatalf otherwise.
func fatalOrMissing(t testing.TB, what string, err error) {
	t.Helper()
	if errors.Is(err, ErrMissing) {
		Missing(t, "%s: %v", what, err)
		return
	}
	t.Fatalf("%s: %v", what, err)
}

// findPeerBin looks for a peer binary in BinDir, then on PATH.
func findPeerBin(name string) (string, error) {
	p := filepath.Join(BinDir(), name)
	if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found in %s or on PATH: %w", name, BinDir(), ErrMissing)
}

// findSystemBin looks for a binary installed by a Debian package.
func findSystemBin(name, pkg string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found on PATH (Debian package %s): %w", name, pkg, ErrMissing)
	}
	return p, nil
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// proc is one running peer process.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
	stopping bool
}

// startProc starts bin with args and extra environment, stdout and stderr
// appended to logPath.
func startProc(name, bin string, args, env []string, dir, logPath string) (*proc, error) {
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout = lf
	cmd.Stderr = lf
	cmd.SysProcAttr = peerProcAttr()
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, logFile: lf, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to stopTimeout, then kills the process. It is
// safe to call more than once.
func (p *proc) stop() error {
	p.stopOnce.Do(func() {
		if p.exited() {
			if p.waitErr != nil {
				p.stopErr = fmt.Errorf("%s had already exited: %v; log %s: %s", p.name, p.waitErr, p.logPath, tailLog(p.logPath))
			}
			return
		}
		p.stopping = true
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p.stopErr
}

// waitReady polls ready until it returns nil, the process exits, ctx ends or
// startTimeout passes. Errors carry the tail of the log.
func (p *proc) waitReady(ctx context.Context, ready func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var last error
	for delay := 20 * time.Millisecond; ; {
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v); log %s: %s", p.name, p.waitErr, p.logPath, tailLog(p.logPath))
		}
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		last = ready(rctx)
		rcancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %v (last check: %v); log %s: %s", p.name, ctx.Err(), last, p.logPath, tailLog(p.logPath))
		case <-p.done:
		case <-time.After(delay):
		}
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

// tailLog returns the last lines of a log file on one line, separated by " | ".
func tailLog(path string) string {
	const maxLines = 15
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	if len(lines) == 0 {
		return "(empty)"
	}
	return strings.Join(lines, " | ")
}

// startWithRetry runs start up to three times when the process exits before
// it is ready (most often because a just-chosen port was taken meanwhile).
func startWithRetry(ctx context.Context, start func(attempt int) (*proc, error)) (*proc, error) {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		var p *proc
		p, err = start(attempt)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, ErrMissing) || ctx.Err() != nil || p == nil || !p.exited() {
			if p != nil {
				_ = p.stop()
			}
			return nil, err
		}
	}
	return nil, err
}

func itoa(i int) string { return strconv.Itoa(i) }
