//go:build unix

package program

import "syscall"

// Exec replaces the process with path (argv, env): signals and the exit
// status are then the program's own. It returns only on failure.
func Exec(path string, argv, env []string) error { return syscall.Exec(path, argv, env) }
