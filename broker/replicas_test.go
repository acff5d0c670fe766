package broker_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/broker/store/redisstore"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// TestReplicasShareRedis: two broker replicas on one real Redis. A login
// made on one is honoured by the other, a login may finish on the other
// (the load balancer picks), an assertion used on one is refused on the
// other, and with Redis stopped both answer 503 pages (no panic) and
// recover when it is back, without a restart.
func TestReplicasShareRedis(t *testing.T) {
	r := testpeer.NewRedis(t)
	redisURL := "redis://" + r.Addr + "/0"
	newStore := func() store.Store {
		s, err := redisstore.New(redisURL, redisstore.Options{Timeout: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	h := newHarness(t, harnessOptions{store: newStore(), keyFile: true, configure: func(y *string) {
		*y = "store: " + redisURL + "\n" + *y
	}})
	a := h.url
	b := h.replica(newStore(), stsConfig(h.sts, aws.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret}))

	// Logged in on A, honoured on B.
	alice := h.browser()
	req := h.startLogin(alice, "/")
	stolen := alice.c.Jar.Cookies(mustURL(t, a+"/"))
	assertion := b64(craft(t, h.idp, h.shape(req, "alice", "admins")))
	if resp := h.postACS(alice, assertion, req.Relay); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login on A: %d", resp.StatusCode)
	}
	if idx := alice.nav(b + "/"); idx.StatusCode != 200 || !strings.Contains(idx.body, "Signed in as <strong>alice</strong>") {
		t.Fatalf("B does not know alice's session: %d", idx.StatusCode)
	}
	if resp := alice.nav(b + "/prod-admin"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), h.fed.URL) {
		t.Fatalf("opening a console on B: %d", resp.StatusCode)
	}

	// The same assertion, with the login cookie, replayed on B.
	attacker := h.browser()
	attacker.c.Jar.SetCookies(mustURL(t, b+"/"), stolen)
	resp := attacker.do(http.MethodPost, b+"/saml/acs", formOf(assertion, req.Relay), nil)
	if resp.StatusCode < 400 || setsSession(resp.Response) {
		t.Fatalf("replay on B accepted: %d", resp.StatusCode)
	}
	if l := h.auditLines("login"); l[len(l)-1]["reason"] != "replay" {
		t.Errorf("replay on B refused for %v, want replay", l[len(l)-1]["reason"])
	}

	// Started on A, finished on B.
	bob := h.browser()
	req = h.startLogin(bob, "/prod-dev")
	resp = bob.do(http.MethodPost, b+"/saml/acs", formOf(b64(craft(t, h.idp, h.shape(req, "bob", "dev"))), req.Relay), nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != a+"/prod-dev" {
		t.Fatalf("login started on A, finished on B: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	// Redis stopped: 503 pages, no panic.
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{a, b} {
		resp := alice.nav(u + "/")
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(resp.body, "temporarily unavailable") {
			t.Errorf("%s/ with Redis down: %d\n%s", u, resp.StatusCode, resp.body)
		}
		if resp := alice.nav(u + "/healthz"); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s/healthz with Redis down: %d", u, resp.StatusCode)
		}
		if resp := alice.nav(u + "/readyz"); resp.StatusCode != http.StatusOK {
			t.Errorf("%s/readyz with Redis down: %d (the replica itself is fine)", u, resp.StatusCode)
		}
	}
	carol := h.browser()
	req = h.startLogin(carol, "/")
	resp = h.postACS(carol, b64(craft(t, h.idp, h.shape(req, "carol", "dev"))), req.Relay)
	if resp.StatusCode != http.StatusServiceUnavailable || setsSession(resp.Response) {
		t.Errorf("a login with Redis down: %d, want 503 and no session", resp.StatusCode)
	}

	// Redis back (empty, as a Redis without persistence restarts): both
	// replicas recover by themselves.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := r.Restart(ctx, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{a, b} {
		waitUntil(t, func() bool { return alice.nav(u+"/healthz").StatusCode == 200 }, u+"/healthz to recover")
	}
	if resp := alice.nav(b + "/"); resp.StatusCode != http.StatusFound {
		t.Errorf("a session from before the outage on a fresh Redis: %d, want a new login (302)", resp.StatusCode)
	}
	h.login(carol, "carol", "dev")
	if who := h.signedInAs(carol); who != "carol" {
		t.Errorf("after recovery: signed in as %q", who)
	}
}

func formOf(samlResponse, relay string) map[string][]string {
	return map[string][]string{"SAMLResponse": {samlResponse}, "RelayState": {relay}}
}

func waitUntil(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestStoreWriterCannotForgeSessions: someone who can write the store
// (not the cookie keys) can neither make a session up nor move one to
// another cookie.
func TestStoreWriterCannotForgeSessions(t *testing.T) {
	mem := &recordingStore{Store: store.NewMemory(nil)}
	h := newHarness(t, harnessOptions{store: mem})
	alice, bob := h.browser(), h.browser()
	h.login(alice, "alice", "admins")
	h.login(bob, "bob", "dev")
	// Find both stored sessions and swap their values.
	keys := mem.sessionKeys()
	if len(keys) != 2 {
		t.Fatalf("%d sessions stored, want 2", len(keys))
	}
	v0, _ := mem.Get(t.Context(), keys[0])
	v1, _ := mem.Get(t.Context(), keys[1])
	_ = mem.Put(t.Context(), keys[0], v1, time.Hour)
	_ = mem.Put(t.Context(), keys[1], v0, time.Hour)
	if a, b := h.signedInAs(alice), h.signedInAs(bob); a != "" || b != "" {
		t.Errorf("after swapping stored sessions: alice's cookie is %q, bob's %q; want neither", a, b)
	}
	// A made-up session under a real key.
	_ = mem.Put(t.Context(), keys[0], []byte(`{"u":"root","n":"root","g":["admins"],"c":"x","e":"2999-01-01T00:00:00Z"}`), time.Hour)
	if who := h.signedInAs(alice); who != "" {
		t.Errorf("a made-up stored session signs in as %q", who)
	}
}

// recordingStore remembers the session keys put into it.
type recordingStore struct {
	store.Store
	mu   sync.Mutex
	keys []string
}

func (r *recordingStore) Put(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	if strings.HasPrefix(key, "sess:") {
		r.mu.Lock()
		if !slices.Contains(r.keys, key) {
			r.keys = append(r.keys, key)
		}
		r.mu.Unlock()
	}
	return r.Store.Put(ctx, key, v, ttl)
}

func (r *recordingStore) sessionKeys() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.keys...)
}
