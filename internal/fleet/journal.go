// Package fleet holds what `rolehop run` adds around fanout.Run: the journal
// of a run's outcomes (resume, retry, merge), the commands it starts per
// target (process groups, timeouts, output lines never torn), and the
// summary.
//
// # Journal
//
// A journal is a JSON-lines file, 0600 in a 0700 folder: a header line
// naming the run (its command, the plan's hash, the shard), then one line
// per target that ended, appended with one write(2) the moment the target
// ends. A SIGKILL therefore loses at most the targets that were running;
// a torn last line (a crash of the machine) is ignored when the journal is
// read. The latest line of a target wins: --resume skips the targets whose
// latest outcome is success, --retry-failed runs only those whose latest
// outcome is a failure.
package fleet

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/rolehop/rolehop/fanout"
)

// JournalVersion is the header's "rolehop_run" value.
const JournalVersion = 1

// Header is a journal's first line.
type Header struct {
	Version int       `json:"rolehop_run"`
	Command []string  `json:"command"`
	Plan    string    `json:"plan"`            // PlanHash of the whole plan (before sharding)
	Shard   string    `json:"shard,omitempty"` // "I/N"
	Targets int       `json:"targets"`         // targets in this journal's plan (its shard)
	Started time.Time `json:"started"`
}

// Record is one target's outcome.
type Record struct {
	Target   string    `json:"target"` // fanout.Target.Key()
	Account  string    `json:"account"`
	Alias    string    `json:"alias,omitempty"`
	Region   string    `json:"region,omitempty"`
	Outcome  string    `json:"outcome"`        // fanout.Status.String()
	Exit     *int      `json:"exit,omitempty"` // the command's exit status, when it ran
	Error    string    `json:"error,omitempty"`
	Attempts int       `json:"attempts"`
	Start    time.Time `json:"start"`
	Millis   int64     `json:"ms"`
}

// Succeeded reports whether the record is a success.
func (r Record) Succeeded() bool { return r.Outcome == fanout.Succeeded.String() }

// Failed reports whether the record counts as a failure.
func (r Record) Failed() bool {
	return r.Outcome == fanout.Failed.String() || r.Outcome == fanout.TimedOut.String()
}

// PlanHash names a plan: the SHA-256 of its target keys in order.
func PlanHash(targets []fanout.Target) string {
	h := sha256.New()
	for _, t := range targets {
		io.WriteString(h, t.Key())
		h.Write([]byte{0})
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// RunID names a run for its default journal file: the command and how the
// targets are reached and cut, so the same command line finds its journal.
func RunID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		io.WriteString(h, p)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// ErrJournal marks a journal that cannot be used (not ours, a symlink,
// another command's, malformed header).
var ErrJournal = errors.New("unusable journal")

// Journal appends records to a journal file; safe for concurrent use.
type Journal struct {
	Path string
	mu   sync.Mutex
	f    *os.File
}

// Create starts a new journal at path (replacing an old one of ours) with
// h as its header.
func Create(path string, h Header) (*Journal, error) {
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	if err := checkOwned(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	f, err := openNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("create journal: %w", err)
	}
	h.Version = JournalVersion
	j := &Journal{Path: path, f: f}
	if err := j.writeLine(h); err != nil {
		f.Close()
		return nil, err
	}
	return j, nil
}

// Append opens an existing journal of ours for more records.
func Append(path string) (*Journal, error) {
	if err := checkOwned(path); err != nil {
		return nil, err
	}
	f, err := openNoFollow(path, os.O_WRONLY|os.O_APPEND)
	if err != nil {
		return nil, fmt.Errorf("open journal: %w", err)
	}
	// A torn last line (a crash mid-write) must not swallow the next record.
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(path); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				f.Write([]byte("\n"))
			}
			r.Close()
		}
	}
	return &Journal{Path: path, f: f}, nil
}

// Write appends one record with a single write.
func (j *Journal) Write(r Record) error { return j.writeLine(r) }

func (j *Journal) writeLine(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(b); err != nil {
		return fmt.Errorf("write journal %s: %w", j.Path, err)
	}
	return nil
}

// Close syncs and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.f.Sync()
	return j.f.Close()
}

// Read reads a journal: its header and each target's latest record (by
// key), plus the keys in the order first seen. Lines that do not parse (a
// torn last line) are skipped.
func Read(path string) (Header, map[string]Record, []string, error) {
	if err := checkOwned(path); err != nil {
		return Header{}, nil, nil, err
	}
	f, err := openNoFollow(path, os.O_RDONLY)
	if err != nil {
		return Header{}, nil, nil, fmt.Errorf("read journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var h Header
	latest := map[string]Record{}
	var order []string
	first := true
	for sc.Scan() {
		line := sc.Bytes()
		if first {
			first = false
			if err := json.Unmarshal(line, &h); err != nil || h.Version != JournalVersion {
				return Header{}, nil, nil, fmt.Errorf("%w: %s does not start with a rolehop run header", ErrJournal, path)
			}
			continue
		}
		var r Record
		if json.Unmarshal(line, &r) != nil || r.Target == "" {
			continue
		}
		if _, ok := latest[r.Target]; !ok {
			order = append(order, r.Target)
		}
		latest[r.Target] = r
	}
	if err := sc.Err(); err != nil {
		return Header{}, nil, nil, fmt.Errorf("read journal %s: %w", path, err)
	}
	if first {
		return Header{}, nil, nil, fmt.Errorf("%w: %s is empty", ErrJournal, path)
	}
	return h, latest, order, nil
}

// DefaultDir is where journals go unless --journal says otherwise:
// $XDG_STATE_HOME/rolehop/runs, else ~/.local/state/rolehop/runs.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "rolehop", "runs"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find the home folder for the journal: %w; pass --journal", err)
		}
		home = h
	}
	return filepath.Join(home, ".local", "state", "rolehop", "runs"), nil
}

// prepareDir creates dir 0700 when missing; an existing one must not be a
// symlink and must be ours.
func prepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create journal folder: %w", err)
	}
	return checkOwned(dir)
}
