package session

import (
	"context"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/sync/singleflight"
)

// RefreshPolicy says when credentials held in memory are replaced: after
// Share of their lifetime, and never later than MinRemaining before they
// expire.
//
// rolehop has one refresh policy per layer, each for its own reader:
//   - in memory (this package's providers, and `rolehop login --keep-fresh`
//     for the profiles it rewrites): DefaultRefresh, half the lifetime and
//     never within 5 minutes of expiry, as awsrun promises;
//   - on disk (package credcache, read by `rolehop credential-process`):
//     credentials are replaced when less than credcache.DefaultRefreshWindow
//     (15 minutes) is left, because botocore runs a credential_process again
//     on every call once the credentials it got are that close to expiry.
//
// A returned aws.Config's credentials provider goes to the provider's cache
// on every request, so long-running clients follow the in-memory policy.
type RefreshPolicy struct {
	// Share of the lifetime after which credentials are replaced, in (0, 1].
	Share float64
	// MinRemaining is how close to expiry credentials are never handed out.
	MinRemaining time.Duration
}

// DefaultRefresh is the in-memory refresh policy: half the lifetime, never
// within 5 minutes of expiry.
var DefaultRefresh = RefreshPolicy{Share: 0.5, MinRemaining: 5 * time.Minute}

// RenewAt is when credentials obtained at issued must be replaced; the zero
// time for credentials that never expire.
func (p RefreshPolicy) RenewAt(issued time.Time, creds aws.Credentials) time.Time {
	if !creds.CanExpire {
		return time.Time{}
	}
	life := creds.Expires.Sub(issued)
	at := issued.Add(time.Duration(float64(life) * p.Share))
	if latest := creds.Expires.Add(-p.MinRemaining); latest.Before(at) {
		at = latest
	}
	return at
}

func (p RefreshPolicy) validate() error {
	if p.Share <= 0 || p.Share > 1 {
		return perr("refresh share", "must be in (0, 1], e.g. 0.5 to refresh at half life")
	}
	if p.MinRemaining < 0 {
		return perr("refresh MinRemaining", "must not be negative")
	}
	return nil
}

type cacheEntry struct {
	creds   aws.Credentials
	renewAt time.Time // zero when the credentials never expire
}

// memCache holds credentials per key in memory. Reads take a read lock and
// allocate nothing; a miss runs fetch once per key however many callers wait
// (singleflight), callers for other keys never wait on it, and a failed fetch
// is returned to every waiter and not remembered.
type memCache struct {
	policy RefreshPolicy
	now    func() time.Time

	mu      sync.RWMutex
	entries map[string]cacheEntry
	sweepAt int // sweep entries due for renewal when the map reaches this size
	group   singleflight.Group
}

// minSweep is the map size below which due entries are left in place.
const minSweep = 64

// testHookJoined, when set by a test, is called once a caller has joined the
// flight for key (its result is then guaranteed to be that flight's).
var testHookJoined func(key string)

func newMemCache(o *Options) *memCache {
	return &memCache{policy: o.Refresh, now: o.Now, entries: map[string]cacheEntry{}}
}

func (c *memCache) lookup(key string) (aws.Credentials, bool) {
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
func (c *memCache) get(ctx context.Context, key string, fetch func(context.Context) (aws.Credentials, error)) (aws.Credentials, error) {
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
		c.entries[key] = cacheEntry{creds: creds, renewAt: c.policy.RenewAt(issued, creds)}
		if len(c.entries) >= c.sweepAt {
			c.sweep()
		}
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

// sweep drops the entries due for renewal (lookup treats them as missing,
// so they only hold memory), keeping a long-lived provider that has served
// many keys (accounts, users) at the size of the keys in use. It runs when
// the map has doubled since the last sweep: amortized O(1) per insert.
// c.mu must be held.
func (c *memCache) sweep() {
	now := c.now()
	for k, e := range c.entries {
		if !e.renewAt.IsZero() && !now.Before(e.renewAt) {
			delete(c.entries, k)
		}
	}
	c.sweepAt = max(2*len(c.entries), minSweep)
}
