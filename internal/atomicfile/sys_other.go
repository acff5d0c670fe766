//go:build !unix

package atomicfile

import (
	"io/fs"
	"os"
	"runtime"
)

const oNonblock = 0

var syncDirs = runtime.GOOS != "windows"

// Owner is not known on this platform.
func Owner(fs.FileInfo) (uid, gid int, ok bool) { return 0, 0, false }

func links(fs.FileInfo) uint64 { return 1 }

// KeepOwner does nothing on this platform.
func KeepOwner(*os.File, fs.FileInfo, fs.FileInfo) {}
