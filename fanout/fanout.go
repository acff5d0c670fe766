// Package fanout runs one piece of work over many items at once — accounts,
// roles, regions — with a bound on concurrency, a time limit per item, and
// every item's outcome reported: it never stops at the first failure (one
// broken account among 200 must not cost the other 199), results come back in
// input order, and cancelling the context stops what has not started and
// cancels what is running.
//
// `rolehop login --all` fetches every role's credentials through Map.
//
// Run is the fleet run (`rolehop run`, the awsrun job): work over account or
// account×region targets, each with an aws.Config from a session.Provider,
// results streamed as targets end. Its design choices:
//   - one credentials fetch per account, shared by its regions and held only
//     while the account's targets run, so memory follows the concurrency,
//     not the number of accounts;
//   - throttling slows a run and never fails a target (retried with jittered
//     backoff without limit); other retryable errors (the SDK's
//     classification) are retried a bounded number of times; the rest fail
//     at once;
//   - the STS rate is a Limiter shared by every worker and installed in the
//     provider's STS client (STSOptions), so refreshes of long-running
//     targets count too; concurrency is a separate bound;
//   - a failure tolerance halts the run (soon: start nothing new; now: also
//     cancel what runs); the rest are reported Skipped, never silently lost;
//   - Shard splits a plan by a hash of the account ID, so shards on separate
//     machines are disjoint and cover the plan even if it changes between
//     their starts.
package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// DefaultParallel is the concurrency when Options.Parallel is 0: STS and the
// IdPs, not the CPU, bound how much runs at once.
const DefaultParallel = 16

// Options configure Map. The zero value works.
type Options struct {
	// Parallel bounds how many items run at once; 0 means DefaultParallel.
	Parallel int
	// Timeout bounds each item's run (its context ends after it); 0 means
	// none.
	Timeout time.Duration
	// Progress, when set, is called after each item ends, from one
	// goroutine at a time, with the number done and the total.
	Progress func(done, total int, r Outcome)
	// Now is the clock for Took; nil means time.Now.
	Now func() time.Time
}

// Outcome is what Progress sees of an item that ended.
type Outcome struct {
	Index int
	Err   error
	Took  time.Duration
}

// Result is one item's outcome.
type Result[R any] struct {
	Value R
	Err   error // the item's error, context.DeadlineExceeded wrapped in ErrTimeout, or ErrNotStarted
	Took  time.Duration
}

var (
	// ErrTimeout wraps the error of an item that ran past Options.Timeout.
	ErrTimeout = errors.New("timed out")
	// ErrNotStarted is the error of items never started because ctx ended.
	ErrNotStarted = errors.New("not started: cancelled")
)

// Map calls fn for every item, at most Options.Parallel at once, and returns
// every result in input order. It returns when every started item has
// ended. An item whose fn panics is not caught: fn must not panic.
func Map[T, R any](ctx context.Context, items []T, fn func(ctx context.Context, item T) (R, error), opts Options) []Result[R] {
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	results := make([]Result[R], len(items))
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex // serialises Progress
	done := 0
	finish := func(i int) {
		if opts.Progress == nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		done++
		opts.Progress(done, len(items), Outcome{Index: i, Err: results[i].Err, Took: results[i].Took})
	}
	for i, item := range items {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			for j := i; j < len(items); j++ {
				results[j].Err = fmt.Errorf("%w: %w", ErrNotStarted, context.Cause(ctx))
				finish(j)
			}
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			ictx, cancel := ctx, context.CancelFunc(func() {})
			if opts.Timeout > 0 {
				ictx, cancel = context.WithTimeout(ctx, opts.Timeout)
			}
			start := now()
			v, err := fn(ictx, item)
			if err != nil && opts.Timeout > 0 && errors.Is(ictx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
				err = fmt.Errorf("%w after %v: %w", ErrTimeout, opts.Timeout, err)
			}
			cancel()
			results[i] = Result[R]{Value: v, Err: err, Took: now().Sub(start)}
			finish(i)
		})
	}
	wg.Wait()
	return results
}

// Errors returns the errors of results, with their indexes, in input order.
func Errors[R any](results []Result[R]) (indexes []int, errs []error) {
	for i, r := range results {
		if r.Err != nil {
			indexes = append(indexes, i)
			errs = append(errs, r.Err)
		}
	}
	return indexes, errs
}
