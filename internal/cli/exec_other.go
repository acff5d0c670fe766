//go:build !unix

package cli

import "errors"

// execProgram is not available here: the caller runs prog as a child.
func execProgram(string, []string, []string) error { return errors.ErrUnsupported }
