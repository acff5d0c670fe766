//go:build !unix

package awsfile

import (
	"io/fs"
	"os"
)

func keepOwner(*os.File, fs.FileInfo) {}

func keepOwnerPath(string, fs.FileInfo) {}

// syncDir is a no-op where folders cannot be fsynced.
func syncDir(string) error { return nil }
