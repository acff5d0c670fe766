package session_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/samltest"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

const (
	acctA = "111111111111"
	acctB = "222222222222"
)

func principalOf(account string) string {
	return "arn:aws:iam::" + account + ":saml-provider/SimpleSAML"
}

func roleOf(account, name string) string { return "arn:aws:iam::" + account + ":role/" + name }

// realClock is the real time plus an offset that tests move ahead:
// SimpleSAMLphp's assertions carry real timestamps.
type realClock struct{ offset atomic.Int64 }

func (c *realClock) Now() time.Time          { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *realClock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// countingIdP counts logins and can rewrite the assertion (tampering).
type countingIdP struct {
	inner   idp.Client
	logins  atomic.Int32
	rewrite func(string) string
}

func (c *countingIdP) Assertion(ctx context.Context) (string, error) {
	c.logins.Add(1)
	a, err := c.inner.Assertion(ctx)
	if err == nil && c.rewrite != nil {
		a = c.rewrite(a)
	}
	return a, err
}

// samlEnv is a real IdP (SimpleSAMLphp, roles in two accounts) and the fake
// STS trusting it; secrets collects what must never be logged.
type samlEnv struct {
	idp     *testpeer.SimpleSAML
	srv     *stsfake.Server
	stsTime *realClock
	secrets []string
	mu      sync.Mutex
}

func newSAMLEnv(t *testing.T, stsOpts ...stsfake.Option) *samlEnv {
	t.Helper()
	e := &samlEnv{stsTime: &realClock{}}
	e.idp = testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{Accounts: []string{acctA, acctB}})
	e.srv = stsfake.NewForTest(t, append([]stsfake.Option{stsfake.WithClock(e.stsTime.Now)}, stsOpts...)...)
	for _, a := range []string{acctA, acctB} {
		if err := e.srv.TrustIdP(principalOf(a), e.idp.CertPEM); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

func (e *samlEnv) secret(s string) {
	e.mu.Lock()
	e.secrets = append(e.secrets, s)
	e.mu.Unlock()
}

// provider builds a SAML provider logging in as user with idp.Form against
// the IdP and calling the fake STS; logs go to logBuf.
func (e *samlEnv) provider(t testing.TB, user, pass, role string, logBuf *syncBuffer, opts ...func(*session.SAMLOptions)) (*session.SAML, *countingIdP) {
	t.Helper()
	e.secret(pass)
	logger := newLoggerTo(logBuf)
	client := &countingIdP{inner: &idp.Form{URL: e.idp.AWSLoginURL, Prompter: idp.Fixed{User: user, Pass: pass}, Options: idp.Options{Logger: logger}}}
	base := aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(e.srv.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = zeroBackoff{} })
		},
	}
	p, err := session.NewSAML(client, role, append([]func(*session.SAMLOptions){func(o *session.SAMLOptions) { o.Base, o.Logger = &base, logger }}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p, client
}

// checkLogs fails when a password, session token, secret key or assertion
// shows up in the captured log.
func checkLogs(t testing.TB, logBuf *syncBuffer, secrets ...string) {
	t.Helper()
	out := logBuf.String()
	if out == "" {
		t.Error("nothing was logged: the log check would prove nothing")
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(out, s) {
			t.Errorf("a secret (%d characters, starting %.4s) appears in the log", len(s), s)
		}
	}
}

func credSecrets(c aws.Credentials) []string { return []string{c.SecretAccessKey, c.SessionToken} }

func tamperRole(t *testing.T, old, new string) func(string) string {
	return func(b64 string) string {
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || !strings.Contains(string(raw), old) {
			t.Errorf("cannot tamper: %v, contains %q: %v", err, old, strings.Contains(string(raw), old))
			return b64
		}
		return base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), old, new)))
	}
}

func TestSAMLToMinIOS3(t *testing.T) {
	m := testpeer.NewMinIO(t)
	e := newSAMLEnv(t, stsfake.WithMinter(stsfake.NewMinIOMinter(m.Endpoint, m.RootUser, m.RootPassword, m.Region)))
	ctx := context.Background()
	logBuf := &syncBuffer{}
	p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf)

	roles, err := p.Roles(ctx)
	if err != nil {
		t.Fatalf("roles of alice: %v", err)
	}
	if len(roles) != 4 {
		t.Errorf("alice is granted %v, want Admin and Dev in two accounts", roles)
	}
	var secrets []string
	for i, acct := range []string{acctA, acctB} {
		cfg, err := session.Config(ctx, p, acct)
		if err != nil {
			t.Fatalf("SAML config for %s: %v", acct, err)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if creds.SessionToken == "" || creds.AccessKeyID == m.RootUser || creds.AccountID != acct {
			t.Fatalf("not temporary credentials for %s: key %s", acct, creds.AccessKeyID)
		}
		secrets = append(secrets, credSecrets(creds)...)
		if is, ok := e.srv.Issued(creds.AccessKeyID); !ok || is.RoleARN != roleOf(acct, "Admin") || is.SessionName != "alice" {
			t.Errorf("STS did not issue these credentials for %s as alice: %+v", roleOf(acct, "Admin"), is)
		}
		s3RoundTrip(t, m, cfg, []string{"saml-a", "saml-b"}[i])
	}
	if n := client.logins.Load(); n != 1 {
		t.Errorf("%d IdP logins for two accounts, want 1", n)
	}
	a, err := p.Assertion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkLogs(t, logBuf, append(secrets, "alicepass", a.Raw)...)
}

func TestSAMLErrors(t *testing.T) {
	e := newSAMLEnv(t)
	ctx := context.Background()
	logBuf := &syncBuffer{}

	t.Run("bob is not granted Admin", func(t *testing.T) {
		p, _ := e.provider(t, "bob", "bobpass", "Admin", logBuf)
		_, err := p.Credentials(ctx, acctA)
		var rng *session.RoleNotGrantedError
		if !errors.As(err, &rng) || !errors.Is(err, session.ErrRoleNotGranted) {
			t.Fatalf("bob as Admin: want RoleNotGrantedError, got %v", err)
		}
		if len(rng.Granted) != 2 || rng.Granted[0].Name() != "Dev" || rng.Granted[1].Name() != "Dev" {
			t.Errorf("granted roles listed: %v, want Dev in both accounts", rng.Granted)
		}
		for _, want := range []string{acctA + "/Dev", acctB + "/Dev", `"Admin"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %s", err, want)
			}
		}
		// bob as Dev works, in both orders the IdP writes values.
		dev, _ := e.provider(t, "bob", "bobpass", "dev", logBuf)
		if _, err := dev.Credentials(ctx, acctB); err != nil {
			t.Errorf("bob as Dev: %v", err)
		}
	})

	t.Run("no role name: the account's only role", func(t *testing.T) {
		// bob has one role per account: it is taken.
		p, _ := e.provider(t, "bob", "bobpass", "", logBuf)
		c, err := p.Credentials(ctx, acctA)
		if err != nil {
			t.Fatalf("bob, no role name: %v", err)
		}
		if is, ok := e.srv.Issued(c.AccessKeyID); !ok || is.RoleARN != roleOf(acctA, "Dev") {
			t.Errorf("bob, no role name, assumed %+v; want %s", is, roleOf(acctA, "Dev"))
		}
		// alice has Admin and Dev: ambiguous, both listed.
		p, _ = e.provider(t, "alice", "alicepass", "", logBuf)
		_, err = p.Credentials(ctx, acctA)
		var rng *session.RoleNotGrantedError
		if !errors.As(err, &rng) || len(rng.Matches) != 2 {
			t.Fatalf("alice, no role name: want an ambiguity listing 2 roles, got %v", err)
		}
		for _, want := range []string{"has 2 roles", acctA + "/Admin", acctA + "/Dev", "name the role"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})

	t.Run("carol has no roles", func(t *testing.T) {
		p, _ := e.provider(t, "carol", "carolpass", "Admin", logBuf)
		_, err := p.Credentials(ctx, acctA)
		if !errors.Is(err, session.ErrRoleNotGranted) || !strings.Contains(err.Error(), "no AWS roles") {
			t.Errorf("carol: %v", err)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		p, client := e.provider(t, "alice", "not-the-password", "Admin", logBuf)
		for range 2 {
			_, err := p.Credentials(ctx, acctA)
			if !errors.Is(err, session.ErrIdPAccessDenied) || !errors.Is(err, idp.ErrAccessDenied) {
				t.Fatalf("wrong password: want ErrIdPAccessDenied, got %v", err)
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Error("the password is in the error")
			}
		}
		if n := client.logins.Load(); n != 2 {
			t.Errorf("a failed login was cached: %d logins for 2 calls", n)
		}
	})

	t.Run("unknown service provider", func(t *testing.T) {
		logger := newLoggerTo(logBuf)
		u := strings.Replace(e.idp.AWSLoginURL, "urn%3Aamazon%3Awebservices", "urn%3Anobody", 1)
		p, err := session.NewSAML(&idp.Form{URL: u, Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}}, "Admin",
			func(o *session.SAMLOptions) {
				o.Base, o.Logger = &aws.Config{BaseEndpoint: aws.String(e.srv.URL)}, logger
			})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Credentials(ctx, acctA); !errors.Is(err, session.ErrNoAssertion) {
			t.Errorf("unknown SP: want ErrNoAssertion, got %v", err)
		}
	})

	t.Run("tampered assertion", func(t *testing.T) {
		p, client := e.provider(t, "bob", "bobpass", "Admin", logBuf)
		client.rewrite = tamperRole(t, "role/Dev", "role/Admin")
		_, err := p.Credentials(ctx, acctA)
		var are *session.AssumeRoleError
		if !errors.As(err, &are) || !errors.Is(err, session.ErrAssumeRole) || are.Code != "InvalidIdentityToken" {
			t.Fatalf("tampered assertion: want AssumeRoleError InvalidIdentityToken, got %v", err)
		}
		if !strings.Contains(are.Message, "signature") {
			t.Errorf("STS message %q does not say the signature is wrong", are.Message)
		}
	})

	t.Run("untrusted IdP certificate", func(t *testing.T) {
		if err := e.srv.TrustIdP(principalOf(acctA), testpeer.OtherCertPEM(t)); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = e.srv.TrustIdP(principalOf(acctA), e.idp.CertPEM) }()
		p, _ := e.provider(t, "alice", "alicepass", "Admin", logBuf)
		_, err := p.Credentials(ctx, acctA)
		var are *session.AssumeRoleError
		if !errors.As(err, &are) || are.Code != "InvalidIdentityToken" {
			t.Errorf("assertion signed by an untrusted key: %v", err)
		}
	})

	t.Run("expired assertion", func(t *testing.T) {
		p, _ := e.provider(t, "alice", "alicepass", "Admin", logBuf)
		if _, err := p.Assertion(ctx); err != nil {
			t.Fatal(err)
		}
		e.stsTime.Advance(10 * time.Minute)
		defer e.stsTime.Advance(-10 * time.Minute)
		_, err := p.Credentials(ctx, acctA)
		var are *session.AssumeRoleError
		if !errors.As(err, &are) || are.Code != "ExpiredTokenException" {
			t.Errorf("assertion past NotOnOrAfter at STS: %v", err)
		}
	})

	t.Run("invalid parameters", func(t *testing.T) {
		client := &idp.Form{URL: e.idp.AWSLoginURL}
		for name, opt := range map[string]func(*session.SAMLOptions){
			"Duration":    func(o *session.SAMLOptions) { o.Duration = 13 * time.Hour },
			"RefreshRate": func(o *session.SAMLOptions) { o.Refresh.Share = 2 },
			"Policy twice": func(o *session.SAMLOptions) {
				o.PolicyJSON = "{}"
				o.Policy = &session.Policy{Statement: []session.PolicyStatement{{Effect: "Allow", Action: []string{"*"}, Resource: []string{"*"}}}}
			},
			"PolicyArns":              func(o *session.SAMLOptions) { o.PolicyARNs = []string{"not-an-arn"} },
			"DiskCache without scope": func(o *session.SAMLOptions) { o.DiskCache = &credcache.Cache{Dir: t.TempDir()} },
		} {
			if _, err := session.NewSAML(client, "Admin", opt); !errors.Is(err, session.ErrInvalidParameter) {
				t.Errorf("%s: want ParamError, got %v", name, err)
			}
		}
		if _, err := session.NewSAML(client, "bad role name!"); !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("bad role name: %v", err)
		}
		p, _ := e.provider(t, "alice", "alicepass", "Admin", logBuf)
		if _, err := p.Credentials(ctx, "12345"); !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("bad account ID: %v", err)
		}
	})

	checkLogs(t, logBuf, "alicepass", "bobpass", "carolpass", "not-the-password")
}

func TestSAMLAssertionCache(t *testing.T) {
	e := newSAMLEnv(t)
	ctx := context.Background()
	logBuf := &syncBuffer{}

	t.Run("cache time", func(t *testing.T) {
		clock := &realClock{}
		p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf,
			func(o *session.SAMLOptions) { o.Now, o.AssertionCacheTime = clock.Now, time.Minute })
		if _, err := p.Credentials(ctx, acctA); err != nil {
			t.Fatal(err)
		}
		clock.Advance(90 * time.Second)
		if _, err := p.Credentials(ctx, acctA); err != nil {
			t.Fatal(err)
		}
		if n := client.logins.Load(); n != 1 {
			t.Errorf("cached credentials needed a login: %d logins", n)
		}
		if _, err := p.Credentials(ctx, acctB); err != nil {
			t.Fatal(err)
		}
		if n := client.logins.Load(); n != 2 {
			t.Errorf("after the cache time a new account made %d logins in all, want 2", n)
		}
	})

	t.Run("NotOnOrAfter bounds the cache", func(t *testing.T) {
		clock := &realClock{}
		p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf,
			func(o *session.SAMLOptions) { o.Now, o.AssertionCacheTime = clock.Now, time.Hour })
		a, err := p.Assertion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if b, _ := p.Assertion(ctx); b != a || client.logins.Load() != 1 {
			t.Errorf("a live assertion was not reused: %d logins", client.logins.Load())
		}
		clock.Advance(a.NotOnOrAfter.Sub(clock.Now()))
		if _, err := p.Credentials(ctx, acctB); err != nil {
			t.Fatalf("after NotOnOrAfter: %v", err)
		}
		if n := client.logins.Load(); n != 2 {
			t.Errorf("an expired assertion was reused: %d logins", n)
		}
	})

	t.Run("50 goroutines share one login", func(t *testing.T) {
		e.srv.SetLatency(20 * time.Millisecond)
		defer e.srv.SetLatency(0)
		p, client := e.provider(t, "alice", "alicepass", "Dev", logBuf)
		before := map[string]int{acctA: e.srv.RoleCalls(roleOf(acctA, "Dev")), acctB: e.srv.RoleCalls(roleOf(acctB, "Dev"))}
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		keys := sync.Map{}
		for i := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				acct := []string{acctA, acctB}[i%2]
				c, err := p.Credentials(ctx, acct)
				if err != nil {
					errs <- err
					return
				}
				keys.Store(c.AccessKeyID, acct)
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := client.logins.Load(); n != 1 {
			t.Errorf("50 goroutines made %d IdP logins, want 1", n)
		}
		for _, acct := range []string{acctA, acctB} {
			if n := e.srv.RoleCalls(roleOf(acct, "Dev")) - before[acct]; n != 1 {
				t.Errorf("%d STS calls for %s, want 1", n, acct)
			}
		}
		n := 0
		keys.Range(func(any, any) bool { n++; return true })
		if n != 2 {
			t.Errorf("%d distinct credentials handed out, want one per account", n)
		}
	})

	t.Run("assertion store", func(t *testing.T) {
		var saved []string
		p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf,
			withStore(func() (string, bool) { return "", false }, func(s string) { saved = append(saved, s) }))
		if _, err := p.Credentials(ctx, acctA); err != nil {
			t.Fatal(err)
		}
		if len(saved) != 1 || client.logins.Load() != 1 {
			t.Fatalf("saved %d assertions after %d logins, want 1 and 1", len(saved), client.logins.Load())
		}
		// A new process: the saved assertion serves without a login.
		q, qclient := e.provider(t, "alice", "alicepass", "Admin", logBuf,
			withStore(func() (string, bool) { return saved[0], true }, func(string) {}))
		if _, err := q.Credentials(ctx, acctB); err != nil {
			t.Fatalf("with the saved assertion: %v", err)
		}
		if n := qclient.logins.Load(); n != 0 {
			t.Errorf("a live saved assertion still made %d logins", n)
		}
		// A saved assertion STS refuses (its signature broken here) is
		// replaced by one fresh login.
		broken := tamperRole(t, "role/Dev", "role/Devs")(saved[0])
		r, rclient := e.provider(t, "alice", "alicepass", "Admin", logBuf,
			withStore(func() (string, bool) { return broken, true }, func(string) {}))
		if _, err := r.Credentials(ctx, acctA); err != nil {
			t.Fatalf("refused saved assertion was not replaced: %v", err)
		}
		if n := rclient.logins.Load(); n != 1 {
			t.Errorf("%d logins after the saved assertion was refused, want 1", n)
		}
		// An expired saved assertion is not even tried.
		clock := &realClock{}
		clock.Advance(10 * time.Minute)
		x, xclient := e.provider(t, "alice", "alicepass", "Admin", logBuf, func(o *session.SAMLOptions) { o.Now = clock.Now },
			withStore(func() (string, bool) { return saved[0], true }, func(string) {}))
		if _, err := x.Assertion(ctx); err != nil || xclient.logins.Load() != 1 {
			t.Errorf("expired saved assertion: err %v, %d logins, want 1", err, xclient.logins.Load())
		}
	})

	checkLogs(t, logBuf, "alicepass")
}

func TestSAMLDurationAndCrossAccount(t *testing.T) {
	e := newSAMLEnv(t)
	ctx := context.Background()
	logBuf := &syncBuffer{}

	t.Run("duration clamped to SessionDuration", func(t *testing.T) {
		p, _ := e.provider(t, "alice", "alicepass", "Admin", logBuf, func(o *session.SAMLOptions) { o.Duration = 2 * time.Hour })
		c, err := p.Credentials(ctx, acctA)
		if err != nil {
			t.Fatalf("2h with SessionDuration 3600: %v", err)
		}
		if d := c.Expires.Sub(e.stsTime.Now()); d > time.Hour || d < 59*time.Minute {
			t.Errorf("credentials last %v, want the IdP's 1h", d)
		}
		if !strings.Contains(logBuf.String(), "SessionDuration limits the session") {
			t.Error("no notice that the duration was clamped")
		}
	})

	t.Run("SAML as the base of CrossAccount", func(t *testing.T) {
		p, client := e.provider(t, "alice", "alicepass", "Admin", logBuf)
		ca, err := session.NewCrossAccount(p, acctA, "Deploy", func(o *session.AssumeRoleOptions) { o.Duration, o.Logger = 2*time.Hour, newLoggerTo(logBuf) })
		if err != nil {
			t.Fatal(err)
		}
		for _, acct := range []string{"333333333333", "444444444444"} {
			cfg, err := session.Config(ctx, ca, acct)
			if err != nil {
				t.Fatalf("CrossAccount from SAML into %s: %v", acct, err)
			}
			if got, want := whoami(t, cfg), "arn:aws:sts::"+acct+":assumed-role/Deploy/"; !strings.HasPrefix(got, want) {
				t.Errorf("whoami in %s: %s, want %s...", acct, got, want)
			}
			creds, _ := cfg.Credentials.Retrieve(ctx)
			if d := e.srv.ChainDepth(creds.AccessKeyID); d != 2 {
				t.Errorf("chain depth %d, want 2 (SAML hop, then AssumeRole)", d)
			}
			if d := creds.Expires.Sub(e.stsTime.Now()); d > time.Hour {
				t.Errorf("chained role lasts %v, more than the 1h limit", d)
			}
		}
		if n := client.logins.Load(); n != 1 {
			t.Errorf("%d logins, want 1", n)
		}
		if n := e.srv.RoleCalls(roleOf(acctA, "Admin")); n < 1 {
			t.Error("the SAML hop was not made")
		}
	})

	checkLogs(t, logBuf, "alicepass")
}

// newLoggerTo is a debug-level text logger writing to b.
func newLoggerTo(b *syncBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// funcStore is an AssertionStore from two functions.
type funcStore struct {
	load func() (string, bool)
	save func(string)
}

func (f funcStore) Load() (string, bool) { return f.load() }
func (f funcStore) Save(b64 string) error {
	f.save(b64)
	return nil
}

func withStore(load func() (string, bool), save func(string)) func(*session.SAMLOptions) {
	return func(o *session.SAMLOptions) { o.AssertionStore = funcStore{load, save} }
}

// An exported AWS_PROFILE that names no profile (a user who just cleared
// their files, or one that `rolehop login` is about to write) must not
// break a SAML login, which needs no AWS credentials.
func TestSAMLIgnoresAMissingAWSProfile(t *testing.T) {
	e := newSAMLEnv(t)
	awsFiles(t, "", "")
	t.Setenv("AWS_PROFILE", "not-written-yet")
	t.Setenv("AWS_ENDPOINT_URL_STS", e.srv.URL)
	client := &idp.Form{URL: e.idp.AWSLoginURL, Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}}
	p, err := session.NewSAML(client, "Admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Credentials(context.Background(), acctA); err != nil {
		t.Fatalf("SAML login with AWS_PROFILE naming no profile: %v", err)
	}
}

// newClockSAML is a SAML provider over an IdP signing at clock's time (plus
// skew) with assertions valid for life (0: 5 minutes), and the test STS
// trusting that IdP; the provider logs to the returned buffer.
func newClockSAML(t *testing.T, clock *fakeClock, life, skew time.Duration, opts ...func(*session.SAMLOptions)) (*session.SAML, *clockIdP, *stsfake.Server, *syncBuffer) {
	t.Helper()
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
	signer := samltest.NewIdP(t, "https://idp.test/saml")
	var roles []string
	for _, a := range []string{acctA, acctB} {
		if err := srv.TrustIdP(principalOf(a), signer.CertPEM); err != nil {
			t.Fatal(err)
		}
		roles = append(roles, roleOf(a, "Admin")+","+principalOf(a))
	}
	client := &clockIdP{t: t, idp: signer, now: clock.Now, roles: roles, life: life, skew: skew}
	logBuf := &syncBuffer{}
	base := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)}
	p, err := session.NewSAML(client, "Admin", append([]func(*session.SAMLOptions){func(o *session.SAMLOptions) {
		o.Base, o.Now, o.Logger = &base, clock.Now, newLoggerTo(logBuf)
	}}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return p, client, srv, logBuf
}

// TestSAMLAssertionReusedFiveMinutesByDefault: with no AssertionCacheTime an
// assertion (here valid for an hour) is reused for 5 minutes, then a new
// login happens.
func TestSAMLAssertionReusedFiveMinutesByDefault(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	p, client, _, _ := newClockSAML(t, clock, time.Hour, 0)
	if _, err := p.Assertion(ctx); err != nil {
		t.Fatal(err)
	}
	clock.Advance(5*time.Minute - time.Second) // the README promises 5 minutes
	if _, err := p.Assertion(ctx); err != nil || client.logins.Load() != 1 {
		t.Errorf("at 4m59s: %v, %d logins; want the cached assertion", err, client.logins.Load())
	}
	clock.Advance(2 * time.Second)
	if _, err := p.Assertion(ctx); err != nil || client.logins.Load() != 2 {
		t.Errorf("at 5m01s: %v, %d logins; want a new login", err, client.logins.Load())
	}
}

// TestSAMLWarnsOfAClockThatDisagreesWithTheIdP: an assertion that looks
// expired the moment it arrives (this machine's clock is ahead of the IdP's)
// gets the warning the README promises, and is still used once.
func TestSAMLWarnsOfAClockThatDisagreesWithTheIdP(t *testing.T) {
	clock := newClock()
	p, _, _, logs := newClockSAML(t, clock, 0, -10*time.Minute)
	_, _ = p.Assertion(context.Background())
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "check this machine's clock against the IdP's") {
		t.Errorf("no clock warning in the log:\n%s", logs)
	}
}
