package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"time"
)

// DefaultGrace is how long a command has to exit after SIGTERM (its
// timeout, a halt, Ctrl-C) before its process group is killed.
const DefaultGrace = 5 * time.Second

// Command is one command run for one target.
type Command struct {
	Argv   []string
	Env    []string
	Stdout io.Writer // nil discards
	Stderr io.Writer
	// Grace is the time between SIGTERM and SIGKILL; 0 means DefaultGrace.
	Grace time.Duration
	// Kill, when it fires, kills the process group at once (a second
	// Ctrl-C).
	Kill <-chan struct{}
}

// ExitError is a command's non-zero exit status. It is not retryable.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// ErrStart wraps a command that could not be started (not found, not
// executable).
var ErrStart = errors.New("cannot start the command")

// Run starts the command in a process group of its own with stdin from
// /dev/null and waits for it. When ctx ends the group gets SIGTERM, and
// SIGKILL Grace later. It returns the exit status (-1 when it never ran)
// and an *ExitError for a non-zero status.
func (c *Command) Run(ctx context.Context) (int, error) {
	path, err := exec.LookPath(c.Argv[0])
	if err != nil {
		return -1, fmt.Errorf("%w %q: %w", ErrStart, c.Argv[0], err)
	}
	cmd := exec.Command(path, c.Argv[1:]...)
	cmd.Args[0] = c.Argv[0]
	cmd.Env = c.Env
	cmd.Stdout, cmd.Stderr = c.Stdout, c.Stderr
	// Pipes a background grandchild keeps open must not hold the target
	// forever once the command itself has exited.
	cmd.WaitDelay = 2 * time.Second
	startGroup(cmd)
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("%w %q: %w", ErrStart, c.Argv[0], err)
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-done:
			return
		case <-c.Kill:
			kill(cmd)
			return
		case <-ctx.Done():
		}
		terminate(cmd)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			kill(cmd)
		case <-c.Kill:
			kill(cmd)
		}
	}()
	werr := cmd.Wait()
	close(done)
	<-stopped
	if cmd.ProcessState == nil {
		return -1, fmt.Errorf("run %q: %w", c.Argv[0], werr)
	}
	code := exitCode(cmd.ProcessState)
	if code != 0 {
		return code, &ExitError{Code: code}
	}
	var ee *exec.ExitError
	if werr != nil && !errors.As(werr, &ee) && !errors.Is(werr, exec.ErrWaitDelay) {
		return code, fmt.Errorf("run %q: %w", c.Argv[0], werr)
	}
	return 0, nil
}
