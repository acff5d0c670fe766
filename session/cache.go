package session

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/singleflight"
)

// DefaultRefreshShare is the share of a credential's lifetime after which it
// is refreshed (half, as awsrun promises).
const DefaultRefreshShare = 0.5

// MinRemaining is how close to expiry a credential is never handed out.
const MinRemaining = 5 * time.Minute

type cacheEntry struct {
	creds   aws.Credentials
	renewAt time.Time // zero when the credentials never expire
}

// credCache holds credentials per key. Reads take a read lock and allocate
// nothing; a miss runs fetch once per key however many callers wait
// (singleflight), callers for other keys never wait on it, and a failed fetch
// is returned to every waiter and not remembered.
type credCache struct {
	share float64
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]cacheEntry
	group   singleflight.Group
}

// testHookJoined, when set by a test, is called once a caller has joined the
// flight for key (its result is then guaranteed to be that flight's).
var testHookJoined func(key string)

func newCredCache(share float64, now func() time.Time) *credCache {
	if share <= 0 || share > 1 {
		share = DefaultRefreshShare
	}
	if now == nil {
		now = time.Now
	}
	return &credCache{share: share, now: now, entries: map[string]cacheEntry{}}
}

// renewAt is when credentials obtained at issued must be replaced: after share
// of their lifetime, and never later than MinRemaining before expiry.
func (c *credCache) renewAt(issued time.Time, creds aws.Credentials) time.Time {
	if !creds.CanExpire {
		return time.Time{}
	}
	life := creds.Expires.Sub(issued)
	at := issued.Add(time.Duration(float64(life) * c.share))
	if latest := creds.Expires.Add(-MinRemaining); latest.Before(at) {
		at = latest
	}
	return at
}

func (c *credCache) lookup(key string) (aws.Credentials, bool) {
	c.mu.RLock()
	e, ok := c.entries[key]
	c.mu.RUnlock()
	if !ok {
		return aws.Credentials{}, false
	}
	if !e.renewAt.IsZero() && !c.now().Before(e.renewAt) {
		return aws.Credentials{}, false
	}
	return e.creds, true
}

// get returns fresh credentials for key, calling fetch when there are none.
// fetch runs detached from any one caller's cancellation, so one caller giving
// up does not fail the others; each caller still returns when its own ctx ends.
func (c *credCache) get(ctx context.Context, key string, fetch func(context.Context) (aws.Credentials, error)) (aws.Credentials, error) {
	if creds, ok := c.lookup(key); ok {
		return creds, nil
	}
	ch := c.group.DoChan(key, func() (any, error) {
		if creds, ok := c.lookup(key); ok { // a flight that just ended filled it
			return creds, nil
		}
		issued := c.now()
		creds, err := fetch(context.WithoutCancel(ctx))
		if err != nil {
			return aws.Credentials{}, err
		}
		c.mu.Lock()
		c.entries[key] = cacheEntry{creds: creds, renewAt: c.renewAt(issued, creds)}
		c.mu.Unlock()
		return creds, nil
	})
	if testHookJoined != nil {
		testHookJoined(key)
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return aws.Credentials{}, res.Err
		}
		return res.Val.(aws.Credentials), nil
	case <-ctx.Done():
		return aws.Credentials{}, ctx.Err()
	}
}
