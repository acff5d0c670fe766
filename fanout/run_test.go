package fanout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

const (
	testKey    = "AKIAFANOUTTEST"
	testSecret = "fanout-secret-do-not-print"
	baseAcct   = "999999999999"
)

// staticBase is a base provider with long-term keys and the fake's endpoint.
type staticBase struct{ cfg aws.Config }

func (b staticBase) Credentials(ctx context.Context, _ string) (aws.Credentials, error) {
	return b.cfg.Credentials.Retrieve(ctx)
}

func (b staticBase) BaseConfig(context.Context, string) (aws.Config, error) { return b.cfg, nil }

// newFleet starts a fake STS and a CrossAccount over it whose STS client
// makes one attempt per call (Run retries) and waits for lim.
func newFleet(t *testing.T, lim *Limiter, opts ...stsfake.Option) (*stsfake.Server, *session.CrossAccount) {
	t.Helper()
	return newFleetOn(t, stsfake.NewForTest(t, append(opts, stsfake.WithKey(testKey, testSecret))...), lim)
}

func newFleetB(b *testing.B, opts ...stsfake.Option) (*stsfake.Server, *session.CrossAccount) {
	return newFleetOn(b, stsfake.New(append(opts, stsfake.WithKey(testKey, testSecret))...), nil)
}

func newFleetOn(t testing.TB, srv *stsfake.Server, lim *Limiter) (*stsfake.Server, *session.CrossAccount) {
	base := staticBase{cfg: aws.Config{
		Region:       "eu-west-1",
		Credentials:  credentials.NewStaticCredentialsProvider(testKey, testSecret, ""),
		BaseEndpoint: aws.String(srv.URL),
	}}
	x, err := session.NewCrossAccount(base, baseAcct, "Audit", func(o *session.AssumeRoleOptions) {
		o.STSOptions = append(o.STSOptions, STSOptions(lim), func(so *sts.Options) { so.Retryer = Retryer(1) })
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv, x
}

func accountIDs(n int) []Target {
	out := make([]Target, n)
	for i := range out {
		out[i] = Target{Account: fmt.Sprintf("%012d", 100000000000+i), Alias: fmt.Sprintf("acct-%d", i)}
	}
	return out
}

func fastBackoff(int) time.Duration { return time.Millisecond }

// collect runs and returns the results by target key.
func collect[T any](t *testing.T, seq func(func(RunResult[T]) bool)) map[string]RunResult[T] {
	t.Helper()
	out := map[string]RunResult[T]{}
	for r := range seq {
		if _, dup := out[r.Key()]; dup {
			t.Errorf("target %s reported twice", r.Key())
		}
		out[r.Key()] = r
	}
	return out
}

func TestRunOneAssumeRolePerAccountSharedByItsRegions(t *testing.T) {
	srv, x := newFleet(t, nil)
	regions := []string{"eu-west-1", "us-east-1", "ap-south-1"}
	targets := Expand(accountIDs(12), regions)
	var running, peak atomic.Int32
	res := collect(t, Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (string, error) {
		n := running.Add(1)
		defer running.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return "", err
		}
		is, ok := srv.Issued(c.AccessKeyID)
		if !ok {
			return "", errors.New("credentials the STS did not issue")
		}
		time.Sleep(2 * time.Millisecond)
		return is.Account + " " + cfg.Region, nil
	}, RunOptions{Concurrency: 5}))
	if len(res) != len(targets) {
		t.Fatalf("%d results for %d targets", len(res), len(targets))
	}
	for _, tg := range targets {
		r := res[tg.Key()]
		if r.Status != Succeeded || r.Value != tg.Account+" "+tg.Region || r.Attempts != 1 {
			t.Errorf("%s: %v %q attempts %d (%v)", tg.Key(), r.Status, r.Value, r.Attempts, r.Err)
		}
		if r.Alias != tg.Alias || targets[r.Index].Key() != tg.Key() {
			t.Errorf("%s: result carries target %+v at index %d", tg.Key(), r.Target, r.Index)
		}
	}
	if n := srv.Calls("AssumeRole"); n != 12 {
		t.Errorf("%d AssumeRole calls for 12 accounts × 3 regions, want 12", n)
	}
	if p := peak.Load(); p > 5 {
		t.Errorf("%d targets ran at once, concurrency is 5", p)
	}
}

// throttleEvery makes every n-th AssumeRole answer Throttling.
func throttleEvery(srv *stsfake.Server, n int64) *atomic.Int64 {
	var calls, throttled atomic.Int64
	orig := srv.Handler("AssumeRole")
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if calls.Add(1)%n == 0 {
			throttled.Add(1)
			stsfake.WriteError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
			return
		}
		orig(w, r, form)
	})
	return &throttled
}

func TestRunThrottlingIsRetriedNeverAFailure(t *testing.T) {
	srv, x := newFleet(t, nil)
	throttled := throttleEvery(srv, 3)
	targets := accountIDs(30)
	res := collect(t, Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
		return 1, nil
	}, RunOptions{Concurrency: 8, Backoff: fastBackoff}))
	for _, tg := range targets {
		if r := res[tg.Key()]; r.Status != Succeeded {
			t.Errorf("%s: %v %v", tg.Key(), r.Status, r.Err)
		}
	}
	if throttled.Load() == 0 {
		t.Fatal("no call was throttled: the test proves nothing")
	}
	if got, want := int64(srv.Calls("AssumeRole")), 30+throttled.Load(); got != want {
		t.Errorf("%d AssumeRole calls, want 30 answered + %d throttled", got, throttled.Load())
	}
}

func TestRunClassifiesDeniedTimedOutRetried(t *testing.T) {
	srv, x := newFleet(t, nil)
	targets := accountIDs(10)
	denied := targets[2]
	srv.Deny("arn:aws:iam::" + denied.Account + ":role/Audit")
	var flaky atomic.Int32
	res := collect(t, Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (string, error) {
		switch tg.Account {
		case targets[4].Account: // hangs past the timeout
			<-ctx.Done()
			return "", ctx.Err()
		case targets[5].Account: // a retryable error, then success
			if flaky.Add(1) == 1 {
				return "", &smithy.GenericAPIError{Code: "RequestTimeout", Message: "request timed out"}
			}
		case targets[6].Account: // not retryable
			return "", errors.New("exit status 3")
		}
		return "ok", nil
	}, RunOptions{Concurrency: 4, Timeout: 300 * time.Millisecond, Retries: 2, Backoff: fastBackoff}))

	for i, tg := range targets {
		r := res[tg.Key()]
		switch i {
		case 2:
			if r.Status != Failed || !errors.Is(r.Err, session.ErrAssumeRole) || r.Attempts != 0 {
				t.Errorf("denied account: %v attempts %d: %v", r.Status, r.Attempts, r.Err)
			}
		case 4:
			if r.Status != TimedOut || !errors.Is(r.Err, ErrTimeout) {
				t.Errorf("hanging account: %v %v", r.Status, r.Err)
			}
		case 5:
			if r.Status != Succeeded || r.Attempts != 2 {
				t.Errorf("flaky account: %v after %d attempts: %v", r.Status, r.Attempts, r.Err)
			}
		case 6:
			if r.Status != Failed || r.Attempts != 1 {
				t.Errorf("failing account: %v after %d attempts (not retryable: want 1)", r.Status, r.Attempts)
			}
		default:
			if r.Status != Succeeded {
				t.Errorf("%s: %v %v", tg.Key(), r.Status, r.Err)
			}
		}
	}
	if n := srv.Calls("AssumeRole"); n != 10 {
		t.Errorf("%d AssumeRole calls, want 10 (a denial is not retried)", n)
	}
}

func TestRunToleranceHalts(t *testing.T) {
	for _, halt := range []Halt{HaltSoon, HaltNow} {
		t.Run(fmt.Sprint(halt), func(t *testing.T) {
			_, x := newFleet(t, nil)
			targets := accountIDs(40)
			release := make(chan struct{})
			var started atomic.Int32
			counts := map[Status]int{}
			var order []Status
			for r := range Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
				if tg.Account <= targets[1].Account { // the first two fail at once
					return 0, errors.New("broken")
				}
				select { // the others wait until the halt is decided
				case <-release:
				case <-ctx.Done():
					return 0, ctx.Err()
				}
				return 1, nil
			}, RunOptions{Concurrency: 4, Tolerance: &Tolerance{Count: 1}, Halt: halt, OnStart: func(Target) { started.Add(1) }}) {
				counts[r.Status]++
				order = append(order, r.Status)
				if counts[Failed] == 2 && counts[Skipped] == 1 {
					close(release)
				}
			}
			if counts[Failed] != 2 {
				t.Errorf("%d failed, want 2: %v", counts[Failed], counts)
			}
			// 4 at first, and at most one more in the slot the first failure
			// freed before the second exceeded the tolerance.
			if s := started.Load(); s > 5 {
				t.Errorf("%d targets started: some after the halt (concurrency 4)", s)
			}
			if counts[Skipped] != 40-int(started.Load()) {
				t.Errorf("skipped %d, want the %d never started", counts[Skipped], 40-started.Load())
			}
			switch halt {
			case HaltSoon:
				if counts[Succeeded] != int(started.Load())-2 || counts[Cancelled] != 0 {
					t.Errorf("halt soon: running targets must finish: %v", counts)
				}
			case HaltNow:
				if counts[Cancelled] != int(started.Load())-2 || counts[Succeeded] != 0 {
					t.Errorf("halt now: running targets must be cancelled: %v", counts)
				}
			}
		})
	}
}

func TestRunCancelSkipsTheRest(t *testing.T) {
	_, x := newFleet(t, nil)
	targets := accountIDs(20)
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	counts := map[Status]int{}
	for r := range Run(ctx, x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
		if started.Add(1) == 3 {
			cancel()
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}, RunOptions{Concurrency: 3}) {
		counts[r.Status]++
		if r.Status == Skipped && !errors.Is(r.Err, ErrNotStarted) {
			t.Errorf("skipped: %v", r.Err)
		}
	}
	if counts[Cancelled] != 3 || counts[Skipped] != 17 {
		t.Errorf("counts %v, want 3 cancelled and 17 skipped", counts)
	}
}

func TestRunBreakStopsTheWork(t *testing.T) {
	_, x := newFleet(t, nil)
	var running atomic.Int32
	targets := accountIDs(50)
	for range Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
		if tg == targets[0] {
			return 1, nil
		}
		running.Add(1)
		defer running.Add(-1)
		<-ctx.Done()
		return 0, ctx.Err()
	}, RunOptions{Concurrency: 5}) {
		break
	}
	if n := running.Load(); n != 0 {
		t.Errorf("%d targets still running after the loop broke", n)
	}
}

func TestLimiterSharedBySTSCalls(t *testing.T) {
	lim := NewLimiter(40, 2)
	srv, x := newFleet(t, lim)
	var mu sync.Mutex
	var at []time.Time
	orig := srv.Handler("AssumeRole")
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		orig(w, r, form)
	})
	for r := range Run(context.Background(), x, accountIDs(30), func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
		return 1, nil
	}, RunOptions{Concurrency: 30}) {
		if r.Status != Succeeded {
			t.Errorf("%s: %v", r.Key(), r.Err)
		}
	}
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	// A token bucket of 40/s and burst 2 lets at most 2 + 40×w calls
	// through in any window w (2 more for the network between the
	// client's token and the server's clock).
	const w = 250 * time.Millisecond
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < w; j++ {
			n++
		}
		if n > 2+10+2 {
			t.Fatalf("%d calls within %v from call %d: the limit of 40/s was not kept", n, w, i)
		}
	}
}

func TestToleranceExceeded(t *testing.T) {
	cases := []struct {
		tol          Tolerance
		failures, of int
		want         bool
	}{
		{Tolerance{Count: 0}, 1, 10, true},
		{Tolerance{Count: 1}, 1, 10, false},
		{Tolerance{Count: 1}, 2, 10, true},
		{Tolerance{Percent: 10}, 3, 30, false},
		{Tolerance{Percent: 10}, 4, 30, true},
	}
	for _, c := range cases {
		if got := c.tol.Exceeded(c.failures, c.of); got != c.want {
			t.Errorf("%v: %d of %d exceeded = %v, want %v", c.tol, c.failures, c.of, got, c.want)
		}
	}
}
