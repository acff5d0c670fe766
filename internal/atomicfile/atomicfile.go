// Package atomicfile replaces a file's contents atomically: readers see the
// old file or the new one, never a mix or an empty file, even when the writer
// is killed mid-write. Every rolehop file that holds a secret (AWS
// credentials, the credential cache, a cached SAML assertion) is written
// through it.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Options tune Write. The zero value writes mode 0600.
type Options struct {
	// Perm is the new file's mode; 0 means 0600.
	Perm fs.FileMode
	// TempPattern is the os.CreateTemp pattern of the temporary file in the
	// target's folder; "" means ".<base>.*.tmp".
	TempPattern string
	// Prepare, when set, runs on the temporary file after its mode is set and
	// before anything is written (for example to give it the old file's owner).
	Prepare func(*os.File)
	// MidWrite, when set, runs after half of the data is written and synced:
	// a hook for crash tests.
	MidWrite func()
}

// Write replaces path with data: a temporary file in the same folder is
// created with o.Perm, written, fsynced and renamed over path, then the
// folder is fsynced so the rename survives a crash. On failure the temporary
// file is removed and path is untouched. The folder must exist.
func Write(path string, data []byte, o Options) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm, pattern := o.Perm, o.TempPattern
	if perm == 0 {
		perm = 0o600
	}
	if pattern == "" {
		pattern = "." + base + ".*.tmp"
	}
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		return err
	}
	if o.Prepare != nil {
		o.Prepare(tmp)
	}
	half := len(data) / 2
	if _, err := tmp.Write(data[:half]); err != nil {
		return err
	}
	if o.MidWrite != nil {
		if err := tmp.Sync(); err != nil {
			return err
		}
		o.MidWrite()
	}
	if _, err := tmp.Write(data[half:]); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return SyncDir(dir)
}

// SyncDir fsyncs a folder, so a rename or a new file in it is durable. On
// Windows, where folders cannot be fsynced (and renames are durable), it does
// nothing.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
