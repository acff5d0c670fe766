//go:build !unix

package idp

import "io/fs"

// noFollow: no O_NOFOLLOW here; the profile folder itself was checked.
const noFollow = 0

// ownedByUser: ownership is not checked on this system (the folder lives in
// the user's own profile).
func ownedByUser(fs.FileInfo) error { return nil }
