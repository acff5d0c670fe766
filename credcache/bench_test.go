package credcache

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/credfile"
)

// The cache's costs, in process (BENCHMARKS.md):
//
//	go test -run '^$' -bench . -benchmem ./credcache/

// BenchmarkGetHit is a fresh entry read through Get: open the folder,
// check it, open, fstat and read the entry, parse it. No lock.
func BenchmarkGetHit(b *testing.B) {
	c := &Cache{Dir: filepath.Join(b.TempDir(), "cache")}
	fetch := func(context.Context) (aws.Credentials, error) { return creds(1, time.Now().Add(time.Hour)), nil }
	if _, err := c.Get(b.Context(), testKey, fetch); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := c.Get(b.Context(), testKey, fetch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLookupHit is the same hit through credfile.Lookup, what the
// credential_process fast path does.
func BenchmarkLookupHit(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "cache")
	c := &Cache{Dir: dir}
	if _, err := c.Get(b.Context(), testKey, func(context.Context) (aws.Credentials, error) {
		return creds(1, time.Now().Add(time.Hour)), nil
	}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, ok := credfile.Lookup(dir, testKey, time.Now()); !ok {
			b.Fatal("miss")
		}
	}
}

// BenchmarkGetMissUnderLock is a refresh: the entry is due, so Get takes
// the key's lock, reads the entry again, fetches (instantly here) and
// writes the new entry atomically (temporary file, fsync, rename, fsync
// of the folder).
func BenchmarkGetMissUnderLock(b *testing.B) {
	c := &Cache{Dir: filepath.Join(b.TempDir(), "cache"), RefreshWindow: 2 * time.Hour}
	n := 0
	for b.Loop() {
		n++
		if _, err := c.Get(b.Context(), testKey, func(context.Context) (aws.Credentials, error) {
			return creds(n%10000, time.Now().Add(time.Hour)), nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// Benchmark50ProcessesOneFetch: 50 processes miss the same key at once;
// the fetch (a stand-in for an STS call) takes 50 ms. Reported: wall time
// from the start signal until all 50 have their credentials, and the
// fetches made (always 1).
func Benchmark50ProcessesOneFetch(b *testing.B) {
	const n = 50
	for b.Loop() {
		b.StopTimer()
		dir := filepath.Join(b.TempDir(), "cache")
		counter := filepath.Join(b.TempDir(), "fetches")
		start := filepath.Join(b.TempDir(), "start")
		var cmds []*exec.Cmd
		for range n {
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), "CREDCACHE_HELPER=1", "CREDCACHE_DIR="+dir,
				"CREDCACHE_COUNTER="+counter, "CREDCACHE_START="+start, "CREDCACHE_FETCH_DELAY=50ms")
			cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		time.Sleep(300 * time.Millisecond) // every process waiting for the signal
		b.StartTimer()
		if err := os.WriteFile(start, nil, 0o600); err != nil {
			b.Fatal(err)
		}
		for i, cmd := range cmds {
			if err := cmd.Wait(); err != nil {
				b.Fatalf("process %d: %v: %s", i, err, cmd.Stderr)
			}
		}
		b.StopTimer()
		data, _ := os.ReadFile(counter)
		if f := strings.Count(string(data), "\n"); f != 1 {
			b.Fatalf("%d fetches, want 1", f)
		}
		b.ReportMetric(1, "fetches/op")
		b.StartTimer()
	}
}
