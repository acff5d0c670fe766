//go:build unix

package broker

import (
	"fmt"
	"os"
	"syscall"
)

// checkTrusted refuses a file another local user could have written (or,
// for a secret, read). f is the opened file, so that what is checked is
// what is read.
func checkTrusted(path string, f *os.File, secret bool) error {
	uid := uint32(os.Geteuid())
	owned := func(fi os.FileInfo) bool {
		st, ok := fi.Sys().(*syscall.Stat_t)
		return ok && (st.Uid == uid || st.Uid == 0)
	}
	if li, err := os.Lstat(path); err == nil && li.Mode()&os.ModeSymlink != 0 && !owned(li) {
		return fmt.Errorf("%s is a symlink owned by another user; refusing to follow it", path)
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	switch {
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case !owned(fi):
		return fmt.Errorf("%s is owned by another user; it must belong to the broker's user or root", path)
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("%s is writable by group or others (mode %04o); chmod go-w it", path, fi.Mode().Perm())
	case secret && fi.Mode().Perm()&0o007 != 0:
		return fmt.Errorf("%s holds secrets but is readable by others (mode %04o); chmod 600 it", path, fi.Mode().Perm())
	}
	return nil
}
