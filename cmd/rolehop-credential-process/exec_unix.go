//go:build unix

package main

import (
	"os"
	"syscall"
)

const exeSuffix = ""

// run replaces this process with path (execve): the AWS CLI sees one
// program, its signals and exit status. It returns only on failure.
func run(path string, argv []string) (int, error) {
	return 1, syscall.Exec(path, argv, os.Environ())
}
