package fleet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rolehop/rolehop/fanout"
)

// MaxLine is the longest line handed on whole; longer ones go in pieces of
// MaxLine bytes, each a line of its own (memory stays bounded per command).
const MaxLine = 64 << 10

// Printer writes whole lines to W, each with one Write under a lock, so the
// lines of concurrent commands never tear or interleave mid-line.
type Printer struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes b (one or more whole lines) at once.
func (p *Printer) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.W.Write(b)
}

// Lines is an io.Writer that cuts a stream into lines and hands each to
// Emit (without its newline); Flush hands on an unterminated last line.
type Lines struct {
	Emit func(line []byte)
	buf  []byte
}

func (l *Lines) Write(b []byte) (int, error) {
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			l.buf = append(l.buf, b...)
			for len(l.buf) >= MaxLine {
				l.Emit(l.buf[:MaxLine])
				l.buf = append(l.buf[:0], l.buf[MaxLine:]...)
			}
			break
		}
		if len(l.buf) > 0 {
			l.buf = append(l.buf, b[:i]...)
			l.emitLong(l.buf)
			l.buf = l.buf[:0]
		} else {
			l.emitLong(b[:i])
		}
		b = b[i+1:]
	}
	return n, nil
}

func (l *Lines) emitLong(line []byte) {
	for len(line) > MaxLine {
		l.Emit(line[:MaxLine])
		line = line[MaxLine:]
	}
	l.Emit(bytes.TrimSuffix(line, []byte("\r")))
}

// Flush hands on what is left without a newline.
func (l *Lines) Flush() {
	if len(l.buf) > 0 {
		l.Emit(l.buf)
		l.buf = l.buf[:0]
	}
}

// Prefixed returns a Lines writing "LABEL | line" to p, LABEL padded to
// width.
func Prefixed(p *Printer, label string, width int) *Lines {
	prefix := []byte(fmt.Sprintf("%-*s | ", width, label))
	return &Lines{Emit: func(line []byte) {
		out := make([]byte, 0, len(prefix)+len(line)+1)
		out = append(append(append(out, prefix...), line...), '\n')
		_, _ = p.Write(out)
	}}
}

// Event is one JSON line of `rolehop run --json`: a line of a command's
// output (Stream set), or a target's result (Outcome set), or the summary.
type Event struct {
	Event    string         `json:"event"` // "output", "result", "summary"
	Target   string         `json:"target,omitempty"`
	Account  string         `json:"account,omitempty"`
	Alias    string         `json:"alias,omitempty"`
	Region   string         `json:"region,omitempty"`
	Stream   string         `json:"stream,omitempty"`
	Line     string         `json:"line,omitempty"`
	Outcome  string         `json:"outcome,omitempty"`
	Exit     *int           `json:"exit,omitempty"`
	Error    string         `json:"error,omitempty"`
	Attempts int            `json:"attempts,omitempty"`
	Millis   *int64         `json:"ms,omitempty"`
	Counts   map[string]int `json:"counts,omitempty"`
	Journal  string         `json:"journal,omitempty"`
}

// WriteEvent writes e as one JSON line.
func WriteEvent(p *Printer, e Event) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	_, _ = p.Write(append(b, '\n'))
}

// JSONLines returns a Lines writing each line as an "output" event.
func JSONLines(p *Printer, t fanout.Target, stream string) *Lines {
	return &Lines{Emit: func(line []byte) {
		WriteEvent(p, Event{Event: "output", Target: t.Key(), Account: t.Account, Alias: t.Alias, Region: t.Region, Stream: stream, Line: string(line)})
	}}
}

// OutputDir is --output-dir: one folder per target (0700) holding stdout,
// stderr and result.json (0600).
type OutputDir struct{ Path string }

// Prepare creates the folder, or checks that an existing one is ours.
func (d OutputDir) Prepare() error {
	if err := os.MkdirAll(d.Path, 0o700); err != nil {
		return fmt.Errorf("create output folder: %w", err)
	}
	if err := checkOwned(d.Path); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	return nil
}

// TargetDir returns (creating it) the folder of t: ACCOUNT or ACCOUNT_REGION.
func (d OutputDir) TargetDir(t fanout.Target) (string, error) {
	p := filepath.Join(d.Path, strings.ReplaceAll(t.Key(), "/", "_"))
	if err := os.Mkdir(p, 0o700); err != nil && !os.IsExist(err) {
		return "", fmt.Errorf("create output folder: %w", err)
	}
	if err := checkOwned(p); err != nil {
		return "", fmt.Errorf("output folder: %w", err)
	}
	return p, nil
}

// Create opens name in a target folder for writing (0600, truncated).
func (d OutputDir) Create(dir, name string) (*os.File, error) {
	return openNoFollow(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
}
