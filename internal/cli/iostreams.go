package cli

import (
	"bytes"
	"io"
	"os"

	"golang.org/x/term"
)

// IOStreams are a command's standard streams and what is known about them.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	// InTerminal, OutTerminal and ErrTerminal report whether In, Out and
	// ErrOut are terminals.
	InTerminal  bool
	OutTerminal bool
	ErrTerminal bool

	// InFd is In's file descriptor when In is a terminal (for reading a
	// password without echo through x/term), -1 otherwise.
	InFd int
}

// System returns the process's standard streams.
func System() *IOStreams {
	isTerm := func(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
	ios := &IOStreams{
		In:          os.Stdin,
		Out:         os.Stdout,
		ErrOut:      os.Stderr,
		InTerminal:  isTerm(os.Stdin),
		OutTerminal: isTerm(os.Stdout),
		ErrTerminal: isTerm(os.Stderr),
		InFd:        -1,
	}
	if ios.InTerminal {
		ios.InFd = int(os.Stdin.Fd())
	}
	return ios
}

// Test returns streams backed by buffers (no terminal) and the buffers: in
// for what the command reads, out and errOut for what it writes.
func Test() (ios *IOStreams, in, out, errOut *bytes.Buffer) {
	in, out, errOut = &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, InFd: -1}, in, out, errOut
}

// IsTerminal reports whether the command is interactive: both In and Out are
// terminals, so prompts and pickers may be shown.
func (s *IOStreams) IsTerminal() bool { return s.InTerminal && s.OutTerminal }
