package session

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// TestMemCacheDropsDueEntries: a long-lived provider that served 10,000
// keys (accounts, users) an hour ago does not hold them for ever: once the
// map has grown enough to sweep, every entry due for renewal is dropped,
// every fresh one kept, and a dropped key is simply fetched again.
func TestMemCacheDropsDueEntries(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	o := &Options{Now: func() time.Time { return now }}
	o.setDefaults()
	c := newMemCache(o)
	fetches := 0
	fetch := func(context.Context) (aws.Credentials, error) {
		fetches++
		return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s", CanExpire: true, Expires: now.Add(time.Hour)}, nil
	}
	get := func(key string) {
		t.Helper()
		if _, err := c.get(context.Background(), key, fetch); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10_000 {
		get(fmt.Sprintf("old-%d", i))
	}
	if n := len(c.entries); n != 10_000 {
		t.Fatalf("%d entries while all are fresh, want 10,000 (no fresh entry may be dropped)", n)
	}

	now = now.Add(2 * time.Hour) // every old entry is now due
	fresh := 0
	for len(c.entries) >= 10_000 && fresh < 20_000 {
		get(fmt.Sprintf("new-%d", fresh))
		fresh++
	}
	if len(c.entries) != fresh {
		t.Fatalf("after %d fresh inserts: %d entries; want exactly the %d fresh ones (every due one dropped)", fresh, len(c.entries), fresh)
	}
	if fresh > 10_000 {
		t.Errorf("the sweep came after %d inserts: more than the map's size again", fresh)
	}
	for k := range c.entries {
		if strings.HasPrefix(k, "old-") {
			t.Fatalf("due entry %s kept", k)
		}
	}
	before := fetches
	get("old-1")
	if fetches != before+1 {
		t.Errorf("a dropped key cost %d fetches; want 1", fetches-before)
	}
}
