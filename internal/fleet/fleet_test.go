package fleet

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rolehop/rolehop/fanout"
)

func TestPrefixedLinesNeverTear(t *testing.T) {
	var out bytes.Buffer
	p := &Printer{W: &out}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			l := Prefixed(p, "t"+string(rune('a'+i)), 3)
			for range 200 {
				// Writes cut mid-line must still come out as whole lines.
				l.Write([]byte("hello "))
				l.Write([]byte("world\nsecond"))
				l.Write([]byte(" half\n"))
			}
			l.Write([]byte("no newline at the end"))
			l.Flush()
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 8*401 {
		t.Fatalf("%d lines, want %d", len(lines), 8*401)
	}
	for _, l := range lines {
		label, rest, ok := strings.Cut(l, " | ")
		if !ok || len(label) != 3 || (rest != "hello world" && rest != "second half" && rest != "no newline at the end") {
			t.Fatalf("torn or interleaved line %q", l)
		}
	}
	out.Reset()
	l := Prefixed(p, "x", 1)
	l.Write([]byte(strings.Repeat("y", MaxLine*2+5) + "\n"))
	if got := strings.Count(out.String(), "\n"); got != 3 {
		t.Errorf("a line of 2×MaxLine+5 bytes came out as %d lines, want 3", got)
	}
}

func TestJournalResumeReadsLatestAndSkipsTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "runs", "j.jsonl")
	j, err := Create(path, Header{Command: []string{"true"}, Plan: "sha256:x", Targets: 2})
	if err != nil {
		t.Fatal(err)
	}
	tg := fanout.Target{Account: "111111111111", Region: "eu-west-1"}
	j.Write(Record{Target: tg.Key(), Account: tg.Account, Outcome: "failed"})
	j.Write(Record{Target: tg.Key(), Account: tg.Account, Outcome: "succeeded"})
	j.Close()
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"target":"222222222222","outc`) // a crash mid-write
	f.Close()
	h, latest, order, err := Read(path)
	if err != nil || h.Command[0] != "true" || len(order) != 1 || !latest[tg.Key()].Succeeded() {
		t.Fatalf("read: %+v %v %v %v", h, latest, order, err)
	}
	// Appending after a torn line starts a fresh line.
	j, err = Append(path)
	if err != nil {
		t.Fatal(err)
	}
	j.Write(Record{Target: "222222222222", Account: "222222222222", Outcome: "timed out"})
	j.Close()
	_, latest, _, _ = Read(path)
	if !latest["222222222222"].Failed() {
		t.Errorf("record after a torn line lost: %+v", latest)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", st.Mode().Perm())
	}
	if st, _ := os.Stat(filepath.Dir(path)); st.Mode().Perm() != 0o700 {
		t.Errorf("journal folder mode %v", st.Mode().Perm())
	}
	// A symlink planted where the journal goes is refused.
	link := filepath.Join(t.TempDir(), "link.jsonl")
	os.Symlink(path, link)
	if _, err := Create(link, Header{}); err == nil {
		t.Error("a symlinked journal was accepted")
	}
}
