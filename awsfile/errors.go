package awsfile

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed reports a file the AWS CLI could not parse either; it is
	// never rewritten. The error is a *ParseError with the line number.
	ErrMalformed = errors.New("malformed AWS file")
	// ErrLocked reports that another process held the file's lock for longer
	// than the lock timeout (or the context ended while waiting).
	ErrLocked = errors.New("AWS file is locked by another process")
	// ErrProfileNotFound reports a profile that has no section in the file.
	ErrProfileNotFound = errors.New("profile not found")
	// ErrInvalid reports a profile name, key or value that cannot be written
	// so that every reader gets it back unchanged.
	ErrInvalid = errors.New("invalid profile update")
	// ErrUnsafeEdit reports an edit refused because, with the file's unusual
	// indentation, it would change how other lines are read.
	ErrUnsafeEdit = errors.New("refusing an edit that would change other profiles")
)

// ParseError is a malformed line in an AWS config or credentials file. Msg
// says what is wrong and how to fix it; it never quotes the line, which may
// hold a secret.
type ParseError struct {
	Path string // the file, as given (before following symlinks)
	Line int    // 1-based
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("awsfile: %s line %d: %s (the file was left unchanged)", e.Path, e.Line, e.Msg)
}

// Is makes errors.Is(err, ErrMalformed) true for every *ParseError.
func (e *ParseError) Is(target error) bool { return target == ErrMalformed }

var (
	// ErrUnsafePath reports a path rolehop refuses to follow: a symlink
	// made by another user that leads to a file that user does not own.
	ErrUnsafePath = errors.New("refusing an unsafe path")
	// ErrNotRegular reports a path that is not a regular file (a device
	// such as /dev/null, a FIFO, a socket): rolehop neither reads nor
	// replaces it.
	ErrNotRegular = errors.New("not a regular file")
)
