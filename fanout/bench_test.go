package fanout

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/stsfake"
)

// BenchmarkRun1000Accounts: 1,000 accounts, an STS answering after 100 ms,
// concurrency 100, a Go function per account that only reads its
// credentials. The ideal is 1,000 / 100 × 100 ms = 1 s and exactly 1,000
// AssumeRole calls (asserted).
func BenchmarkRun1000Accounts(b *testing.B) {
	for range b.N {
		b.StopTimer()
		srv, x := newFleetB(b, stsfake.WithLatency(100*time.Millisecond))
		targets := accountIDs(1000)
		b.StartTimer()
		for r := range Run(context.Background(), x, targets, func(ctx context.Context, tg Target, cfg aws.Config) (int, error) {
			_, err := cfg.Credentials.Retrieve(ctx)
			return 0, err
		}, RunOptions{Concurrency: 100}) {
			if r.Status != Succeeded {
				b.Fatalf("%s: %v", r.Key(), r.Err)
			}
		}
		b.StopTimer()
		if n := srv.Calls("AssumeRole"); n != 1000 {
			b.Fatalf("%d AssumeRole calls, want 1000", n)
		}
		b.ReportMetric(float64(srv.Calls("AssumeRole")), "sts-calls/op")
		srv.Close()
	}
}
