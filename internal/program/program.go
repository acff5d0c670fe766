// Package program finds rolehop's programs, installed side by side by
// `go install github.com/rolehop/rolehop/cmd/...`, and hands the running
// process over to one. It uses the standard library only: the
// credential_process fast path links it.
package program

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// ErrNotFound: the program is neither next to the running one nor on PATH.
var ErrNotFound = errors.New("not found")

// Find returns the path of rolehop's program name (".exe" added on
// Windows): next to the running executable (its symlinks resolved), else
// in the absolute folders of PATH (never a relative entry such as the
// current folder). It must be a regular file with an execute bit, and
// never the running executable itself.
func Find(name string) (string, error) {
	if runtime.GOOS == "windows" {
		name += ".exe"
	}
	self, err := os.Executable()
	if err == nil {
		if resolved, err := filepath.EvalSymlinks(self); err == nil {
			self = resolved
		}
	} else {
		self = ""
	}
	dir := "(unknown)"
	if self != "" {
		dir = filepath.Dir(self)
		if p := filepath.Join(dir, name); usable(p, self) {
			return p, nil
		}
	}
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		if d == "" || !filepath.IsAbs(d) {
			continue
		}
		if p := filepath.Join(d, name); usable(p, self) {
			return p, nil
		}
	}
	return "", fmt.Errorf("cannot find %s next to this program (%s) or on PATH: %w", name, dir, ErrNotFound)
}

// usable: p is a regular file with an execute bit (any file on Windows),
// and not self.
func usable(p, self string) bool {
	fi, err := os.Stat(p)
	if err != nil || !fi.Mode().IsRegular() {
		return false
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0 {
		return false
	}
	if self != "" {
		if si, err := os.Stat(self); err == nil && os.SameFile(fi, si) {
			return false
		}
	}
	return true
}
