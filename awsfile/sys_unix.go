//go:build unix

package awsfile

import (
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives f the owner and group of old when they differ (a root
// process writing a user's file); failure is ignored.
func keepOwner(f *os.File, old fs.FileInfo) {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return
	}
	_ = f.Chown(int(st.Uid), int(st.Gid))
}

// keepOwnerPath is keepOwner for a file named by path.
func keepOwnerPath(path string, old fs.FileInfo) {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return
	}
	if fi, err := os.Stat(path); err == nil {
		if cur, ok := fi.Sys().(*syscall.Stat_t); ok && cur.Uid == st.Uid && cur.Gid == st.Gid {
			return
		}
	}
	_ = os.Chown(path, int(st.Uid), int(st.Gid))
}
