// Package redisstore is the broker's store (broker/store.Store) in Redis,
// for several broker replicas behind a load balancer: a login made on one
// replica is honoured by the others, and an assertion consumed on one is
// refused by all (Claim is SET NX PX, atomic in Redis).
//
// Keys are prefixed (default "rolehop:broker:") so that the broker can
// share a Redis with other programs; values expire by Redis's own TTL, so
// nothing needs sweeping. An unreachable Redis is an error from every call,
// never ErrNotFound: the broker answers 503 rather than treating an outage
// as "no session" or, worse, "assertion not seen yet".
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rolehop/rolehop/broker/store"
)

// DefaultPrefix starts every key the broker writes.
const DefaultPrefix = "rolehop:broker:"

// Options configure New.
type Options struct {
	// Prefix starts every key; "" means DefaultPrefix.
	Prefix string
	// Timeout bounds every command (dial, read, write); 0 means 2 seconds,
	// so that a stalled Redis turns into a 503 page quickly rather than a
	// hung browser.
	Timeout time.Duration
}

// Store is a store.Store in Redis.
type Store struct {
	c      *redis.Client
	prefix string
	closed atomic.Bool
}

// New connects to the Redis a URL names: redis://[user:password@]host:port[/db]
// or rediss:// for TLS (go-redis's ParseURL). The connection is made
// lazily; call Ping to check it.
func New(url string, o Options) (*Store, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("redis store URL: %w; want redis://[user:password@]host:port[/db] (rediss:// for TLS)", redactErr(err, url))
	}
	t := o.Timeout
	if t <= 0 {
		t = 2 * time.Second
	}
	opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = t, t, t
	opt.MaxRetries = 1
	// Keep the process's own identity out of CLIENT SETINFO noise and avoid
	// a failing HELLO on older servers being retried on every connection.
	opt.DisableIdentity = true
	p := o.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return &Store{c: redis.NewClient(opt), prefix: p}, nil
}

// redactErr drops the URL (which may hold a password) from an error message.
func redactErr(err error, url string) error {
	return errors.New(strings.ReplaceAll(err.Error(), url, "[redis URL]"))
}

func (s *Store) key(k string) string { return s.prefix + k }

func (s *Store) check() error {
	if s.closed.Load() {
		return store.ErrClosed
	}
	return nil
}

func wrap(op string, err error) error {
	return fmt.Errorf("redis store %s: %w", op, err)
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := store.CheckArgs(key, value, ttl); err != nil {
		return err
	}
	if err := s.check(); err != nil {
		return err
	}
	if err := s.c.Set(ctx, s.key(key), value, ttl).Err(); err != nil {
		return wrap("put", err)
	}
	return nil
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.check(); err != nil {
		return nil, err
	}
	v, err := s.c.Get(ctx, s.key(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, wrap("get", err)
	}
	return v, nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.c.Del(ctx, s.key(key)).Err(); err != nil {
		return wrap("delete", err)
	}
	return nil
}

// Claim implements store.Store with SET key "" NX PX ttl.
func (s *Store) Claim(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := store.CheckArgs(key, nil, ttl); err != nil {
		return false, err
	}
	if err := s.check(); err != nil {
		return false, err
	}
	res, err := s.c.SetArgs(ctx, s.key(key), "", redis.SetArgs{Mode: "NX", TTL: ttl}).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil // NX refused: the key exists
	}
	if err != nil {
		return false, wrap("claim", err)
	}
	return res == "OK", nil
}

// Ping implements store.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.check(); err != nil {
		return err
	}
	if err := s.c.Ping(ctx).Err(); err != nil {
		return wrap("ping", err)
	}
	return nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.c.Close()
}

// SetLogger sends go-redis's own messages (connection pool failures) to l
// at warning level instead of the standard logger on stderr. Like
// go-redis's redis.SetLogger it is process-wide: call it once, from main.
func SetLogger(l *slog.Logger) {
	redis.SetLogger(slogPrintf{l})
}

type slogPrintf struct{ l *slog.Logger }

func (p slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	p.l.WarnContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
