package fanout

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/session"
)

// DefaultConcurrency is how many targets Run works on at once when
// RunOptions.Concurrency is 0. It is sized for STS and the commands a fleet
// run starts (each a process waiting on AWS), not for the CPU: 32 targets
// in flight at a 100 ms AssumeRole make ~300 STS calls a second at most,
// under STS's per-account quotas, and 32 processes fit any machine.
const DefaultConcurrency = 32

// Target is one unit of work of a fleet run: an account, or an account in
// one region. Targets of one account share one set of credentials (one
// AssumeRole however many regions).
type Target struct {
	Account string // 12-digit account ID
	Alias   string // the account's alias ("" when none)
	Region  string // "" for a unit that is the whole account
}

// Key names the target in journals and plans: "ACCOUNT" or
// "ACCOUNT/REGION". It never changes with the alias.
func (t Target) Key() string {
	if t.Region == "" {
		return t.Account
	}
	return t.Account + "/" + t.Region
}

// Label is what a person reads: the alias (else the ID), "/REGION" added
// for a regional target.
func (t Target) Label() string {
	name := t.Alias
	if name == "" {
		name = t.Account
	}
	if t.Region != "" {
		name += "/" + t.Region
	}
	return name
}

// Expand returns one target per account and region, grouped by account (the
// order Run holds an account's credentials for the shortest time); accounts
// alone when regions is empty.
func Expand(accounts []Target, regions []string) []Target {
	if len(regions) == 0 {
		return append([]Target(nil), accounts...)
	}
	out := make([]Target, 0, len(accounts)*len(regions))
	for _, a := range accounts {
		for _, r := range regions {
			t := a
			t.Region = r
			out = append(out, t)
		}
	}
	return out
}

// Status is how a target ended.
type Status int

// The statuses of RunResult.
const (
	// Succeeded: fn returned nil.
	Succeeded Status = iota + 1
	// Failed: the credentials or fn failed with an error that is not
	// retryable, or retries were exhausted.
	Failed
	// TimedOut: fn ran past RunOptions.Timeout (never retried).
	TimedOut
	// Cancelled: the target was running when ctx ended or the run halted
	// with HaltNow; it did not finish and is not a failure.
	Cancelled
	// Skipped: the target never started (ctx ended or the run halted).
	Skipped
)

var statusNames = map[Status]string{Succeeded: "succeeded", Failed: "failed", TimedOut: "timed out", Cancelled: "cancelled", Skipped: "skipped"}

func (s Status) String() string {
	if n, ok := statusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Failure reports whether s counts against the failure tolerance.
func (s Status) Failure() bool { return s == Failed || s == TimedOut }

// ErrHalted is the error of targets skipped because the failure tolerance was
// exceeded.
var ErrHalted = errors.New("not started: the run halted after too many failures")

// Halt says what a run does once its failure tolerance is exceeded.
type Halt int

const (
	// HaltSoon starts no new target and lets the running ones finish.
	HaltSoon Halt = iota
	// HaltNow also cancels the running targets.
	HaltNow
)

// Tolerance is how many failed targets (Failed or TimedOut) a run accepts:
// it halts when failures exceed Count, or, with Percent > 0, when they
// exceed Percent% of the targets. A tolerance of 0 halts at the first
// failure.
type Tolerance struct {
	Count   int
	Percent float64
}

// Exceeded reports whether failures out of total targets exceed t.
func (t Tolerance) Exceeded(failures, total int) bool {
	if t.Percent > 0 {
		return float64(failures)*100 > t.Percent*float64(total)
	}
	return failures > t.Count
}

func (t Tolerance) String() string {
	if t.Percent > 0 {
		return fmt.Sprintf("%g%%", t.Percent)
	}
	return fmt.Sprint(t.Count)
}

// RunOptions configure Run. The zero value works: DefaultConcurrency, no
// timeout, no retries, every failure tolerated.
type RunOptions struct {
	// Concurrency bounds how many targets run at once (credentials and fn);
	// 0 means DefaultConcurrency.
	Concurrency int
	// Timeout bounds each target's fn, all its attempts together; the wait
	// for credentials is not counted (throttling slows a run, it never
	// fails a target). 0 means none.
	Timeout time.Duration
	// Retries is how many times a retryable error is retried (credentials
	// or fn); 0 means none. Throttling is retried without limit and never
	// counted here.
	Retries int
	// Retryable classifies errors of fn and of the credentials; nil means
	// Retryable.
	Retryable func(error) bool
	// Tolerance, when set, halts the run once failures exceed it; nil
	// tolerates every failure (every target runs).
	Tolerance *Tolerance
	// Halt says what halting does; the zero value is HaltSoon.
	Halt Halt
	// Backoff is the wait before retry number n (1, 2, ...); nil means
	// exponential from 200 ms to 20 s with full jitter.
	Backoff func(n int) time.Duration
	// OnStart, when set, is called as each target starts (from the
	// target's goroutine).
	OnStart func(Target)
	// Now is the clock of Start and Took; nil means time.Now.
	Now func() time.Time
	// Logger receives debug lines (retries, throttling); nil discards.
	Logger *slog.Logger
}

// RunResult is one target's outcome, streamed by Run as the target ends.
type RunResult[T any] struct {
	Target
	// Index is the target's position in the targets given to Run.
	Index    int
	Status   Status
	Value    T
	Err      error // nil when Succeeded; ErrTimeout, ErrNotStarted or ErrHalted wrapped where they apply
	Attempts int   // calls of fn (0 when the credentials failed or it never started)
	Start    time.Time
	Took     time.Duration
}

// Func is the work of a fleet run: called with the target and an aws.Config
// for it (the target's region, credentials from the provider for its
// account, refreshed by the provider as they age).
type Func[T any] func(ctx context.Context, t Target, cfg aws.Config) (T, error)

// Run calls fn once for every target, at most Concurrency at once, with an
// aws.Config whose credentials come from p for the target's account, and
// yields every target's result as it ends (not in input order; Index says
// which). Credentials are fetched once per account and shared by the
// account's regions (one AssumeRole for a CrossAccount), held only while
// the account's targets run: memory is bounded by the concurrency, not by
// the number of targets, when targets of an account are adjacent (Expand
// makes them so).
//
// Throttling (of the credentials or of fn) is retried with backoff and
// never fails a target; other retryable errors are retried up to Retries
// times; the rest fail the target at once. Once failures exceed Tolerance
// the run halts (HaltSoon: no new target starts; HaltNow: running targets
// are cancelled too) and the targets not started are yielded as Skipped.
// When ctx ends, running targets see their context end (Cancelled unless
// they finished anyway) and the rest are Skipped.
//
// The work starts when the sequence is iterated; breaking out of the loop
// cancels what runs and returns once it has ended.
func Run[T any](ctx context.Context, p session.Provider, targets []Target, fn Func[T], opts RunOptions) iter.Seq[RunResult[T]] {
	return func(yield func(RunResult[T]) bool) {
		r := newRun(ctx, p, targets, fn, opts)
		defer r.stop()
		go r.dispatch()
		for res := range r.results {
			if !yield(res) {
				return
			}
		}
	}
}

type account struct {
	ready chan struct{}
	cfg   aws.Config
	err   error
}

type run[T any] struct {
	p       session.Provider
	targets []Target
	fn      Func[T]
	o       RunOptions

	ctx     context.Context    // the caller's
	work    context.Context    // ctx, also cancelled by HaltNow or stop
	cancel  context.CancelFunc // cancels work
	results chan RunResult[T]
	sem     chan struct{}
	wg      sync.WaitGroup

	mu       sync.Mutex
	accounts map[string]*account
	pending  map[string]int // account -> targets not yet ended
	failures int
	halted   bool
	haltCh   chan struct{}
}

func newRun[T any](ctx context.Context, p session.Provider, targets []Target, fn Func[T], o RunOptions) *run[T] {
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Retryable == nil {
		o.Retryable = Retryable
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	work, cancel := context.WithCancel(ctx)
	r := &run[T]{
		p: p, targets: targets, fn: fn, o: o,
		ctx: ctx, work: work, cancel: cancel,
		results:  make(chan RunResult[T], o.Concurrency),
		sem:      make(chan struct{}, o.Concurrency),
		accounts: map[string]*account{},
		pending:  map[string]int{},
		haltCh:   make(chan struct{}),
	}
	for _, t := range targets {
		r.pending[t.Account]++
	}
	return r
}

// stop cancels whatever still runs and drains the results until every
// goroutine has ended (the consumer stopped early, or everything ended).
func (r *run[T]) stop() {
	r.cancel()
	for range r.results {
	}
}

// dispatch starts the targets in order, one per free slot, and closes
// results when every started target has ended.
func (r *run[T]) dispatch() {
	defer func() {
		r.wg.Wait()
		close(r.results)
	}()
	for i, t := range r.targets {
		select {
		case r.sem <- struct{}{}:
		case <-r.work.Done():
		case <-r.haltCh:
		}
		if r.isHalted() || r.work.Err() != nil {
			for j := i; j < len(r.targets); j++ {
				r.skip(j)
			}
			return
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			res := r.one(i, t)
			<-r.sem
			r.results <- res
		}()
	}
}

func (r *run[T]) isHalted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.halted
}

func (r *run[T]) skip(i int) {
	err := ErrHalted
	if !r.isHalted() {
		err = fmt.Errorf("%w: %w", ErrNotStarted, context.Cause(r.work))
	}
	r.results <- RunResult[T]{Target: r.targets[i], Index: i, Status: Skipped, Err: err}
}

// one runs target i: its account's credentials, then fn with retries.
func (r *run[T]) one(i int, t Target) RunResult[T] {
	res := RunResult[T]{Target: t, Index: i, Start: r.o.Now()}
	defer r.release(t.Account)
	if r.o.OnStart != nil {
		r.o.OnStart(t)
	}
	cfg, err := r.credentials(t.Account)
	if err != nil {
		res.Err, res.Status = err, Failed
		if r.work.Err() != nil {
			res.Status = Cancelled
		}
		return r.ended(res)
	}
	if t.Region != "" {
		cfg = cfg.Copy()
		cfg.Region = t.Region
	}
	tctx, cancel := r.work, context.CancelFunc(func() {})
	if r.o.Timeout > 0 {
		tctx, cancel = context.WithTimeout(r.work, r.o.Timeout)
	}
	defer cancel()
	retries, throttles := 0, 0
	for {
		res.Attempts++
		v, err := r.fn(tctx, t, cfg)
		switch {
		case err == nil:
			res.Value, res.Status = v, Succeeded
			return r.ended(res)
		case r.work.Err() != nil:
			res.Value, res.Err, res.Status = v, err, Cancelled
			return r.ended(res)
		case r.o.Timeout > 0 && tctx.Err() != nil:
			res.Value, res.Err, res.Status = v, fmt.Errorf("%w after %v: %w", ErrTimeout, r.o.Timeout, err), TimedOut
			return r.ended(res)
		}
		var wait time.Duration
		switch {
		case IsThrottle(err):
			throttles++
			wait = r.o.Backoff(throttles)
			r.o.Logger.Debug("throttled; retrying", "target", t.Key(), "wait", wait, "err", err)
		case retries < r.o.Retries && r.o.Retryable(err):
			retries++
			wait = r.o.Backoff(retries)
			r.o.Logger.Debug("retryable error; retrying", "target", t.Key(), "retry", retries, "wait", wait, "err", err)
		default:
			res.Value, res.Err, res.Status = v, err, Failed
			return r.ended(res)
		}
		if !sleep(tctx, wait) {
			res.Value, res.Err, res.Status = v, err, Cancelled
			if r.work.Err() == nil {
				res.Err, res.Status = fmt.Errorf("%w after %v: %w", ErrTimeout, r.o.Timeout, err), TimedOut
			}
			return r.ended(res)
		}
	}
}

// ended stamps the duration and counts failures against the tolerance.
func (r *run[T]) ended(res RunResult[T]) RunResult[T] {
	res.Took = r.o.Now().Sub(res.Start)
	if !res.Status.Failure() || r.o.Tolerance == nil {
		return res
	}
	r.mu.Lock()
	r.failures++
	halt := !r.halted && r.o.Tolerance.Exceeded(r.failures, len(r.targets))
	if halt {
		r.halted = true
		close(r.haltCh)
	}
	r.mu.Unlock()
	if halt {
		r.o.Logger.Debug("failure tolerance exceeded; halting", "failures", r.failures, "tolerance", r.o.Tolerance.String())
		if r.o.Halt == HaltNow {
			r.cancel()
		}
	}
	return res
}

// credentials returns the configuration for accountID, fetching it once
// for all of the account's targets.
func (r *run[T]) credentials(accountID string) (aws.Config, error) {
	r.mu.Lock()
	a, ok := r.accounts[accountID]
	if !ok {
		a = &account{ready: make(chan struct{})}
		r.accounts[accountID] = a
		r.mu.Unlock()
		a.cfg, a.err = r.fetch(accountID)
		close(a.ready)
	} else {
		r.mu.Unlock()
	}
	select {
	case <-a.ready:
		return a.cfg, a.err
	case <-r.work.Done():
		return aws.Config{}, context.Cause(r.work)
	}
}

// release forgets an account's credentials once its last target ended.
func (r *run[T]) release(accountID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[accountID]--; r.pending[accountID] <= 0 {
		delete(r.pending, accountID)
		delete(r.accounts, accountID)
	}
}

// fetch gets the account's configuration: throttling retried with backoff
// until it passes (or the run ends), other retryable errors up to Retries.
func (r *run[T]) fetch(accountID string) (aws.Config, error) {
	retries, throttles := 0, 0
	for {
		cfg, err := session.Config(r.work, r.p, accountID)
		if err == nil {
			return cfg, nil
		}
		if r.work.Err() != nil {
			return aws.Config{}, err
		}
		var wait time.Duration
		switch {
		case IsThrottle(err):
			throttles++
			wait = r.o.Backoff(throttles)
			r.o.Logger.Debug("credentials throttled; retrying", "account", accountID, "wait", wait)
		case retries < r.o.Retries && r.o.Retryable(err):
			retries++
			wait = r.o.Backoff(retries)
			r.o.Logger.Debug("credentials failed; retrying", "account", accountID, "retry", retries, "err", err)
		default:
			return aws.Config{}, fmt.Errorf("credentials for account %s: %w", accountID, err)
		}
		if !sleep(r.work, wait) {
			return aws.Config{}, fmt.Errorf("credentials for account %s: %w", accountID, err)
		}
	}
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// DefaultBackoff is exponential backoff with full jitter: a random wait up
// to 200 ms × 2^(n-1), at most 20 s.
func DefaultBackoff(n int) time.Duration {
	ceil := 200 * time.Millisecond
	for i := 1; i < n && ceil < 20*time.Second; i++ {
		ceil *= 2
	}
	ceil = min(ceil, 20*time.Second)
	return time.Duration(rand.Int64N(int64(ceil)) + 1)
}
