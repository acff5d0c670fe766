package cli

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

// fixedIdP hands out one assertion obtained beforehand from the real IdP, so
// the benchmark measures the STS calls and the file write, not PHP.
type fixedIdP string

func (f fixedIdP) Assertion(context.Context) (string, error) { return string(f), nil }

// BenchmarkLoginAll50Roles is `login --all` for 50 roles (alice in 25
// accounts, Admin and Dev) against the test STS answering each call after
// 100 ms: the parallel fetch (16 at once, the default) next to a serial loop.
// Each iteration is a fresh session (no cached credentials) ending in one
// credentials-file write. Reported: ms/op and latencies/op (wall time in
// units of one STS latency).
//
//	go test -run '^$' -bench LoginAll50Roles -benchtime 3x ./internal/cli/
func BenchmarkLoginAll50Roles(b *testing.B) {
	const latency = 100 * time.Millisecond
	accounts := make([]string, 25)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", 100000000001+i)
	}
	p := newLoginPeers(b, accounts, false, stsfake.WithLatency(latency))
	assertion, err := p.idp.LoginAWS(b.Context(), "alice", "alicepass")
	if err != nil {
		b.Fatal(err)
	}
	b.Setenv("AWS_ENDPOINT_URL_STS", p.sts.URL)
	b.Setenv("AWS_CONFIG_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(b.TempDir(), "none"))
	b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b.Setenv("AWS_REGION", "us-east-1")

	for _, bc := range []struct {
		name     string
		parallel int
	}{{"parallel16", fanout.DefaultParallel}, {"parallel50", 50}, {"serial", 1}} {
		b.Run(bc.name, func(b *testing.B) {
			ios, _, _, _ := Test()
			dir := b.TempDir()
			credsPath, cfgPath := filepath.Join(dir, "credentials"), filepath.Join(dir, "config")
			var total time.Duration
			for b.Loop() {
				start := time.Now()
				s, err := session.NewSAML(fixedIdP(assertion), "Admin")
				if err != nil {
					b.Fatal(err)
				}
				roles, err := s.Roles(b.Context())
				if err != nil || len(roles) != 50 {
					b.Fatalf("roles: %d, %v", len(roles), err)
				}
				writes := &countHandler{msg: "awsfile: file updated"}
				r := &loginRun{opts: &LoginOptions{F: NewFactory(ios), Parallel: bc.parallel}, lp: settings.LoginProfile{},
					aliases: map[string]string{}, sess: s, credPath: credsPath, cfgPath: cfgPath, log: slog.New(writes)}
				if r.namer, err = newProfileNamer("", r.aliases, ""); err != nil {
					b.Fatal(err)
				}
				targets, err := r.profiles(roles)
				if err != nil {
					b.Fatal(err)
				}
				stsBefore := p.sts.Calls("AssumeRoleWithSAML")
				if _, err := r.fetchAndWrite(b.Context(), targets); err != nil {
					b.Fatal(err)
				}
				total += time.Since(start)
				if n := writes.n.Load(); n != 1 {
					b.Fatalf("%d credentials-file writes for 50 profiles, want 1", n)
				}
				if n := p.sts.Calls("AssumeRoleWithSAML") - stsBefore; n != 50 {
					b.Fatalf("%d AssumeRoleWithSAML calls for 50 roles, want 50", n)
				}
			}
			op := total / time.Duration(b.N)
			b.ReportMetric(float64(op.Milliseconds()), "ms/op")
			b.ReportMetric(float64(op)/float64(latency), "latencies/op")
		})
	}
}

// countHandler counts log records with one message (any level).
type countHandler struct {
	msg string
	n   atomic.Int32
}

func (h *countHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}
func (h *countHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countHandler) WithGroup(string) slog.Handler      { return h }
