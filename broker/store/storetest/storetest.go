// Package storetest is the conformance suite every broker/store.Store
// implementation runs (restic's internal/backend/test, for the broker's
// sessions and replay cache): what the broker relies on, checked once for
// all of them.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/broker/store"
)

// Suite describes an implementation under test.
type Suite struct {
	// New returns a fresh, empty store; the suite closes it.
	New func(t *testing.T) store.Store
	// Wait lets d pass for the store's expiry: advances a fake clock, or
	// sleeps for a store on real time.
	Wait func(t *testing.T, d time.Duration)
	// TTL is the time to live used by the expiry tests (a real-time store
	// needs one it can wait out quickly; default 1 hour for fake clocks).
	TTL time.Duration
}

// Run runs every conformance test.
func (s Suite) Run(t *testing.T) {
	if s.TTL == 0 {
		s.TTL = time.Hour
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, st store.Store)
	}{
		{"PutGet", s.putGet},
		{"GetMissing", s.getMissing},
		{"Overwrite", s.overwrite},
		{"Delete", s.delete},
		{"Expiry", s.expiry},
		{"ClaimOnce", s.claimOnce},
		{"ClaimConcurrent", s.claimConcurrent},
		{"ClaimAfterExpiry", s.claimAfterExpiry},
		{"ClaimAndPutKeysAreOne", s.claimAndPut},
		{"ValuesAreCopies", s.copies},
		{"BinaryAndLargeValues", s.binary},
		{"BadArguments", s.badArgs},
		{"CancelledContext", s.cancelled},
		{"Ping", s.ping},
		{"Closed", s.closed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := s.New(t)
			t.Cleanup(func() { _ = st.Close() })
			tc.fn(t, st)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustGet(t *testing.T, st store.Store, key string) []byte {
	t.Helper()
	v, err := st.Get(ctx(t), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return v
}

func wantNotFound(t *testing.T, st store.Store, key string) {
	t.Helper()
	v, err := st.Get(ctx(t), key)
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, v, err)
	}
}

func (s Suite) putGet(t *testing.T, st store.Store) {
	if err := st.Put(ctx(t), "sess:a", []byte(`{"user":"alice"}`), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, st, "sess:a"); string(got) != `{"user":"alice"}` {
		t.Errorf("Get = %q", got)
	}
	wantNotFound(t, st, "sess:b")
}

func (s Suite) getMissing(t *testing.T, st store.Store) {
	wantNotFound(t, st, "never-put")
}

func (s Suite) overwrite(t *testing.T, st store.Store) {
	for _, v := range []string{"one", "two"} {
		if err := st.Put(ctx(t), "k", []byte(v), time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustGet(t, st, "k"); string(got) != "two" {
		t.Errorf("after two Puts Get = %q, want the second", got)
	}
}

func (s Suite) delete(t *testing.T, st store.Store) {
	if err := st.Put(ctx(t), "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := st.Delete(ctx(t), "k"); err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, st, "k")
	if err := st.Delete(ctx(t), "k"); err != nil {
		t.Errorf("deleting a missing key: %v", err)
	}
}

func (s Suite) expiry(t *testing.T, st store.Store) {
	if err := st.Put(ctx(t), "short", []byte("v"), s.TTL); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), "long", []byte("v"), 1000*s.TTL); err != nil {
		t.Fatal(err)
	}
	mustGet(t, st, "short")
	s.Wait(t, s.TTL+s.TTL/2)
	wantNotFound(t, st, "short")
	mustGet(t, st, "long")
}

func (s Suite) claimOnce(t *testing.T, st store.Store) {
	first, err := st.Claim(ctx(t), "seen:id1", time.Hour)
	if err != nil || !first {
		t.Fatalf("first Claim = %v, %v; want true", first, err)
	}
	again, err := st.Claim(ctx(t), "seen:id1", time.Hour)
	if err != nil || again {
		t.Fatalf("second Claim = %v, %v; want false (a replay)", again, err)
	}
	other, err := st.Claim(ctx(t), "seen:id2", time.Hour)
	if err != nil || !other {
		t.Fatalf("Claim of another key = %v, %v; want true", other, err)
	}
}

func (s Suite) claimConcurrent(t *testing.T, st store.Store) {
	const n = 64
	var wins atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			ok, err := st.Claim(ctx(t), "seen:race", time.Hour)
			if err != nil {
				errs <- err
				return
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := wins.Load(); got != 1 {
		t.Errorf("%d of %d concurrent claims won, want exactly 1", got, n)
	}
}

func (s Suite) claimAfterExpiry(t *testing.T, st store.Store) {
	if ok, err := st.Claim(ctx(t), "seen:x", s.TTL); err != nil || !ok {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	s.Wait(t, s.TTL+s.TTL/2)
	if ok, err := st.Claim(ctx(t), "seen:x", s.TTL); err != nil || !ok {
		t.Fatalf("Claim after expiry = %v, %v; want true", ok, err)
	}
}

// claimAndPut: one key space; a claimed key is present, a put key is
// claimed already (the broker prefixes its keys so they never meet, but
// an implementation must not keep two maps that disagree).
func (s Suite) claimAndPut(t *testing.T, st store.Store) {
	if err := st.Put(ctx(t), "k", []byte("v"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if ok, err := st.Claim(ctx(t), "k", time.Hour); err != nil || ok {
		t.Errorf("Claim of a put key = %v, %v; want false", ok, err)
	}
}

func (s Suite) copies(t *testing.T, st store.Store) {
	v := []byte("original")
	if err := st.Put(ctx(t), "k", v, time.Hour); err != nil {
		t.Fatal(err)
	}
	copy(v, "XXXXXXXX")
	got := mustGet(t, st, "k")
	if string(got) != "original" {
		t.Fatalf("changing the slice given to Put changed the stored value: %q", got)
	}
	copy(got, "YYYYYYYY")
	if again := mustGet(t, st, "k"); string(again) != "original" {
		t.Fatalf("changing the slice Get returned changed the stored value: %q", again)
	}
}

func (s Suite) binary(t *testing.T, st store.Store) {
	values := map[string][]byte{
		"empty":  {},
		"binary": {0, 1, 2, 0xff, '\r', '\n', 0},
		"large":  bytes.Repeat([]byte("0123456789abcdef"), store.MaxValueSize/16),
	}
	for k, v := range values {
		if err := st.Put(ctx(t), "v:"+k, v, time.Hour); err != nil {
			t.Fatalf("Put %s: %v", k, err)
		}
		if got := mustGet(t, st, "v:"+k); !bytes.Equal(got, v) {
			t.Errorf("%s: got %d bytes back, want %d equal ones", k, len(got), len(v))
		}
	}
	odd := "sess:" + strings.Repeat("ü/: *?[]", 8)
	if err := st.Put(ctx(t), odd, []byte("x"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, st, odd); string(got) != "x" {
		t.Errorf("odd key: %q", got)
	}
	wantNotFound(t, st, "sess:*") // no pattern matching
}

func (s Suite) badArgs(t *testing.T, st store.Store) {
	cases := []struct {
		name  string
		key   string
		value []byte
		ttl   time.Duration
	}{
		{"empty key", "", []byte("v"), time.Hour},
		{"zero ttl", "k", []byte("v"), 0},
		{"negative ttl", "k", []byte("v"), -time.Second},
		{"too large", "k", make([]byte, store.MaxValueSize+1), time.Hour},
		{"long key", strings.Repeat("k", 513), []byte("v"), time.Hour},
	}
	for _, c := range cases {
		if err := st.Put(ctx(t), c.key, c.value, c.ttl); err == nil {
			t.Errorf("Put with %s: no error", c.name)
		}
	}
	if ok, err := st.Claim(ctx(t), "k", 0); err == nil || ok {
		t.Errorf("Claim with zero ttl = %v, %v; want an error", ok, err)
	}
	wantNotFound(t, st, "k")
}

func (s Suite) cancelled(t *testing.T, st store.Store) {
	c, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.Put(c, "k", []byte("v"), time.Hour); err == nil {
		t.Error("Put with a cancelled context: no error")
	}
	if _, err := st.Get(c, "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get with a cancelled context = %v; want a context error, not ErrNotFound", err)
	}
	if ok, err := st.Claim(c, "k", time.Hour); err == nil || ok {
		t.Errorf("Claim with a cancelled context = %v, %v", ok, err)
	}
	wantNotFound(t, st, "k")
}

func (s Suite) ping(t *testing.T, st store.Store) {
	if err := st.Ping(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func (s Suite) closed(t *testing.T, st store.Store) {
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx(t), "k", []byte("v"), time.Hour); err == nil {
		t.Error("Put after Close: no error")
	}
	if _, err := st.Get(ctx(t), "k"); err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Close = %v; want an error other than ErrNotFound", err)
	}
	if err := st.Ping(ctx(t)); err == nil {
		t.Error("Ping after Close: no error")
	}
}
