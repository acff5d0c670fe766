package store

import (
	"context"
	"sync"
	"time"
)

// Memory is a Store in this process's memory: sessions and the replay cache
// of one broker process. Replicas behind a load balancer need a shared store
// (redisstore) instead: with Memory, a login made on one replica is unknown
// to the others and an assertion consumed on one could be replayed on
// another.
//
// Expired entries are dropped when read and swept whenever the map has
// doubled since the last sweep, so memory stays proportional to the live
// entries. The zero value is not usable; call NewMemory.
type Memory struct {
	now func() time.Time

	mu        sync.Mutex
	m         map[string]entry
	lastSweep int
	closed    bool
}

type entry struct {
	value   []byte
	expires time.Time
}

// NewMemory returns an empty Memory store on clock now (nil: time.Now).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, m: map[string]entry{}, lastSweep: 64}
}

// Len returns the number of entries held, expired ones not yet swept
// included (for tests and the memory benchmark).
func (s *Memory) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

func (s *Memory) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	return nil
}

// sweep drops expired entries once the map has doubled. Caller holds s.mu.
func (s *Memory) sweep(now time.Time) {
	if len(s.m) < 2*s.lastSweep {
		return
	}
	for k, e := range s.m {
		if !now.Before(e.expires) {
			delete(s.m, k)
		}
	}
	s.lastSweep = max(len(s.m), 64)
}

// Put implements Store.
func (s *Memory) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := CheckArgs(key, value, ttl); err != nil {
		return err
	}
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	s.m[key] = entry{value: append([]byte{}, value...), expires: now.Add(ttl)}
	return nil
}

// Get implements Store.
func (s *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.begin(ctx); err != nil {
		return nil, err
	}
	defer s.mu.Unlock()
	e, ok := s.m[key]
	if !ok {
		return nil, ErrNotFound
	}
	if !s.now().Before(e.expires) {
		delete(s.m, key)
		return nil, ErrNotFound
	}
	return append([]byte{}, e.value...), nil
}

// Delete implements Store.
func (s *Memory) Delete(ctx context.Context, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	delete(s.m, key)
	return nil
}

// Claim implements Store.
func (s *Memory) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := CheckArgs(key, nil, ttl); err != nil {
		return false, err
	}
	if err := s.begin(ctx); err != nil {
		return false, err
	}
	defer s.mu.Unlock()
	now := s.now()
	if e, ok := s.m[key]; ok && now.Before(e.expires) {
		return false, nil
	}
	s.sweep(now)
	s.m[key] = entry{expires: now.Add(ttl)}
	return true, nil
}

// Ping implements Store.
func (s *Memory) Ping(ctx context.Context) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	s.mu.Unlock()
	return nil
}

// Close implements Store: the entries are dropped.
func (s *Memory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.m = nil
	return nil
}
