package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/stsfake"
)

// buildRolehop builds the binary the way `make build` does.
func buildRolehop(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		// Not a peer but the toolchain: CI has it, so there its absence is
		// a failure, as a missing peer is.
		if os.Getenv("CI") == "true" {
			t.Fatalf("go not on PATH: cannot build the binary under test: %v", err)
		}
		t.Skip("go not on PATH: cannot build the binary")
	}
	bin := filepath.Join(t.TempDir(), "rolehop")
	out, err := exec.Command(goBin, "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBin runs the binary with env added and returns stdout, stderr and the
// exit code.
func runBin(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errOut.String(), 0
	case errors.As(err, &ee):
		return out.String(), errOut.String(), ee.ExitCode()
	default:
		t.Fatalf("run rolehop: %v", err)
		return "", "", -1
	}
}

func TestBinary(t *testing.T) {
	bin := buildRolehop(t)

	out, stderr, code := runBin(t, bin, nil, "--version")
	if code != 0 || out != "rolehop v9.9.9-test\n" || stderr != "" {
		t.Errorf("--version: code %d, stdout %q, stderr %q", code, out, stderr)
	}

	out, stderr, code = runBin(t, bin, nil, "whoami", "--bogus")
	if code != 2 || out != "" || stderr != "rolehop: unknown flag: --bogus\n" {
		t.Errorf("bad flag: code %d, stdout %q, stderr %q; want 2 and one line on stderr", code, out, stderr)
	}

	// An STS failure: exit code 5 and one line on stderr.
	srv := stsfake.NewForTest(t)
	srv.FailNext("GetCallerIdentity", 1, "AccessDenied")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"AWS_CONFIG_FILE=" + empty, "AWS_SHARED_CREDENTIALS_FILE=" + empty, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_STS=" + srv.URL, "AWS_REGION=us-east-1", "AWS_PROFILE=",
		"AWS_ACCESS_KEY_ID=AKIABINEXAMPLE", "AWS_SECRET_ACCESS_KEY=bin-secret-do-not-print", "AWS_SESSION_TOKEN=",
	}
	out, stderr, code = runBin(t, bin, env, "whoami")
	if code != 5 || out != "" || !strings.HasPrefix(stderr, "rolehop: ") || strings.Count(stderr, "\n") != 1 ||
		!strings.Contains(stderr, "AccessDenied") || strings.Contains(stderr, "bin-secret-do-not-print") {
		t.Errorf("sts failure: code %d, stdout %q, stderr %q; want 5 and one line naming AccessDenied", code, out, stderr)
	}

	out, stderr, code = runBin(t, bin, env, "whoami")
	if code != 0 || !strings.Contains(out, `"Arn": "arn:aws:iam::123456789012:user/rolehop-test"`) || stderr != "" {
		t.Errorf("whoami: code %d, stdout %q, stderr %q", code, out, stderr)
	}
}

// TestSignalEndsABlockedRun: rolehop blocked where no context reaches (the
// AWS SDK opening a FIFO as the credentials file) still ends on SIGTERM,
// after its grace period, with 128+15; before the fix it waited forever.
func TestSignalEndsABlockedRun(t *testing.T) {
	bin := buildRolehop(t)
	dir := t.TempDir()
	fifo := filepath.Join(dir, "credentials")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte("[profile p]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "whoami", "p")
	cmd.Env = append(os.Environ(), "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+fifo, "AWS_EC2_METADATA_DISABLED=true",
		"AWS_PROFILE=", "AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// Wait until it is blocked (it cannot finish: nothing writes the FIFO).
	select {
	case err := <-exited:
		t.Fatalf("rolehop ended before the signal: %v, stderr %q", err, errOut.String())
	case <-time.After(500 * time.Millisecond):
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 143 {
			t.Errorf("after SIGTERM: %v, want exit status 143; stderr %q", err, errOut.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("rolehop ignored SIGTERM while blocked in open()")
	}
}

// TestBrokerRunsItsOwnProgram: `rolehop broker` hands over to
// rolehop-broker (next to rolehop), whose message and exit code come back;
// without it, one line says how to install it.
func TestBrokerRunsItsOwnProgram(t *testing.T) {
	bin := buildRolehop(t)
	_, stderr, code := runBin(t, bin, nil, "broker", "--config", "/nonexistent/broker.yaml")
	if code != 127 || !strings.Contains(stderr, "rolehop-broker not found") || !strings.Contains(stderr, "go install") {
		t.Errorf("without rolehop-broker: exit %d, stderr %q", code, stderr)
	}
	broker := filepath.Join(filepath.Dir(bin), "rolehop-broker")
	if out, err := exec.Command("go", "build", "-o", broker, "../rolehop-broker").CombinedOutput(); err != nil {
		t.Fatalf("go build rolehop-broker: %v\n%s", err, out)
	}
	_, stderr, code = runBin(t, bin, nil, "broker", "--config", "/nonexistent/broker.yaml")
	if code != 6 || !strings.HasPrefix(stderr, "rolehop-broker: ") || !strings.Contains(stderr, "/nonexistent/broker.yaml") {
		t.Errorf("rolehop broker with a missing config: exit %d, stderr %q", code, stderr)
	}
}

// TestRolehopLinksNoBroker: the broker's web service, Prometheus and Redis
// client stay out of the rolehop binary (its start-up cost is paid by every
// credential_process the AWS CLI runs).
func TestRolehopLinksNoBroker(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/rolehop/rolehop/broker", "github.com/prometheus/", "github.com/redis/go-redis"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("rolehop links %s", dep)
			}
		}
	}
}
