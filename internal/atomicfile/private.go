package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNotPrivate reports a folder or file that someone other than the
// process's user could change (or read, for a file): another owner, or
// group or other permission bits.
var ErrNotPrivate = errors.New("not private to this user")

// OpenPrivate opens the folder at path for files only this user may
// change, creating it (0700, with missing parents) when create is set. The
// folder must be a folder, not a symlink, owned by the process's user, with
// no group or other write bit; otherwise the error says what is wrong
// (ErrNotDir, ErrNotPrivate). A folder of ours that others may only read or
// traverse is tightened to 0700: tightened is then the mode it had (0
// otherwise). Ownership and modes are checked only where the system has
// Unix owners.
func OpenPrivate(path string, create bool) (d *Dir, tightened fs.FileMode, err error) {
	if create {
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, 0, err
		}
	}
	d, err = OpenDir(path)
	if err != nil {
		return nil, 0, err
	}
	fi := d.Info()
	uid, _, ok := Owner(fi)
	if !ok {
		return d, 0, nil
	}
	if uid != os.Geteuid() {
		d.Close()
		return nil, 0, fmt.Errorf("%w: %s is owned by uid %d, not by this user (uid %d); remove it or use another folder", ErrNotPrivate, path, uid, os.Geteuid())
	}
	perm := fi.Mode().Perm()
	switch {
	case perm&0o022 != 0:
		d.Close()
		return nil, 0, fmt.Errorf("%w: the mode of %s, %04o, lets others change it; remove it (rolehop recreates it 0700)", ErrNotPrivate, path, perm)
	case perm&0o077 != 0:
		if err := d.Chmod(0o700); err != nil {
			d.Close()
			return nil, 0, fmt.Errorf("%w: the mode of %s, %04o, lets others read it, and it cannot be tightened: %v", ErrNotPrivate, path, perm, err)
		}
		return d, perm, nil
	}
	return d, 0, nil
}

// CheckPrivate accepts a file (its fstat) only when the process's user owns
// it and it has no group or other permission bits. Where the system has no
// Unix owners it accepts everything.
func CheckPrivate(fi fs.FileInfo) error {
	uid, _, ok := Owner(fi)
	if !ok {
		return nil
	}
	if uid != os.Geteuid() {
		return fmt.Errorf("%w: it is owned by uid %d, not by this user", ErrNotPrivate, uid)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("%w: its mode %04o lets others read or change it", ErrNotPrivate, perm)
	}
	return nil
}
