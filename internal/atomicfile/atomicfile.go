// Package atomicfile replaces a file's contents atomically: readers see the
// old file or the new one, never a mix or an empty file, even when the writer
// is killed mid-write. Every rolehop file that holds a secret (AWS
// credentials, the credential cache, a cached SAML assertion) is written
// through it.
//
// It also holds the rest of what those files need, in one place: Dir, a
// folder opened once so that every later step (open, lock, write, rename,
// sweep) is relative to its descriptor; reads and locks that never follow a
// symlink, never block on a FIFO and refuse anything but a regular file
// (fstat after open); a lock (flock on the checked descriptor) whose wait is
// bounded; root giving files their user's ownership through the descriptor
// (KeepOwner), never by path; and the sweep of temporary files left by
// writers killed between create and rename (Dir.RemoveStale).
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
	// NoSync skips the fsyncs of the file and the folder: for a hint whose
	// loss to a power cut costs only its recomputation, read by a reader
	// that checks it (a truncated file is then an unusable hint, never
	// trusted data). Every reader still sees the old file or the whole new
	// one. Never for credentials or a user's files.
	NoSync bool
}

// Write replaces path with data: a temporary file in the same folder is
// created with o.Perm, written, fsynced and renamed over path, then the
// folder is fsynced so the rename survives a crash. On failure the temporary
// file is removed and path is untouched. The folder must exist; it is
// opened once and every step is relative to it (see Dir).
func Write(path string, data []byte, o Options) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	d := &Dir{root: root, path: dir}
	defer d.Close()
	return d.Write(base, data, o)
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
