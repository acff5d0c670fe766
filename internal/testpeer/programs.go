package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rolehop's own programs for process-level tests: each built at most once
// per test binary, on first use (so in-process tests do not pay for it),
// all into one folder, as `go install .../cmd/...` puts them side by side
// (rolehop-credential-process finds rolehop next to itself).
var programs struct {
	mu    sync.Mutex
	dir   string
	built map[string]string
	errs  map[string]error
}

// Program returns the path of rolehop's program cmd/name (for example
// "rolehop" or "rolehop-broker"), building it on first use. A test
// binary that calls it runs its tests through RunMain, which removes the
// programs' folder at the end.
func Program(t testing.TB, name string) string {
	t.Helper()
	programs.mu.Lock()
	defer programs.mu.Unlock()
	if p, ok := programs.built[name]; ok {
		return p
	}
	if err, ok := programs.errs[name]; ok {
		t.Fatal(err)
	}
	p, err := buildProgram(name)
	if err != nil {
		if programs.errs == nil {
			programs.errs = map[string]error{}
		}
		programs.errs[name] = err
		t.Fatal(err)
	}
	if programs.built == nil {
		programs.built = map[string]string{}
	}
	programs.built[name] = p
	return p
}

// buildProgram builds cmd/name into the programs' folder; programs.mu held.
func buildProgram(name string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go not on PATH: cannot build %s: %w", name, err)
	}
	if programs.dir == "" {
		dir, err := os.MkdirTemp("", "rolehop-programs-")
		if err != nil {
			return "", err
		}
		programs.dir = dir
	}
	p := filepath.Join(programs.dir, name)
	out, err := exec.Command(goBin, "build", "-o", p, "github.com/rolehop/rolehop/cmd/"+name).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build %s: %w\n%s", name, err, out)
	}
	return p, nil
}

// RunMain runs a test binary's tests (call it from TestMain), then removes
// the programs Program built.
func RunMain(m *testing.M) {
	code := m.Run()
	programs.mu.Lock()
	if programs.dir != "" {
		os.RemoveAll(programs.dir)
	}
	programs.mu.Unlock()
	os.Exit(code)
}

// ProcEnv is a clean environment for a rolehop process: the test's
// environment without any AWS_*, BROWSER or *_PROXY variable, empty AWS
// config and credentials files of its own, no instance metadata, proxies
// that would catch any non-loopback request, HOME a fresh folder; then
// extra ("K=V") on top.
func ProcEnv(t testing.TB, extra ...string) []string {
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
