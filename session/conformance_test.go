package session_test

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/samltest"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
	"github.com/rolehop/rolehop/session/sessiontest"
)

// stsBackend is the fake STS as the conformance suite controls it: it
// counts, parks and refuses one action's calls per account.
type stsBackend struct {
	srv    *stsfake.Server
	action string

	mu      sync.Mutex
	fetches int
	blocked map[string]*gate
	failing map[string]bool
}

type gate struct {
	entered chan struct{}
	once    sync.Once
	release chan struct{}
}

func newSTSBackend(srv *stsfake.Server, action string) *stsBackend {
	b := &stsBackend{srv: srv, action: action, blocked: map[string]*gate{}, failing: map[string]bool{}}
	next := srv.Handler(action)
	srv.Handle(action, func(w http.ResponseWriter, r *http.Request, form url.Values) {
		acct := accountOfARN(form.Get("RoleArn"))
		b.mu.Lock()
		b.fetches++
		g, fail := b.blocked[acct], b.failing[acct]
		b.mu.Unlock()
		if g != nil {
			g.once.Do(func() { close(g.entered) })
			<-g.release
		}
		if fail {
			stsfake.WriteError(w, http.StatusForbidden, "AccessDenied", "not authorized to perform: sts:"+action+" (test refusal)")
			return
		}
		next(w, r, form)
	})
	return b
}

func accountOfARN(arn string) string {
	if len(arn) < len("arn:aws:iam::111111111111") {
		return ""
	}
	parts := splitN(arn, ':', 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

func splitN(s string, sep byte, n int) []string {
	var out []string
	for len(out) < n-1 {
		i := indexByte(s, sep)
		if i < 0 {
			break
		}
		out = append(out, s[:i])
		s = s[i+1:]
	}
	return append(out, s)
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func (b *stsBackend) Fetches() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fetches
}

func (b *stsBackend) Block(account string) (<-chan struct{}, func()) {
	g := &gate{entered: make(chan struct{}), release: make(chan struct{})}
	b.mu.Lock()
	b.blocked[account] = g
	b.mu.Unlock()
	var once sync.Once
	return g.entered, func() {
		once.Do(func() {
			b.mu.Lock()
			delete(b.blocked, account)
			b.mu.Unlock()
			close(g.release)
		})
	}
}

func (b *stsBackend) Fail(account string, fail bool) {
	b.mu.Lock()
	b.failing[account] = fail
	b.mu.Unlock()
}

func TestCrossAccountConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness {
		clock := newClock()
		srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
		b := newSTSBackend(srv, "AssumeRole")
		ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Ops",
			func(o *session.AssumeRoleOptions) { o.Now, o.Duration = clock.Now, 2*time.Hour })
		if err != nil {
			t.Fatal(err)
		}
		return &sessiontest.Harness{Provider: ca, Backend: b, Accounts: [2]string{acctA, acctB},
			Advance: clock.Advance, Lifetime: 2 * time.Hour}
	})
}

// TestCrossAccountDiskCacheConformance runs the suite with the on-disk
// cache under the in-memory one (each harness has its own folder).
func TestCrossAccountDiskCacheConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness {
		clock := newClock()
		srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
		b := newSTSBackend(srv, "AssumeRole")
		ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Ops",
			func(o *session.AssumeRoleOptions) {
				o.Now, o.Duration, o.Refresh.Share = clock.Now, 2*time.Hour, 0.9
				o.DiskCache = &credcache.Cache{Dir: t.TempDir(), Now: clock.Now}
			})
		if err != nil {
			t.Fatal(err)
		}
		// The disk layer keeps an entry until 15 minutes before expiry
		// (1h45 of 2h): with a memory share of 0.9 (1h48) the memory
		// layer still decides, after the disk entry went stale.
		return &sessiontest.Harness{Provider: ca, Backend: b, Accounts: [2]string{acctA, acctB},
			Advance: clock.Advance, Lifetime: 2 * time.Hour, Share: 0.9}
	})
}

func TestProfilePerAccountConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness {
		srv := stsfake.NewForTest(t)
		b := newSTSBackend(srv, "AssumeRole")
		awsFiles(t, `[profile `+acctA+`]
role_arn = arn:aws:iam::`+acctA+`:role/FromProfile
source_profile = base

[profile `+acctB+`]
role_arn = arn:aws:iam::`+acctB+`:role/FromProfile
source_profile = base
`, "[base]\naws_access_key_id = AKIABASEEXAMPLE\naws_secret_access_key = base-secret-key\n")
		t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
		p, err := session.NewProfilePerAccount(func(o *session.ProfileOptions) {
			// The SDK's own retries would re-ask a refused role.
			o.LoadOptions = append(o.LoadOptions, config.WithRetryMaxAttempts(1))
		})
		if err != nil {
			t.Fatal(err)
		}
		return &sessiontest.Harness{Provider: p, Backend: b, Accounts: [2]string{acctA, acctB},
			Why: "the SDK's stscreds provider behind a profile keeps its own wall-clock cache"}
	})
}

// TestSAMLConformance runs the suite against the real SimpleSAMLphp. Its
// assertions carry the wall clock's time and STS takes an assertion only
// within 5 minutes of its issue, so the refresh property runs in
// TestSAMLSignedAtTestClockConformance.
func TestSAMLConformance(t *testing.T) {
	ssp := testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{Accounts: []string{acctA, acctB}})
	sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness {
		srv := stsfake.NewForTest(t)
		for _, a := range []string{acctA, acctB} {
			if err := srv.TrustIdP(principalOf(a), ssp.CertPEM); err != nil {
				t.Fatal(err)
			}
		}
		b := newSTSBackend(srv, "AssumeRoleWithSAML")
		base := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)}
		p, err := session.NewSAML(&idp.Form{URL: ssp.AWSLoginURL, Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}}, "Admin",
			func(o *session.SAMLOptions) { o.Base = &base })
		if err != nil {
			t.Fatal(err)
		}
		return &sessiontest.Harness{Provider: p, Backend: b, Accounts: [2]string{acctA, acctB},
			Why: "SimpleSAMLphp signs assertions at the wall clock's time"}
	})
}

// clockIdP is an IdP signing assertions (internal/samltest) at a test
// clock's time: what SimpleSAMLphp cannot be made to do.
type clockIdP struct {
	t      testing.TB
	idp    *samltest.IdP
	now    func() time.Time
	roles  []string
	life   time.Duration // the assertion's validity; 0 means samltest's 5 minutes
	skew   time.Duration // the IdP's clock minus the test clock
	logins atomic.Int32
}

func (c *clockIdP) Assertion(ctx context.Context) (string, error) {
	c.logins.Add(1)
	issued := c.now().Add(c.skew).UTC().Truncate(time.Second)
	r := samltest.Response{IssueInstant: issued, Attributes: samltest.AWSAttributes("alice", 3600, c.roles...)}
	if c.life > 0 {
		r.NotOnOrAfter = issued.Add(c.life)
	}
	return c.idp.Base64(c.t, r), nil
}

func TestSAMLSignedAtTestClockConformance(t *testing.T) {
	sessiontest.Run(t, func(t *testing.T) *sessiontest.Harness {
		clock := newClock()
		p, _, srv, _ := newClockSAML(t, clock, 0, 0)
		return &sessiontest.Harness{Provider: p, Backend: newSTSBackend(srv, "AssumeRoleWithSAML"), Accounts: [2]string{acctA, acctB},
			Advance: clock.Advance, Lifetime: time.Hour}
	})
}

// A Provider written by hand in a few lines (ProviderFunc) passes too when
// it is wrapped in a CrossAccount: the properties belong to the cache, not
// to the base.
var _ session.Provider = session.ProviderFunc(func(context.Context, string) (aws.Credentials, error) {
	return aws.Credentials{}, nil
})
