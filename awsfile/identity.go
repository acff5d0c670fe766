package awsfile

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// ErrNoIdentity: the system does not give what Identity needs.
var ErrNoIdentity = errors.New("awsfile: no file identity on this system")

// FileIdentity says which version of a file was read: the device, inode,
// size, modification and change times of the file a path leads to. Every
// write changes the change time (ctime), which no user can set back, so
// an unchanged identity, recorded once the file was older than a second
// (coarse kernel clocks cannot then stamp a later write with the same
// times), means unchanged contents.
type FileIdentity struct {
	ID      string    // device, inode, size, mtime and ctime
	Changed time.Time // the later of mtime and ctime
}

// Identity returns the identity of the file at path, opened as every read
// opens it (the symlink rule, a regular file, without blocking).
// fs.ErrNotExist when it does not exist.
func Identity(path string) (FileIdentity, error) {
	p, err := expandHome(path)
	if err != nil {
		return FileIdentity{}, err
	}
	target, err := resolve(p)
	if err != nil {
		return FileIdentity{}, err
	}
	dir, base := filepath.Split(target)
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		return FileIdentity{}, err
	}
	defer d.Close()
	f, fi, err := d.OpenRegular(base)
	if err != nil {
		return FileIdentity{}, err
	}
	f.Close()
	return identityOf(fi)
}

func identityString(dev, ino uint64, size int64, mtime, ctime time.Time) FileIdentity {
	changed := mtime
	if ctime.After(changed) {
		changed = ctime
	}
	return FileIdentity{ID: fmt.Sprintf("%d:%d:%d:%d:%d", dev, ino, size, mtime.UnixNano(), ctime.UnixNano()), Changed: changed}
}

// Identity is the identity of the file the snapshot read (its fstat when
// it was opened); fs.ErrNotExist for a missing file.
func (s *Snapshot) Identity() (FileIdentity, error) {
	if s.fi == nil {
		return FileIdentity{}, fs.ErrNotExist
	}
	return identityOf(s.fi)
}
