package redisstore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/broker/store/redisstore"
	"github.com/rolehop/rolehop/broker/store/storetest"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// TestRedisConformance runs the store suite against a real redis-server.
// Every subtest gets its own key prefix on one server, so they cannot see
// each other's keys.
func TestRedisConformance(t *testing.T) {
	r := testpeer.NewRedis(t)
	n := 0
	storetest.Suite{
		New: func(t *testing.T) store.Store {
			n++
			s, err := redisstore.New("redis://"+r.Addr+"/0", redisstore.Options{Prefix: "test" + strings.Repeat("x", n) + ":"})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Wait: func(_ *testing.T, d time.Duration) { time.Sleep(d) },
		TTL:  200 * time.Millisecond,
	}.Run(t)
}

// TestRedisDown: an unreachable Redis is an error, never "not found" (the
// broker must answer 503, not "no session" or "assertion not seen").
func TestRedisDown(t *testing.T) {
	r := testpeer.NewRedis(t)
	s, err := redisstore.New("redis://:s3cret-do-not-print@"+r.Addr, redisstore.Options{Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get(t.Context(), "k")
	if err == nil || err == store.ErrNotFound {
		t.Fatalf("Get with Redis down = %v; want an error other than ErrNotFound", err)
	}
	if ok, err := s.Claim(t.Context(), "k", time.Minute); err == nil || ok {
		t.Fatalf("Claim with Redis down = %v, %v", ok, err)
	}
	if err := s.Ping(t.Context()); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Ping with Redis down = %v", err)
	}
}

func TestRedisURLErrors(t *testing.T) {
	for _, u := range []string{"http://127.0.0.1:6379", "redis://:pw-do-not-print@[::1", ""} {
		_, err := redisstore.New(u, redisstore.Options{})
		if err == nil {
			t.Errorf("New(%q): no error", u)
			continue
		}
		if strings.Contains(err.Error(), "pw-do-not-print") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}
