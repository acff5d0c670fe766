//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"syscall"
)

// oNonblock makes open() of a FIFO return at once instead of waiting for a
// writer; on a regular file it changes nothing.
const oNonblock = syscall.O_NONBLOCK

const syncDirs = true

// Owner returns the uid and gid of a FileInfo from Stat, Lstat or fstat.
func Owner(fi fs.FileInfo) (uid, gid int, ok bool) {
	if fi == nil {
		return 0, 0, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, false
	}
	return int(st.Uid), int(st.Gid), true
}

func links(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// KeepOwner gives the open file f (whose fstat is fi) the uid and gid of
// owner, through the descriptor (fchown, never by path), when the process
// runs as root and they differ: root writing a user's file leaves a file
// the user still owns. A file with other hard links is left alone, so a
// link to someone else's file never changes hands. Failure is ignored.
func KeepOwner(f *os.File, fi, owner fs.FileInfo) {
	if os.Geteuid() != 0 {
		return
	}
	uid, gid, ok := Owner(owner)
	if !ok {
		return
	}
	if cu, cg, ok := Owner(fi); ok && cu == uid && cg == gid {
		return
	}
	if fi != nil && links(fi) > 1 {
		return
	}
	_ = f.Chown(uid, gid)
}
