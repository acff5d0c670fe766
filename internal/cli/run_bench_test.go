package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/session"
)

// benchFleet starts a fake STS (latency, every throttleEvery-th AssumeRole
// throttled when > 0) recording when each AssumeRole arrived, and writes n
// accounts to a file.
type benchFleet struct {
	srv       *stsfake.Server
	file      string
	env       []string
	mu        sync.Mutex
	at        []time.Time
	throttled atomic.Int64
	dir       string
}

func newBenchFleet(b *testing.B, n int, latency time.Duration, throttleEvery int64) *benchFleet {
	f := &benchFleet{srv: stsfake.NewForTest(b, stsfake.WithKey(runKey, runSecret), stsfake.WithLatency(latency)), dir: b.TempDir()}
	var calls atomic.Int64
	orig := f.srv.Handler("AssumeRole")
	f.srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		f.mu.Lock()
		f.at = append(f.at, time.Now())
		f.mu.Unlock()
		if throttleEvery > 0 && calls.Add(1)%throttleEvery == 0 {
			f.throttled.Add(1)
			stsfake.WriteError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
			return
		}
		orig(w, r, form)
	})
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, "%012d\n", 500000000000+i)
	}
	f.file = filepath.Join(f.dir, "accounts.txt")
	writeFileT(b, f.file, sb.String())
	f.env = testpeer.ProcEnv(b, "AWS_ENDPOINT_URL_STS="+f.srv.URL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+runKey,
		"AWS_SECRET_ACCESS_KEY="+runSecret, "XDG_STATE_HOME="+filepath.Join(f.dir, "state"))
	return f
}

// maxInWindow is the most AssumeRole arrivals in any window w.
func (f *benchFleet) maxInWindow(w time.Duration) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	at := slices.Clone(f.at)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	best, j := 0, 0
	for i := range at {
		for at[i].Sub(at[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// runBin runs the rolehop binary and returns its peak RSS in MiB.
func runBin(b *testing.B, env []string, args ...string) float64 {
	cmd := exec.Command(rolehopBinary(b), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("rolehop %v: %v\n%s", args, err, out[max(0, len(out)-2000):])
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return float64(ru.Maxrss) / 1024
}

// BenchmarkRunCommand1000: `rolehop run -- true` in 1,000 accounts
// (concurrency 100, STS latency 100 ms, credentials in the environment).
func BenchmarkRunCommand1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newBenchFleet(b, 1000, 100*time.Millisecond, 0)
		b.StartTimer()
		rss := runBin(b, f.env, "run", "--accounts-file", f.file, "--role", "Bench", "--concurrency", "100", "--rate", "0",
			"--credentials", "env", "--", "true")
		b.StopTimer()
		b.ReportMetric(float64(f.srv.Calls("AssumeRole")), "sts-calls/op")
		b.ReportMetric(rss, "peak-rss-MiB")
	}
}

// BenchmarkXargs1000: the same command with xargs -P 100, credentials
// fetched beforehand (not timed): what a shell loop does at best.
func BenchmarkXargs1000(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newBenchFleet(b, 1000, 0, 0)
		base := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(f.srv.URL),
			Credentials: credentials.NewStaticCredentialsProvider(runKey, runSecret, "")}
		var lines strings.Builder
		ids := strings.Fields(readFileT(b, f.file))
		for _, id := range ids {
			c, err := session.Assume(context.Background(), base, "arn:aws:iam::"+id+":role/Bench", session.AssumeRoleParams{})
			if err != nil {
				b.Fatal(err)
			}
			fmt.Fprintf(&lines, "%s %s %s %s\n", id, c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
		}
		creds := filepath.Join(f.dir, "creds.txt")
		writeFileT(b, creds, lines.String())
		cmd := exec.Command("sh", "-c", `xargs -P 100 -L 1 sh -c 'ROLEHOP_ACCOUNT=$0 AWS_ACCESS_KEY_ID=$1 AWS_SECRET_ACCESS_KEY=$2 AWS_SESSION_TOKEN=$3 exec true' < `+creds)
		b.StartTimer()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("xargs: %v\n%s", err, out)
		}
	}
}

// BenchmarkRun10000x3Throttled: 10,000 accounts × 3 regions, every 20th
// AssumeRole throttled (5%), --rate 500, concurrency 100, `true` per
// target: one AssumeRole answered per account, the rate kept, peak RSS.
func BenchmarkRun10000x3Throttled(b *testing.B) {
	for range b.N {
		b.StopTimer()
		f := newBenchFleet(b, 10000, 0, 20)
		b.StartTimer()
		rss := runBin(b, f.env, "run", "--accounts-file", f.file, "--role", "Bench", "--regions", "eu-west-1,us-east-1,ap-south-1",
			"--concurrency", "100", "--rate", "500", "--credentials", "env", "--", "true")
		b.StopTimer()
		answered := int64(f.srv.Calls("AssumeRole")) - f.throttled.Load()
		if answered != 10000 {
			b.Fatalf("%d AssumeRole answered, want 10000", answered)
		}
		b.ReportMetric(float64(answered), "assume-role-answered/op")
		b.ReportMetric(float64(f.throttled.Load()), "throttled/op")
		b.ReportMetric(float64(f.maxInWindow(time.Second)), "max-calls-in-1s")
		b.ReportMetric(rss, "peak-rss-MiB")
	}
}
