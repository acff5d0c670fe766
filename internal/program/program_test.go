package program

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestFindOnPath: Find takes an executable regular file from an absolute
// PATH folder; it skips relative folders (the current folder), files
// without an execute bit and folders of that name, and says what is
// missing otherwise.
func TestFindOnPath(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("execute bits are Unix's")
	}
	const name = "rolehop-program-test-tool"
	good, noExec, asDir := t.TempDir(), t.TempDir(), t.TempDir()
	write := func(dir string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := write(good, 0o755)
	write(noExec, 0o644)
	if err := os.Mkdir(filepath.Join(asDir, name), 0o755); err != nil {
		t.Fatal(err)
	}
	rel := t.TempDir()
	write(rel, 0o755)
	t.Chdir(rel)

	t.Setenv("PATH", "."+string(os.PathListSeparator)+noExec+string(os.PathListSeparator)+asDir+string(os.PathListSeparator)+good)
	if got, err := Find(name); err != nil || got != want {
		t.Errorf("Find = %q, %v; want %q (., a non-executable file and a folder skipped)", got, err, want)
	}
	t.Setenv("PATH", "."+string(os.PathListSeparator)+noExec)
	if got, err := Find(name); !errors.Is(err, ErrNotFound) {
		t.Errorf("Find = %q, %v; want ErrNotFound", got, err)
	}
}

// TestFindNeverSelf: the running program is never its own answer, even
// when it is on PATH under the name asked for.
func TestFindNeverSelf(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	self, _ = filepath.EvalSymlinks(self)
	dir, base := filepath.Split(self)
	t.Setenv("PATH", dir)
	if got, err := Find(base); err == nil {
		t.Errorf("Find(%q) = %q: the running program itself", base, got)
	}
}
