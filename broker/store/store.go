// Package store holds what the broker must share between requests and, with
// several replicas behind a load balancer, between processes: the sessions
// of signed-in users and the replay cache of consumed SAML assertion IDs.
//
// It is one small interface over opaque bytes with a time to live, so that
// the broker's types never leak into a backend, and two implementations:
// Memory (one process; the default) and redisstore.Store (several replicas
// sharing a Redis). Both pass the one conformance suite in
// broker/store/storetest, as restic's backends pass internal/backend/test.
//
// Keys are chosen by the broker and are never a bearer secret: a session is
// stored under a hash of its cookie's random ID, so that reading the store
// (a Redis dump, a MONITOR session) yields no usable cookie.
package store

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is returned by Get for a key that is absent or expired.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned by every method after Close.
var ErrClosed = errors.New("store: closed")

// MaxValueSize bounds what Put accepts; the broker's values are a few
// hundred bytes.
const MaxValueSize = 64 << 10

// Store keeps short-lived values. Implementations are safe for concurrent
// use, honour ctx, and wrap their backend's errors (an unreachable Redis)
// so that callers can tell "absent" (ErrNotFound) from "unavailable"
// (anything else).
type Store interface {
	// Put stores value under key for ttl (> 0), replacing any value.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns a copy of the value under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; a missing key is not an error.
	Delete(ctx context.Context, key string) error
	// Claim records key for ttl (> 0) if it is not recorded yet and reports
	// whether this call recorded it. It is atomic across every user of the
	// store (all replicas): of any number of concurrent claims of one key,
	// exactly one returns true. The replay cache is built on it.
	Claim(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Ping checks that the store can serve requests.
	Ping(ctx context.Context) error
	// Close releases the store's resources.
	Close() error
}

// CheckArgs is the argument check every implementation shares.
func CheckArgs(key string, value []byte, ttl time.Duration) error {
	switch {
	case key == "":
		return errors.New("store: empty key")
	case len(key) > 512:
		return errors.New("store: key longer than 512 bytes")
	case ttl <= 0:
		return errors.New("store: ttl must be positive")
	case len(value) > MaxValueSize:
		return errors.New("store: value larger than 64 KiB")
	}
	return nil
}
