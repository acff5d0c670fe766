//go:build unix

package main

import (
	"os"

	"github.com/rolehop/rolehop/internal/program"
)

// run replaces this process with path (execve): the AWS CLI sees one
// program, its signals and exit status. It returns only on failure.
func run(path string, argv []string) (int, error) {
	return 1, program.Exec(path, argv, os.Environ())
}
