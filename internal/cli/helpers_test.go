package cli

// Helpers shared by the command tests: the rolehop binary for the few
// process-level tests (signals, exit codes, real clients running rolehop),
// a clean process environment, running the root command in-process, and a
// settable clock.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The rolehop binary for process tests: built at most once per test run
// (on first use, so in-process tests do not pay for it), removed by TestMain.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error

	fastOnce  sync.Once
	fastPath  string
	fastError error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rolehop-cli-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// fastBinary returns the path of rolehop-credential-process built from
// ./cmd/rolehop-credential-process next to rolehopBinary (where it finds
// the full rolehop to hand over to), building both on first use.
func fastBinary(t testing.TB) string {
	t.Helper()
	rolehopBinary(t)
	fastOnce.Do(func() {
		p := filepath.Join(binDir, "rolehop-credential-process")
		out, err := exec.Command("go", "build", "-o", p, "github.com/rolehop/rolehop/cmd/rolehop-credential-process").CombinedOutput()
		if err != nil {
			fastError = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		fastPath = p
	})
	if fastError != nil {
		t.Fatal(fastError)
	}
	return fastPath
}

// rolehopBinary returns the path of the rolehop binary built from
// ./cmd/rolehop, building it on first use.
func rolehopBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			binError = fmt.Errorf("go not on PATH: %w", err)
			return
		}
		p := filepath.Join(binDir, "rolehop")
		out, err := exec.Command(goBin, "build", "-o", p, "github.com/rolehop/rolehop/cmd/rolehop").CombinedOutput()
		if err != nil {
			binError = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		binPath = p
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// procEnv is a clean environment for a rolehop process: no AWS_* or BROWSER
// variable from the test's environment, empty AWS config and credentials
// files, no instance metadata, proxies that would catch any non-loopback
// request; then extra ("K=V") on top.
func procEnv(t testing.TB, extra ...string) []string {
	t.Helper()
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	for _, f := range []string{cfg, creds} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "BROWSER" || strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env,
		"AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds,
		"AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		"HOME="+dir,
	)
	return append(env, extra...)
}

// runRolehop runs the binary with env and returns stdout, stderr and the
// exit code.
func runRolehop(t testing.TB, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runBinary(t, rolehopBinary(t), env, args...)
}

// runBinary runs bin with env and returns stdout, stderr and the exit code.
func runBinary(t testing.TB, bin string, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run rolehop: %v", err)
	}
	return out.String(), errOut.String(), code
}

// execute runs the root command with args on test streams.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := Test()
	cmd := NewRootCmd(NewFactory(ios), "v1.2.3-test")
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// fakeClock is a settable clock; After advances it and fires at once.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

func lookPath(name string) (string, error) { return exec.LookPath(name) }
