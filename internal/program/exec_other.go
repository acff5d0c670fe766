//go:build !unix

package program

import "errors"

// Exec is not available here (no execve): it returns errors.ErrUnsupported
// and the caller runs path as a child instead.
func Exec(string, []string, []string) error { return errors.ErrUnsupported }
