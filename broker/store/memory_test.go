package store_test

import (
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/broker/store/storetest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestMemoryConformance(t *testing.T) {
	clocks := map[*testing.T]*clock{}
	var mu sync.Mutex
	storetest.Suite{
		New: func(t *testing.T) store.Store {
			c := &clock{t: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)}
			mu.Lock()
			clocks[t] = c
			mu.Unlock()
			return store.NewMemory(c.Now)
		},
		Wait: func(t *testing.T, d time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			clocks[t].Advance(d)
		},
	}.Run(t)
}

// TestMemorySweepsExpired: a broker under steady logins keeps memory
// proportional to the live sessions, not to every session it ever held.
func TestMemorySweepsExpired(t *testing.T) {
	c := &clock{t: time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)}
	m := store.NewMemory(c.Now)
	for i := range 10_000 {
		if _, err := m.Claim(t.Context(), "seen:"+string(rune('a'+i%26))+time.Duration(i).String(), time.Minute); err != nil {
			t.Fatal(err)
		}
		c.Advance(time.Second) // each entry outlives 60 later ones
	}
	if n := m.Len(); n > 200 {
		t.Errorf("%d entries held after 10,000 claims of 1-minute entries, one per second; want about 60", n)
	}
}
