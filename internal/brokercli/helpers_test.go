package brokercli

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rolehop/rolehop/internal/cli"
	"github.com/spf13/cobra"
)

// execute runs the broker command in-process with args.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := cli.Test()
	cmd := NewCmd(cli.NewFactory(ios), nil)
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageError(err) })
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// brokerBinary builds cmd/rolehop-broker once per test run.
func brokerBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rolehop-broker-test-")
		if err != nil {
			binErr = err
			return
		}
		p := filepath.Join(dir, "rolehop-broker")
		out, err := exec.Command("go", "build", "-o", p, "github.com/rolehop/rolehop/cmd/rolehop-broker").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		binPath = p
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// procEnv is a clean environment for a broker process: no AWS_* variable
// from the test's environment, empty AWS files, no instance metadata, every
// proxy pointing at a closed port; then extra ("K=V") on top.
func procEnv(t *testing.T, extra ...string) []string {
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
		if strings.HasPrefix(k, "AWS_") || strings.HasSuffix(strings.ToUpper(k), "_PROXY") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "AWS_CONFIG_FILE="+cfg, "AWS_SHARED_CREDENTIALS_FILE="+creds, "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost", "HOME="+dir)
	return append(env, extra...)
}
