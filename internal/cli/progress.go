package cli

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// status is a one-line progress display on a terminal's stderr: a spinner
// with a message that can be updated, erased when done. On anything that is
// not a terminal it writes nothing, so logs and pipes stay clean.
type status struct {
	w       io.Writer
	mu      sync.Mutex
	msg     string
	stop    chan struct{}
	stopped sync.WaitGroup
}

var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// startStatus shows msg with a spinner on ios.ErrOut when it is a terminal;
// otherwise it returns a status that does nothing.
func startStatus(ios *IOStreams, msg string) *status {
	if !ios.ErrTerminal {
		return nil
	}
	s := &status{w: ios.ErrOut, msg: msg, stop: make(chan struct{})}
	s.stopped.Add(1)
	go s.run()
	return s
}

func (s *status) run() {
	defer s.stopped.Done()
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for i := 0; ; i++ {
		s.mu.Lock()
		fmt.Fprintf(s.w, "\r\x1b[K%s %s", spinnerFrames[i%len(spinnerFrames)], s.msg)
		s.mu.Unlock()
		select {
		case <-s.stop:
			s.mu.Lock()
			fmt.Fprint(s.w, "\r\x1b[K")
			s.mu.Unlock()
			return
		case <-t.C:
		}
	}
}

// update replaces the message.
func (s *status) update(format string, args ...any) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.msg = fmt.Sprintf(format, args...)
	s.mu.Unlock()
}

// done erases the line. It may be called more than once.
func (s *status) done() {
	if s == nil {
		return
	}
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.stopped.Wait()
}
