package cli

// Helpers shared by the command tests: the rolehop binary for the few
// process-level tests (signals, exit codes, real clients running rolehop),
// a clean process environment, running the root command in-process, and a
// settable clock.

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
)

func TestMain(m *testing.M) { testpeer.RunMain(m) }

// fastBinary is rolehop-credential-process, built next to rolehopBinary
// (where it finds the full rolehop to hand over to).
func fastBinary(t testing.TB) string {
	t.Helper()
	rolehopBinary(t)
	return testpeer.Program(t, "rolehop-credential-process")
}

// rolehopBinary is cmd/rolehop, built once per test binary.
func rolehopBinary(t testing.TB) string {
	t.Helper()
	return testpeer.Program(t, "rolehop")
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
