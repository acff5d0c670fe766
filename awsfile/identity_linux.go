//go:build linux

package awsfile

import (
	"io/fs"
	"syscall"
	"time"
)

func identityOf(fi fs.FileInfo) (FileIdentity, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileIdentity{}, ErrNoIdentity
	}
	return identityString(uint64(st.Dev), st.Ino, st.Size, time.Unix(st.Mtim.Unix()), time.Unix(st.Ctim.Unix())), nil
}
