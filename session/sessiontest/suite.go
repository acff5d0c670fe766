// Package sessiontest is the conformance suite every session.Provider runs,
// in the manner of restic's backend tests: one set of properties, proven
// once for each implementation against the backend it really talks to.
//
// A provider's test builds a Harness (a fresh provider over a backend the
// test controls) and calls Run:
//
//	func TestCrossAccountConformance(t *testing.T) {
//		sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness { ... })
//	}
//
// The properties: concurrent callers for one account share one fetch;
// credentials are reused while fresh; a slow account never blocks another;
// a failure reaches the caller and is not cached; a caller that gives up
// does not fail the others waiting on the same fetch; credentials are
// refreshed after the refresh share of their lifetime, not before; a bad
// account ID is refused before any fetch; session.Config serves the same
// credentials.
package sessiontest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/session"
)

// Backend is the service behind a provider, as the suite controls it.
type Backend interface {
	// Fetches is how many credential fetches (STS calls) were made so far.
	Fetches() int
	// Block makes fetches for account wait until release is called;
	// entered is closed once such a fetch has reached the backend.
	Block(account string) (entered <-chan struct{}, release func())
	// Fail makes fetches for account fail (fail true) or succeed again.
	Fail(account string, fail bool)
}

// Harness is one fresh provider over its backend.
type Harness struct {
	Provider session.Provider
	Backend  Backend
	// Accounts are two accounts the provider serves.
	Accounts [2]string
	// Advance moves the clock the provider and the backend share. nil when
	// the provider runs on the wall clock: the refresh property is then
	// skipped, with the reason in Why.
	Advance func(time.Duration)
	// Lifetime of the credentials the backend issues.
	Lifetime time.Duration
	// Share is the provider's refresh share (session.DefaultRefresh's when
	// 0).
	Share float64
	// Why says why Advance is nil.
	Why string
}

// deadline bounds every wait of the suite: a broken provider fails, it
// never hangs the package.
const deadline = 30 * time.Second

// Run runs every property against fresh harnesses from newHarness.
func Run(t *testing.T, newHarness func(t *testing.T) *Harness) {
	t.Run("ConcurrentCallersShareOneFetch", func(t *testing.T) { concurrentShare(t, newHarness(t)) })
	t.Run("FreshCredentialsReused", func(t *testing.T) { reuse(t, newHarness(t)) })
	t.Run("SlowAccountNeverBlocksAnother", func(t *testing.T) { independent(t, newHarness(t)) })
	t.Run("FailureReturnedAndNotCached", func(t *testing.T) { failure(t, newHarness(t)) })
	t.Run("CallerGivingUpDoesNotFailOthers", func(t *testing.T) { cancellation(t, newHarness(t)) })
	t.Run("RefreshAfterShareOfLifetime", func(t *testing.T) { refresh(t, newHarness(t)) })
	t.Run("BadAccountRefusedBeforeAnyFetch", func(t *testing.T) { badAccount(t, newHarness(t)) })
	t.Run("ConfigServesTheSameCredentials", func(t *testing.T) { config(t, newHarness(t)) })
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), deadline)
	t.Cleanup(cancel)
	return c
}

func get(t *testing.T, h *Harness, c context.Context, account string) aws.Credentials {
	t.Helper()
	creds, err := h.Provider.Credentials(c, account)
	if err != nil {
		t.Fatalf("credentials for %s: %v", account, err)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		t.Fatalf("credentials for %s are empty", account)
	}
	return creds
}

func concurrentShare(t *testing.T, h *Harness) {
	c := ctx(t)
	before := h.Backend.Fetches()
	const n = 100
	keys := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cr, err := h.Provider.Credentials(c, h.Accounts[0])
			keys[i], errs[i] = cr.AccessKeyID, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Fatalf("caller %d got %q, %v; want the one shared credential", i, keys[i], errs[i])
		}
	}
	if got := h.Backend.Fetches() - before; got != 1 {
		t.Errorf("%d concurrent callers for one account made %d fetches, want 1", n, got)
	}
}

func reuse(t *testing.T, h *Harness) {
	c := ctx(t)
	first := get(t, h, c, h.Accounts[0])
	other := get(t, h, c, h.Accounts[1])
	before := h.Backend.Fetches()
	for range 10 {
		if again := get(t, h, c, h.Accounts[0]); again.AccessKeyID != first.AccessKeyID {
			t.Fatalf("fresh credentials were replaced: %s then %s", first.AccessKeyID, again.AccessKeyID)
		}
	}
	if got := get(t, h, c, h.Accounts[1]); got.AccessKeyID != other.AccessKeyID || got.AccessKeyID == first.AccessKeyID {
		t.Errorf("accounts share or lost their credentials: %s, %s", got.AccessKeyID, first.AccessKeyID)
	}
	if n := h.Backend.Fetches() - before; n != 0 {
		t.Errorf("cache hits made %d fetches, want 0", n)
	}
}

func independent(t *testing.T, h *Harness) {
	c := ctx(t)
	entered, release := h.Backend.Block(h.Accounts[0])
	t.Cleanup(release)
	slow := make(chan error, 1)
	go func() {
		_, err := h.Provider.Credentials(c, h.Accounts[0])
		slow <- err
	}()
	select {
	case <-entered:
	case <-c.Done():
		t.Fatal("the slow fetch never reached the backend")
	}
	get(t, h, c, h.Accounts[1]) // answers while the other is parked
	select {
	case err := <-slow:
		t.Fatalf("the blocked fetch ended before release: %v", err)
	default:
	}
	release()
	if err := <-slow; err != nil {
		t.Fatalf("the slow account after release: %v", err)
	}
}

func failure(t *testing.T, h *Harness) {
	c := ctx(t)
	h.Backend.Fail(h.Accounts[0], true)
	before := h.Backend.Fetches()
	if _, err := h.Provider.Credentials(c, h.Accounts[0]); err == nil {
		t.Fatal("a refused fetch gave credentials")
	}
	if _, err := h.Provider.Credentials(c, h.Accounts[0]); err == nil {
		t.Fatal("a refused fetch gave credentials the second time")
	}
	if n := h.Backend.Fetches() - before; n != 2 {
		t.Errorf("two calls after a failure made %d fetches, want 2 (a failure is not cached)", n)
	}
	h.Backend.Fail(h.Accounts[0], false)
	get(t, h, c, h.Accounts[0])
}

func cancellation(t *testing.T, h *Harness) {
	c := ctx(t)
	entered, release := h.Backend.Block(h.Accounts[0])
	t.Cleanup(release)
	before := h.Backend.Fetches()
	quitter, quit := context.WithCancel(c)
	quitDone := make(chan error, 1)
	go func() {
		_, err := h.Provider.Credentials(quitter, h.Accounts[0])
		quitDone <- err
	}()
	select {
	case <-entered:
	case <-c.Done():
		t.Fatal("the fetch never reached the backend")
	}
	stayer := make(chan error, 1)
	go func() {
		_, err := h.Provider.Credentials(c, h.Accounts[0])
		stayer <- err
	}()
	quit()
	select {
	case err := <-quitDone:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("the caller that gave up got %v, want context.Canceled", err)
		}
	case <-c.Done():
		t.Fatal("a caller that gave up did not return while the fetch was blocked")
	}
	release()
	if err := <-stayer; err != nil {
		t.Fatalf("the caller that stayed failed because another gave up: %v", err)
	}
	if n := h.Backend.Fetches() - before; n != 1 {
		t.Errorf("%d fetches, want 1 shared by both callers", n)
	}
}

func refresh(t *testing.T, h *Harness) {
	if h.Advance == nil {
		t.Skipf("the provider runs on the wall clock: %s", h.Why)
	}
	c := ctx(t)
	share := h.Share
	if share == 0 {
		share = session.DefaultRefresh.Share
	}
	renew := time.Duration(float64(h.Lifetime) * share)
	if latest := h.Lifetime - session.DefaultRefresh.MinRemaining; latest < renew {
		renew = latest
	}
	first := get(t, h, c, h.Accounts[0])
	before := h.Backend.Fetches()
	h.Advance(renew - time.Second)
	if got := get(t, h, c, h.Accounts[0]); got.AccessKeyID != first.AccessKeyID || h.Backend.Fetches() != before {
		t.Fatalf("refreshed a second before the refresh point (%v of %v)", renew, h.Lifetime)
	}
	h.Advance(2 * time.Second)
	if got := get(t, h, c, h.Accounts[0]); got.AccessKeyID == first.AccessKeyID || h.Backend.Fetches() != before+1 {
		t.Fatalf("not refreshed a second after the refresh point (%v of %v): %d fetches", renew, h.Lifetime, h.Backend.Fetches()-before)
	}
}

func badAccount(t *testing.T, h *Harness) {
	c := ctx(t)
	before := h.Backend.Fetches()
	for _, bad := range []string{"", "12345", "1234567890123", "12345678901a"} {
		if _, err := h.Provider.Credentials(c, bad); !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("account %q: %v, want session.ErrInvalidParameter", bad, err)
		}
	}
	if n := h.Backend.Fetches() - before; n != 0 {
		t.Errorf("bad account IDs made %d fetches", n)
	}
}

func config(t *testing.T, h *Harness) {
	c := ctx(t)
	creds := get(t, h, c, h.Accounts[0])
	cfg, err := session.Config(c, h.Provider, h.Accounts[0])
	if err != nil {
		t.Fatalf("session.Config: %v", err)
	}
	got, err := cfg.Credentials.Retrieve(c)
	if err != nil || got.AccessKeyID != creds.AccessKeyID {
		t.Errorf("Config's credentials are %q, %v; want the provider's %q", got.AccessKeyID, err, creds.AccessKeyID)
	}
	if cfg.Region == "" {
		t.Error("Config has no region")
	}
}
