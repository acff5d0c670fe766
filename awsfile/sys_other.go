//go:build !unix

package awsfile

import (
	"io/fs"
	"os"
)

func keepOwner(*os.File, fs.FileInfo) {}

func keepOwnerPath(string, fs.FileInfo) {}
