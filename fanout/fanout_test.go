package fanout

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

func TestMapOrderParallelismAndEveryOutcome(t *testing.T) {
	var running, peak atomic.Int32
	items := make([]int, 50)
	for i := range items {
		items[i] = i
	}
	var progress []int
	res := Map(context.Background(), items, func(ctx context.Context, n int) (string, error) {
		cur := running.Add(1)
		defer running.Add(-1)
		for {
			p := peak.Load()
			if cur <= p || peak.CompareAndSwap(p, cur) {
				break
			}
		}
		time.Sleep(time.Millisecond)
		if n%10 == 3 {
			return "", fmt.Errorf("item %d broke", n)
		}
		return fmt.Sprint(n * 2), nil
	}, Options{Parallel: 4, Progress: func(done, total int, o Outcome) {
		if total != 50 {
			t.Errorf("total %d", total)
		}
		progress = append(progress, done)
	}})
	if p := peak.Load(); p > 4 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 4 (and some)", p)
	}
	for i, r := range res {
		if i%10 == 3 {
			if r.Err == nil || r.Err.Error() != fmt.Sprintf("item %d broke", i) {
				t.Errorf("item %d: err %v", i, r.Err)
			}
			continue
		}
		if r.Err != nil || r.Value != fmt.Sprint(i*2) {
			t.Errorf("item %d: %q %v (results out of order?)", i, r.Value, r.Err)
		}
	}
	if idx, errs := Errors(res); len(idx) != 5 || len(errs) != 5 || idx[0] != 3 {
		t.Errorf("Errors: %v", idx)
	}
	if len(progress) != 50 || progress[49] != 50 {
		t.Errorf("progress calls %d, last %v", len(progress), progress[len(progress)-1:])
	}
}

func TestMapTimeoutPerItem(t *testing.T) {
	res := Map(context.Background(), []time.Duration{0, time.Hour, 0}, func(ctx context.Context, d time.Duration) (int, error) {
		select {
		case <-time.After(d):
			return 1, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}, Options{Timeout: 50 * time.Millisecond})
	if res[0].Err != nil || res[2].Err != nil {
		t.Errorf("fast items failed: %v %v", res[0].Err, res[2].Err)
	}
	if !errors.Is(res[1].Err, ErrTimeout) || !errors.Is(res[1].Err, context.DeadlineExceeded) {
		t.Errorf("slow item: %v, want ErrTimeout", res[1].Err)
	}
}

func TestMapCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{}, 10)
	var calls atomic.Int32
	done := make(chan []Result[int])
	go func() {
		done <- Map(ctx, make([]int, 10), func(ctx context.Context, _ int) (int, error) {
			calls.Add(1)
			started <- struct{}{}
			<-ctx.Done()
			return 0, ctx.Err()
		}, Options{Parallel: 2})
	}()
	<-started
	<-started
	cancel()
	var res []Result[int]
	select {
	case res = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Map did not return after cancel")
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d items started, want the 2 running at cancel", n)
	}
	notStarted := 0
	for _, r := range res {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("result after cancel: %v", r.Err)
		}
		if errors.Is(r.Err, ErrNotStarted) {
			notStarted++
		}
	}
	if notStarted != 8 {
		t.Errorf("%d items reported not started, want 8", notStarted)
	}
}
