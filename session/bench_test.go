package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

// BenchmarkCachedCredentials measures a cache hit: one CrossAccount, one
// account already fetched. It fails if a hit reaches STS.
//
//	go test -run '^$' -bench CachedCredentials -benchmem ./session/
func BenchmarkCachedCredentials(b *testing.B) {
	srv := stsfake.NewForTest(b)
	ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Ops")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if _, err := ca.Credentials(ctx, "111111111111"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ca.Credentials(ctx, "111111111111"); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if n := srv.Calls("AssumeRole"); n != 1 {
		b.Fatalf("cache hits made %d STS calls", n-1)
	}
	b.ReportMetric(0, "sts-calls/op")
}

// fanout asks for accounts distinct accounts from goroutines goroutines
// through one new CrossAccount and returns the wall time.
func fanout(tb testing.TB, srv *stsfake.Server, goroutines, accounts int) time.Duration {
	ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Fanout")
	if err != nil {
		tb.Fatal(err)
	}
	before := srv.Calls("AssumeRole")
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for i := range goroutines {
		acct := fmt.Sprintf("%012d", 100000000000+i%accounts)
		wg.Go(func() {
			<-start
			if _, err := ca.Credentials(context.Background(), acct); err != nil {
				errs <- err
			}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	close(errs)
	for err := range errs {
		tb.Fatalf("fan-out call failed: %v", err)
	}
	if n := srv.Calls("AssumeRole") - before; n != accounts {
		tb.Fatalf("%d goroutines over %d accounts made %d STS calls, want exactly %d", goroutines, accounts, n, accounts)
	}
	return wall
}

// BenchmarkFanout1000Accounts: 10,000 goroutines ask for 1,000 distinct
// accounts through one CrossAccount against a fake STS answering in 50 ms;
// exactly 1,000 STS calls. The ideal wall time is one STS latency (50 ms).
//
//	go test -run '^$' -bench Fanout1000Accounts -benchtime 3x ./session/
func BenchmarkFanout1000Accounts(b *testing.B) {
	const latency = 50 * time.Millisecond
	srv := stsfake.NewForTest(b, stsfake.WithLatency(latency))
	var total time.Duration
	runs := 0
	for b.Loop() {
		total += fanout(b, srv, 10000, 1000)
		runs++
	}
	b.ReportMetric(float64(total.Microseconds())/1000/float64(runs), "wall-ms/fanout")
	b.ReportMetric(float64(latency.Milliseconds()), "ideal-ms")
}

// TestFanout1000Accounts is the benchmark's count check in the test suite.
func TestFanout1000Accounts(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 goroutines: skipped with -short")
	}
	srv := stsfake.NewForTest(t, stsfake.WithLatency(50*time.Millisecond))
	wall := fanout(t, srv, 10000, 1000)
	t.Logf("10,000 goroutines, 1,000 accounts: %d STS calls in %v (ideal 50ms)", srv.Calls("AssumeRole"), wall)
}
