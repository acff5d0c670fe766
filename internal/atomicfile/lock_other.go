//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package atomicfile

import (
	"os"
	"sync"

	"github.com/gofrs/flock"
)

// Where flock(2) on a descriptor is not available, the lock is
// github.com/gofrs/flock on the file's path.
var locks sync.Map // *os.File -> *flock.Flock

func tryLock(f *os.File) (bool, error) {
	v, _ := locks.LoadOrStore(f, flock.New(f.Name()))
	ok, err := v.(*flock.Flock).TryLock()
	return ok, err
}

func unlock(f *os.File) error {
	v, ok := locks.LoadAndDelete(f)
	if !ok {
		return nil
	}
	return v.(*flock.Flock).Unlock()
}
