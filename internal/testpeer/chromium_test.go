package testpeer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestChromium(t *testing.T) {
	p := Chromium(t)
	cmd := exec.Command(p, "--version")
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.Output(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("chromium --version did not answer within 30s")
	}
	if err != nil || !strings.Contains(string(out), "Chrom") {
		t.Fatalf("%s --version: %q, %v", p, out, err)
	}
	t.Logf("%s: %s", p, strings.TrimSpace(string(out)))
}

func TestFindChromiumMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("ROLEHOP_CHROMIUM", "")
	if _, err := FindChromium(); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "Debian package chromium") {
		t.Errorf("nothing on PATH: err = %v", err)
	}
	t.Setenv("ROLEHOP_CHROMIUM", "/nonexistent/chromium")
	if _, err := FindChromium(); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "ROLEHOP_CHROMIUM") {
		t.Errorf("a wrong ROLEHOP_CHROMIUM: err = %v", err)
	}
}

func TestArtifactDir(t *testing.T) {
	d := filepath.Join(t.TempDir(), "artifacts", "sub")
	t.Setenv("ROLEHOP_ARTIFACTS", d)
	if got := ArtifactDir(t); got != d {
		t.Errorf("ArtifactDir = %q, want %q", got, d)
	}
	if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
		t.Errorf("artifact folder not created: %v", err)
	}
	t.Setenv("ROLEHOP_ARTIFACTS", "")
	if got := ArtifactDir(t); got == "" || got == d {
		t.Errorf("without ROLEHOP_ARTIFACTS: %q, want a temporary folder", got)
	}
}
