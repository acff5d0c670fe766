//go:build !linux

package awsfile

import "io/fs"

func identityOf(fs.FileInfo) (FileIdentity, error) { return FileIdentity{}, ErrNoIdentity }
