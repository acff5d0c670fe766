package session_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/session"
)

// fanoutAccounts are 50 account IDs 100000000000, 100000000001, ...
func fanoutAccounts() []string {
	accts := make([]string, 50)
	for i := range accts {
		accts[i] = fmt.Sprintf("1%011d", i)
	}
	return accts
}

// newFanoutEnv is samlEnv with the IdP granting alice Admin and Dev in 50
// accounts (a 100-role assertion).
func newFanoutEnv(t testing.TB) (*samlEnv, []string) {
	accts := fanoutAccounts()
	e := &samlEnv{stsTime: &realClock{}}
	e.idp = testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{Accounts: accts})
	e.srv = stsfake.NewForTest(t, stsfake.WithClock(e.stsTime.Now))
	for _, a := range accts {
		if err := e.srv.TrustIdP(principalOf(a), e.idp.CertPEM); err != nil {
			t.Fatal(err)
		}
	}
	return e, accts
}

// TestSAMLFanOut: 1,000 concurrent callers across 50 accounts make one IdP
// login and one STS call per account.
func TestSAMLFanOut(t *testing.T) {
	e, accts := newFanoutEnv(t)
	e.srv.SetLatency(5 * time.Millisecond)
	logBuf := &syncBuffer{}
	p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for i := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Credentials(ctx, accts[i%len(accts)]); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := client.logins.Load(); n != 1 {
		t.Errorf("%d IdP logins, want 1", n)
	}
	if n := e.srv.Calls("AssumeRoleWithSAML"); n != len(accts) {
		t.Errorf("%d AssumeRoleWithSAML calls for %d accounts, want one each", n, len(accts))
	}
	roles, _ := p.Roles(ctx)
	if len(roles) != 2*len(accts) {
		t.Errorf("the assertion grants %d roles, want %d", len(roles), 2*len(accts))
	}
	checkLogs(t, logBuf, "alicepass")
}

// BenchmarkSAMLFanOut measures a cold start: 1,000 concurrent callers across
// 50 accounts on a new provider (one real SimpleSAMLphp login, 50
// AssumeRoleWithSAML calls on the fake STS, each checking the signature).
func BenchmarkSAMLFanOut(b *testing.B) {
	e, accts := newFanoutEnv(b)
	ctx := context.Background()
	for b.Loop() {
		p, client := e.provider(b, "alice", "alicepass", "Admin", &syncBuffer{}, func(o *session.SAMLOptions) { o.AssertionCacheTime = time.Minute })
		before := e.srv.Calls("AssumeRoleWithSAML")
		var wg sync.WaitGroup
		for i := range 1000 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := p.Credentials(ctx, accts[i%len(accts)]); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
		if n := client.logins.Load(); n != 1 {
			b.Fatalf("%d IdP logins for 1,000 callers, want 1", n)
		}
		if n := e.srv.Calls("AssumeRoleWithSAML") - before; n != len(accts) {
			b.Fatalf("%d AssumeRoleWithSAML calls for %d accounts, want one each", n, len(accts))
		}
	}
}

// BenchmarkSAMLCachedCredentials measures the hot path: credentials already
// cached for the account.
func BenchmarkSAMLCachedCredentials(b *testing.B) {
	e, accts := newFanoutEnv(b)
	ctx := context.Background()
	p, _ := e.provider(b, "alice", "alicepass", "Admin", &syncBuffer{})
	if _, err := p.Credentials(ctx, accts[0]); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Credentials(ctx, accts[0]); err != nil {
				b.Error(err)
			}
		}
	})
}
