//go:build unix

package cli

import "syscall"

// execProgram replaces the process with prog; it returns only on failure.
func execProgram(prog string, argv, env []string) error { return syscall.Exec(prog, argv, env) }
