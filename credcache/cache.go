// Package credcache is the on-disk credential cache shared by every rolehop
// process of a user.
//
// One JSON file per key holds one set of temporary credentials in the AWS
// CLI's assume-role cache layout:
//
//	{"Credentials": {"AccessKeyId": "...", "SecretAccessKey": "...",
//	  "SessionToken": "...", "Expiration": "2026-11-22T16:00:00Z"},
//	 "AssumedRoleUser": {"AssumedRoleId": "...", "Arn": "..."},
//	 "ResponseMetadata": {}}
//
// Unknown fields are ignored on read. AssumeRoleKey computes the AWS CLI's
// key (botocore's BaseAssumeRoleCredentialFetcher._create_cache_key) so
// that, pointed at ~/.aws/cli/cache (AWSCLIDir), rolehop and the AWS CLI
// share entries. That key is the sha1 hex of json.dumps(args,
// sort_keys=True) with Python's default separators (", " and ": ") and
// ensure_ascii; the compact separators (",", ":") are what botocore uses
// for SSO role credentials, not for assume-role. Tests check the key
// against botocore itself and check that the AWS CLI uses an entry rolehop
// wrote.
//
// Differences from the AWS CLI, all deliberate:
//   - The default folder is rolehop's own (DefaultDir:
//     $XDG_CACHE_HOME/rolehop/creds or ~/.cache/rolehop/creds), not
//     ~/.aws/cli/cache; set Cache.Dir to AWSCLIDir() to share.
//   - botocore writes Expiration as "2026-11-22T16:00:00UTC"
//     (strftime %Z); rolehop writes RFC 3339 ("...Z"), which botocore's
//     dateutil parser reads. rolehop reads both.
//   - botocore truncates the file in place (a reader may see half a file);
//     rolehop writes a temporary file in the same folder, fsyncs it and
//     renames it over the entry, so readers always see a complete file,
//     and it creates the folder 0700 and files 0600.
//   - botocore has no lock: concurrent AWS CLI processes that miss all call
//     STS. rolehop takes a per-key lock (<key>.lock, gofrs/flock) before
//     fetching and re-checks the entry under it, so many rolehop processes
//     that miss at once make one fetch. Readers of a fresh entry never
//     take the lock.
//   - When a refresh fails but the cached credentials have not expired yet
//     (they are only inside the refresh window), Get returns them with a
//     warning instead of failing.
//
// A file that is not valid JSON or lacks a field (a corrupt or foreign file)
// is ignored with a warning (which never contains the file's content) and
// replaced by the next fetch.
//
// # Trusting only what rolehop wrote
//
// Another local user who can write the cache folder (pre-created 0777, a
// symlink, XDG_CACHE_HOME on a shared path) must not make the user's tools
// run with someone else's keys, crash or hang them. So:
//
//   - The folder must be a folder (not a symlink) owned by the process's
//     user and not writable by group or others; otherwise Get warns and
//     runs without the cache (it fetches, and writes nothing there). A
//     folder of ours that others may only read (botocore creates
//     ~/.aws/cli/cache 0755) is tightened to 0700 with a warning. The folder
//     is opened once and every later step is relative to that descriptor.
//   - An entry is used only when it is a regular file (opened without
//     following a symlink and without blocking, then fstat), owned by the
//     process's user, with no group or other permission bits, at most 64
//     KiB, and expiring no later than MaxLifetime (36 hours, the longest STS
//     issues) from now. Anything else is ignored with a warning and replaced.
//   - The per-key lock refuses a symlink, FIFO or hard link planted under
//     its name, and its wait is bounded (LockTimeout, default a minute):
//     then Get warns and fetches without the cache.
//   - Temporary files of writers killed between create and rename hold
//     full credentials; the next writer removes those older than a minute.
package credcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/internal/credfile"
)

// DefaultRefreshWindow is how long before expiry an entry is replaced: 15
// minutes, as the AWS CLI does.
const DefaultRefreshWindow = credfile.DefaultRefreshWindow

// lockRetry is how often a waiting process re-tries the key's lock.
const lockRetry = 10 * time.Millisecond

// DefaultLockTimeout bounds the wait for another process's lock on a key;
// after it Get goes on without the cache (with a warning). A fetch under the
// lock is one STS call, or an IdP login, so a minute is far more than a
// live holder needs.
const DefaultLockTimeout = time.Minute

// MaxLifetime bounds how far in the future a cached entry may expire: 36
// hours is the longest any STS call issues (GetSessionToken and
// GetFederationToken; AssumeRole and AssumeRoleWithSAML stop at 12 hours).
// An entry expiring later was not written from an STS answer and is
// refused; fetched credentials that expire later are returned but not
// cached.
const MaxLifetime = credfile.MaxLifetime

// staleTempAge is how old a leftover temporary file must be before it is
// removed.
const staleTempAge = time.Minute

var (
	// ErrInvalidKey is returned for a key that cannot be a file name.
	ErrInvalidKey = credfile.ErrInvalidKey
	// ErrNoExpiry is returned when fetch returns credentials that never
	// expire: they have nothing to do in a cache of temporary credentials.
	ErrNoExpiry = errors.New("credcache: fetched credentials have no expiration")
)

// Cache is an on-disk credential cache. The zero value uses DefaultDir, the
// 15-minute refresh window, the wall clock and no logging. A Cache is safe
// for concurrent use by goroutines and processes; do not change its fields
// after first use.
type Cache struct {
	// Dir is the cache folder; "" means DefaultDir(). It is created 0700.
	Dir string
	// RefreshWindow: an entry is fresh while now < expiry - RefreshWindow.
	// 0 means DefaultRefreshWindow; a negative value means no window.
	RefreshWindow time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives warnings about corrupt files and failed writes; nil
	// discards them. Secrets are never logged.
	Logger *slog.Logger
	// LockTimeout bounds the wait for another process's lock on a key;
	// then Get goes on without the cache, with a warning. 0 means
	// DefaultLockTimeout.
	LockTimeout time.Duration
}

// Entry is one cached credential with the optional AssumedRoleUser the AWS
// CLI also stores.
type Entry struct {
	Credentials     aws.Credentials
	AssumedRoleUser *AssumedRoleUser
}

// AssumedRoleUser is the STS AssumedRoleUser element.
type AssumedRoleUser = credfile.AssumedRoleUser

// DefaultDir returns $XDG_CACHE_HOME/rolehop/creds, or
// ~/.cache/rolehop/creds when XDG_CACHE_HOME is unset or not absolute.
func DefaultDir() (string, error) { return credfile.DefaultDir() }

// AWSCLIDir returns ~/.aws/cli/cache, the AWS CLI's assume-role cache.
func AWSCLIDir() (string, error) { return credfile.AWSCLIDir() }

// Get returns the credentials cached under key, calling fetch when there are
// none, they are corrupt, or they are inside the refresh window. A fresh
// entry is returned without taking any lock. Otherwise Get takes the key's
// file lock (waiting for another process that holds it, as long as ctx
// allows), re-reads the entry (that process may have refreshed it), and
// only then calls fetch and writes the result atomically.
//
// If writing the entry fails, Get logs a warning and still returns the
// fetched credentials.
func (c *Cache) Get(ctx context.Context, key string, fetch func(ctx context.Context) (aws.Credentials, error)) (aws.Credentials, error) {
	e, err := c.GetEntry(ctx, key, func(ctx context.Context) (Entry, error) {
		cr, err := fetch(ctx)
		return Entry{Credentials: cr}, err
	})
	return e.Credentials, err
}

// GetEntry is Get for callers that also want the AssumedRoleUser stored.
func (c *Cache) GetEntry(ctx context.Context, key string, fetch func(ctx context.Context) (Entry, error)) (Entry, error) {
	if err := checkKey(key); err != nil {
		return Entry{}, err
	}
	dir, err := c.dir()
	if err != nil {
		return Entry{}, err
	}
	d, err := c.openDir(dir)
	if err != nil {
		c.logger().Warn("credcache: cannot use the cache folder; continuing without the cache", "path", dir, "reason", err.Error())
		return c.fetchOnly(ctx, key, fetch)
	}
	defer d.Close()
	name := key + ".json"

	// Fast path: no lock, no write.
	e, ok, why := c.load(d, name)
	if ok && c.fresh(e) {
		return e, nil
	}
	c.warnIgnored(d, name, why)

	lk, err := d.Lock(ctx, key+".lock", atomicfile.LockOptions{Timeout: c.lockTimeout(), Retry: lockRetry})
	if err != nil {
		if ctx.Err() != nil {
			return Entry{}, fmt.Errorf("credcache: waiting for the lock on cache entry %s: %w", key, ctx.Err())
		}
		reason := err.Error()
		if errors.Is(err, atomicfile.ErrLockTimeout) {
			reason = fmt.Sprintf("another process held it for %s", c.lockTimeout())
		}
		c.logger().Warn("credcache: cannot lock the cache entry; continuing without the cache", "key", key, "reason", reason)
		return c.fetchOnly(ctx, key, fetch)
	}
	defer func() {
		if err := lk.Unlock(); err != nil {
			c.logger().Warn("credcache: cannot release cache lock", "key", key, "err", err)
		}
	}()
	for _, n := range d.RemoveStale(isTemp, staleTempAge, time.Now()) {
		c.logger().Debug("credcache: removed a leftover temporary file", "file", n)
	}

	// Another process may have refreshed the entry while we waited.
	old, haveOld, why2 := c.load(d, name)
	if haveOld && c.fresh(old) {
		return old, nil
	}
	if why2 != why {
		c.warnIgnored(d, name, why2)
	}

	e, err = fetch(ctx)
	if err != nil {
		if haveOld && c.now().Before(old.Credentials.Expires) {
			c.logger().Warn("credcache: refresh failed, using cached credentials until they expire",
				"key", key, "expires", old.Credentials.Expires.UTC().Format(time.RFC3339), "err", err)
			return old, nil
		}
		return Entry{}, err
	}
	if !e.Credentials.CanExpire || e.Credentials.Expires.IsZero() {
		return Entry{}, fmt.Errorf("%w (key %s); cache only temporary credentials", ErrNoExpiry, key)
	}
	if e.Credentials.Expires.After(c.now().Add(MaxLifetime)) {
		c.logger().Warn("credcache: not caching credentials that expire later than STS can issue",
			"key", key, "expires", e.Credentials.Expires.UTC().Format(time.RFC3339), "max_lifetime", MaxLifetime.String())
		return e, nil
	}
	if err := c.write(d, name, e); err != nil {
		c.logger().Warn("credcache: cannot write cache entry; continuing without caching", "key", key, "err", err)
	}
	return e, nil
}

// fetchOnly is GetEntry without the cache.
func (c *Cache) fetchOnly(ctx context.Context, key string, fetch func(ctx context.Context) (Entry, error)) (Entry, error) {
	e, err := fetch(ctx)
	if err != nil {
		return Entry{}, err
	}
	if !e.Credentials.CanExpire || e.Credentials.Expires.IsZero() {
		return Entry{}, fmt.Errorf("%w (key %s); cache only temporary credentials", ErrNoExpiry, key)
	}
	return e, nil
}

// openDir creates (0700) and opens the cache folder, and checks it is one
// only this user can change (atomicfile.OpenPrivate).
func (c *Cache) openDir(dir string) (*atomicfile.Dir, error) {
	d, was, err := atomicfile.OpenPrivate(dir, true)
	if err != nil {
		return nil, err
	}
	if was != 0 {
		c.logger().Warn("credcache: tightened the cache folder to 0700", "path", dir, "from", fmt.Sprintf("%04o", was))
	}
	return d, nil
}

func (c *Cache) lockTimeout() time.Duration {
	if c.LockTimeout > 0 {
		return c.LockTimeout
	}
	return DefaultLockTimeout
}

func isTemp(name string) bool { return credfile.IsTemp(name) }

// Delete removes the entry for key; a missing entry is not an error.
func (c *Cache) Delete(key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	dir, err := c.dir()
	if err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, key+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("credcache: cannot delete cache entry %s: %w", key, err)
	}
	return nil
}

func (c *Cache) dir() (string, error) {
	if c.Dir != "" {
		return c.Dir, nil
	}
	return DefaultDir()
}

func (c *Cache) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Cache) window() time.Duration {
	switch {
	case c.RefreshWindow == 0:
		return DefaultRefreshWindow
	case c.RefreshWindow < 0:
		return 0
	}
	return c.RefreshWindow
}

func (c *Cache) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (c *Cache) fresh(e Entry) bool {
	return c.now().Before(e.Credentials.Expires.Add(-c.window()))
}

func checkKey(key string) error { return credfile.CheckKey(key) }

// load reads and validates the entry name in d (credfile.Load). A missing
// file is absent with no reason; a file rolehop cannot trust, a corrupt or
// foreign one is absent with the reason (which never quotes the file), and
// is replaced by the next fetch.
func (c *Cache) load(d *atomicfile.Dir, name string) (Entry, bool, string) {
	e, ok, reason := credfile.Load(d, name, c.now())
	if !ok {
		return Entry{}, false, reason
	}
	return fromFile(e), true, ""
}

// warnIgnored logs the one warning for an entry load refused.
func (c *Cache) warnIgnored(d *atomicfile.Dir, name, reason string) {
	if reason != "" {
		c.logger().Warn("credcache: ignoring cache file; it will be replaced", "path", d.Join(name), "reason", reason)
	}
}

// parse returns the entry or a reason it is not one (credfile.Parse).
func parse(data []byte) (Entry, string) {
	e, reason := credfile.Parse(data)
	if reason != "" {
		return Entry{}, reason
	}
	return fromFile(e), ""
}

func fromFile(e credfile.Entry) Entry {
	return Entry{
		Credentials: aws.Credentials{
			AccessKeyID:     e.AccessKeyID,
			SecretAccessKey: e.SecretAccessKey,
			SessionToken:    e.SessionToken,
			Source:          "rolehop credcache",
			CanExpire:       true,
			Expires:         e.Expires,
		},
		AssumedRoleUser: e.AssumedRoleUser,
	}
}

func (c *Cache) write(d *atomicfile.Dir, name string, e Entry) error {
	data, err := encode(e)
	if err != nil {
		return err
	}
	return d.Write(name, data, atomicfile.Options{Perm: 0o600, MidWrite: testHookMidWrite})
}

// encode is an entry in the AWS CLI's JSON layout (credfile.Encode).
func encode(e Entry) ([]byte, error) {
	return credfile.Encode(credfile.Entry{
		AccessKeyID:     e.Credentials.AccessKeyID,
		SecretAccessKey: e.Credentials.SecretAccessKey,
		SessionToken:    e.Credentials.SessionToken,
		Expires:         e.Credentials.Expires,
		AssumedRoleUser: e.AssumedRoleUser,
	})
}

// testHookMidWrite, when set (only by this package's tests), runs after
// half of an entry's temporary file has been written and synced.
var testHookMidWrite func()
