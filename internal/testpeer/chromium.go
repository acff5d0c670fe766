package testpeer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// chromiumNames are the browsers looked for on PATH, in order (Debian's
// package chromium installs /usr/bin/chromium).
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// FindChromium returns the Chromium or Chrome the tests drive:
// $ROLEHOP_CHROMIUM when set, else the first of chromium, chromium-browser,
// google-chrome, google-chrome-stable on PATH. The error wraps ErrMissing.
func FindChromium() (string, error) {
	if p := os.Getenv("ROLEHOP_CHROMIUM"); p != "" {
		found, err := exec.LookPath(p)
		if err != nil {
			return "", fmt.Errorf("ROLEHOP_CHROMIUM=%s: %v: %w", p, err, ErrMissing)
		}
		return found, nil
	}
	for _, name := range chromiumNames {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no chromium on PATH (Debian package chromium): %w", ErrMissing)
}

// Chromium returns the browser's path for a test, or ends the test with
// Missing (a failure when CI=true).
func Chromium(t testing.TB) string {
	t.Helper()
	p, err := FindChromium()
	if err != nil {
		Missing(t, "headless Chromium: %v", err)
		return ""
	}
	return p
}

// ArtifactDir returns the folder where a test keeps what a person may want
// to look at afterwards (screenshots): $ROLEHOP_ARTIFACTS when set (created
// if missing; `make test` sets it to artifacts/ at the repository root,
// which git ignores), else a temporary folder removed with the test.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("ROLEHOP_ARTIFACTS")
	if d == "" {
		return t.TempDir()
	}
	d, err := filepath.Abs(d)
	if err != nil {
		t.Fatalf("ROLEHOP_ARTIFACTS: %v", err)
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatalf("ROLEHOP_ARTIFACTS: %v", err)
	}
	return d
}
