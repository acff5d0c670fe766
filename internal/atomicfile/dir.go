package atomicfile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
)

// Dir is a folder opened once (os.Root: a file descriptor on Unix). Every
// operation on it names a file directly inside it and is made relative to
// that descriptor, so renaming the folder, or replacing it or one of its
// parents by a symlink after OpenDir, cannot redirect the operation
// elsewhere. Files in it are opened without blocking (a FIFO or a device
// answers at once, and is refused: only regular files are read or locked),
// and a name that is a symlink is refused rather than followed.
type Dir struct {
	root *os.Root
	path string
	info fs.FileInfo
}

var (
	// ErrNotRegular reports a name that is not a regular file: a symlink,
	// a FIFO, a device, a socket or a folder. The error is a
	// *NotRegularError.
	ErrNotRegular = errors.New("not a regular file")
	// ErrNotDir reports a folder path that is a symlink or not a folder.
	ErrNotDir = errors.New("not a folder")
	// ErrChanged reports a file or folder replaced between two looks at
	// it (a race with another process).
	ErrChanged = errors.New("changed while being opened")
	// ErrTooLarge reports a file larger than the caller's limit.
	ErrTooLarge = errors.New("file too large")
	// ErrLockTimeout reports a lock still held by another process when the
	// wait ended.
	ErrLockTimeout = errors.New("timed out waiting for the lock")
	// ErrLinked reports a lock file with more than one hard link.
	ErrLinked = errors.New("file has other hard links")
)

// NotRegularError is a path that is not a regular file.
type NotRegularError struct {
	Path string
	// Kind says what it is instead: "a symlink", "a FIFO (named pipe)",
	// "a character device", "a block device", "a socket", "a folder".
	Kind string
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("%s is %s, not a regular file", e.Path, e.Kind)
}

// Is makes errors.Is(err, ErrNotRegular) true.
func (e *NotRegularError) Is(target error) bool { return target == ErrNotRegular }

// Kind describes a file mode for messages: "a regular file", "a symlink",
// "a FIFO (named pipe)", ...
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular():
		return "a regular file"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a folder"
	}
	return "not a regular file (" + m.Type().String() + ")"
}

// OpenDir opens the folder at path. path itself must be a folder, not a
// symlink to one (its parents may be symlinks); the folder opened is
// checked to be the one looked at.
func OpenDir(path string) (*Dir, error) {
	li, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if !li.IsDir() {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotDir, path, Kind(li.Mode()))
	}
	root, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	ri, err := root.Stat(".")
	if err != nil {
		_ = root.Close()
		return nil, err
	}
	if !os.SameFile(li, ri) {
		_ = root.Close()
		return nil, fmt.Errorf("%w: the folder %s", ErrChanged, path)
	}
	return &Dir{root: root, path: path, info: ri}, nil
}

// Path is the folder's path as given to OpenDir.
func (d *Dir) Path() string { return d.path }

// Info is the folder's fstat.
func (d *Dir) Info() fs.FileInfo { return d.info }

// Join is the path of name in the folder, for messages.
func (d *Dir) Join(name string) string { return strings.TrimSuffix(d.path, "/") + "/" + name }

// Close releases the folder's descriptor.
func (d *Dir) Close() error { return d.root.Close() }

// Lstat is os.Lstat of name in the folder.
func (d *Dir) Lstat(name string) (fs.FileInfo, error) { return d.root.Lstat(name) }

// Remove removes name (a symlink itself, never its target).
func (d *Dir) Remove(name string) error { return d.root.Remove(name) }

// Chmod changes the folder's own mode (through its descriptor).
func (d *Dir) Chmod(mode fs.FileMode) error {
	f, err := d.root.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Chmod(mode); err != nil {
		return err
	}
	d.info, err = f.Stat()
	return err
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("atomicfile: %q is not a file name in the folder", name)
	}
	return nil
}

// open opens name (which must be a regular file or, with O_CREATE, absent)
// with flag plus O_NONBLOCK, and checks with fstat that it is a regular
// file and the one looked at.
func (d *Dir) open(name string, flag int, perm fs.FileMode) (*os.File, fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, nil, err
	}
	li, err := d.root.Lstat(name)
	switch {
	case err == nil && !li.Mode().IsRegular():
		return nil, nil, &NotRegularError{Path: d.Join(name), Kind: Kind(li.Mode())}
	case err != nil && !(errors.Is(err, fs.ErrNotExist) && flag&os.O_CREATE != 0):
		return nil, nil, err
	}
	f, err := d.root.OpenFile(name, flag|oNonblock, perm)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		_ = f.Close()
		return nil, nil, &NotRegularError{Path: d.Join(name), Kind: Kind(fi.Mode())}
	}
	if li != nil && !os.SameFile(li, fi) {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%w: %s", ErrChanged, d.Join(name))
	}
	return f, fi, nil
}

// OpenRegular opens name for reading. A name that is a symlink, a FIFO, a
// device, a socket or a folder is a *NotRegularError (no open() blocks); a
// missing file is fs.ErrNotExist. The FileInfo is the open file's fstat.
func (d *Dir) OpenRegular(name string) (*os.File, fs.FileInfo, error) {
	return d.open(name, os.O_RDONLY, 0)
}

// ReadFile reads name as OpenRegular opens it. check, when set, runs on the
// fstat before anything is read and may refuse the file. A file larger than
// limit bytes (0: no limit) is ErrTooLarge.
func (d *Dir) ReadFile(name string, limit int64, check func(fs.FileInfo) error) ([]byte, fs.FileInfo, error) {
	f, fi, err := d.OpenRegular(name)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	if check != nil {
		if err := check(fi); err != nil {
			return nil, fi, err
		}
	}
	if limit > 0 && fi.Size() > limit {
		return nil, fi, fmt.Errorf("%w: %s holds %d bytes, more than %d", ErrTooLarge, d.Join(name), fi.Size(), limit)
	}
	r := io.Reader(f)
	if limit > 0 {
		r = io.LimitReader(f, limit+1)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fi, err
	}
	if limit > 0 && int64(len(data)) > limit {
		return nil, fi, fmt.Errorf("%w: %s grew past %d bytes while being read", ErrTooLarge, d.Join(name), limit)
	}
	return data, fi, nil
}

// LockOptions tune Dir.Lock.
type LockOptions struct {
	// Timeout bounds the wait for another holder; 0 waits as long as the
	// context allows.
	Timeout time.Duration
	// Retry is how often the lock is tried again; 0 means 10ms.
	Retry time.Duration
	// Owner, when set and the process runs as root, gives the lock file
	// Owner's uid and gid (through the descriptor, never by path).
	Owner fs.FileInfo
}

// Lock is a held exclusive lock on a file in a Dir.
type Lock struct {
	f *os.File
}

// Lock takes an exclusive lock (flock on Unix) on the file name in the
// folder, creating it 0600 when missing. The lock file must be a regular
// file with one link: a symlink, FIFO, device or hard link planted under
// its name is refused, never followed or chowned. The wait ends at
// o.Timeout (ErrLockTimeout) or when ctx ends (ctx.Err()).
func (d *Dir) Lock(ctx context.Context, name string, o LockOptions) (*Lock, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, fi, err := d.open(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if links(fi) > 1 {
		_ = f.Close()
		return nil, fmt.Errorf("%w: %s has %d hard links; remove it", ErrLinked, d.Join(name), links(fi))
	}
	if o.Owner != nil {
		KeepOwner(f, fi, o.Owner)
	}
	retry := o.Retry
	if retry <= 0 {
		retry = 10 * time.Millisecond
	}
	var deadline <-chan time.Time
	if o.Timeout > 0 {
		t := time.NewTimer(o.Timeout)
		defer t.Stop()
		deadline = t.C
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("atomicfile: lock %s: %w", d.Join(name), err)
		}
		if ok {
			return &Lock{f: f}, nil
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-deadline:
			_ = f.Close()
			return nil, fmt.Errorf("%w %s (waited %s)", ErrLockTimeout, d.Join(name), o.Timeout)
		case <-time.After(retry):
		}
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := unlock(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	return err
}

// tempName makes a temporary name from pattern ("*" is replaced by random
// hex; without "*" the random part goes at the end).
func tempName(pattern string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	r := hex.EncodeToString(b)
	if i := strings.LastIndexByte(pattern, '*'); i >= 0 {
		return pattern[:i] + r + pattern[i+1:]
	}
	return pattern + r
}

// Write replaces name in the folder with data as Write does, every step
// relative to the folder's descriptor.
func (d *Dir) Write(name string, data []byte, o Options) error {
	if err := checkName(name); err != nil {
		return err
	}
	perm, pattern := o.Perm, o.TempPattern
	if perm == 0 {
		perm = 0o600
	}
	if pattern == "" {
		pattern = "." + name + ".*.tmp"
	}
	var (
		tmp     *os.File
		tmpName string
		err     error
	)
	for range 10 {
		tmpName = tempName(pattern)
		// O_CREATE|O_EXCL never follows a symlink.
		tmp, err = d.root.OpenFile(tmpName, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = d.root.Remove(tmpName)
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
	if !o.NoSync {
		if err := tmp.Sync(); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := d.root.Rename(tmpName, name); err != nil {
		return err
	}
	done = true
	if o.NoSync {
		return nil
	}
	return d.sync()
}

func (d *Dir) sync() error {
	if !syncDirs {
		return nil
	}
	f, err := d.root.Open(".")
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// RemoveStale removes the regular files of the folder whose name match
// accepts and that were last modified more than age before now: the
// temporary files of writers killed between create and rename. It returns
// the names removed. A writer's own temporary file lives for milliseconds,
// so an age of a minute never removes one in use.
func (d *Dir) RemoveStale(match func(name string) bool, age time.Duration, now time.Time) []string {
	f, err := d.root.Open(".")
	if err != nil {
		return nil
	}
	names, err := f.Readdirnames(-1)
	_ = f.Close()
	if err != nil {
		return nil
	}
	var removed []string
	for _, name := range names {
		if !match(name) {
			continue
		}
		fi, err := d.root.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() || now.Sub(fi.ModTime()) < age {
			continue
		}
		if d.root.Remove(name) == nil {
			removed = append(removed, name)
		}
	}
	return removed
}

// IsTemp reports whether name is a temporary file Write makes for base with
// the default pattern (".<base>.<random>.tmp").
func IsTemp(name, base string) bool {
	return strings.HasPrefix(name, "."+base+".") && strings.HasSuffix(name, ".tmp") && len(name) > len(base)+6
}
