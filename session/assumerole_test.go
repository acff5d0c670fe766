package session_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

const (
	role1 = "arn:aws:iam::111111111111:role/One"
	role2 = "arn:aws:iam::222222222222:role/Two"
	role3 = "arn:aws:iam::333333333333:role/Three"
)

func TestAssumeRoleChainDepth3ClampsTo1h(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	log, logs := newLogger()
	c1, err := session.RoleConfig(baseConfig(srv, "eu-west-1"), role1, func(o *session.AssumeRoleOptions) {
		o.Duration, o.Logger = 2*time.Hour, log
	})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := session.RoleConfig(c1, role2, func(o *session.AssumeRoleOptions) {
		o.Duration, o.Logger = 2*time.Hour, log
	})
	if err != nil {
		t.Fatal(err)
	}
	c3, err := session.RoleConfig(c2, role3, func(o *session.AssumeRoleOptions) {
		o.Duration, o.Logger, o.Region = 12*time.Hour, log, "us-west-2"
	})
	if err != nil {
		t.Fatal(err)
	}
	if c3.Region != "us-west-2" || c2.Region != "eu-west-1" {
		t.Errorf("regions: c2 %q (want inherited eu-west-1), c3 %q (want us-west-2)", c2.Region, c3.Region)
	}
	creds, err := c3.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ChainDepth(creds.AccessKeyID); got != 3 {
		t.Errorf("ChainDepth = %d, want 3", got)
	}
	if d := time.Until(creds.Expires); d > time.Hour+time.Minute || d < 59*time.Minute {
		t.Errorf("chained credentials last %v, want the 1h clamp", d)
	}
	c1creds, _ := c1.Credentials.Retrieve(ctx)
	if d := time.Until(c1creds.Expires); d < 119*time.Minute {
		t.Errorf("first hop lasts %v, want the 2h asked (not chained)", d)
	}
	if got := whoami(t, c3); !strings.HasPrefix(got, "arn:aws:sts::333333333333:assumed-role/Three/rolehop-") {
		t.Errorf("c3 is %s", got)
	}
	if n := strings.Count(logs.String(), "role chaining limits a session to 1h"); n != 2 {
		t.Errorf("clamp notices = %d, want 2 (hops 2 and 3):\n%s", n, logs)
	}
	if strings.Contains(logs.String(), creds.SecretAccessKey) || strings.Contains(logs.String(), creds.SessionToken) {
		t.Error("a secret reached the log")
	}
	if srv.Calls("AssumeRole") != 3 {
		t.Errorf("AssumeRole calls = %d, want 3", srv.Calls("AssumeRole"))
	}
}

func TestAssumeRoleSessionTokenParentIsChained(t *testing.T) {
	srv := stsfake.NewForTest(t)
	is := srv.IssueCredentials(role1, "earlier", time.Hour, 1)
	parent := baseConfig(srv, "us-east-1")
	parent.Credentials = staticCreds(is)
	child, err := session.RoleConfig(parent, role2, func(o *session.AssumeRoleOptions) { o.Duration = 4 * time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := child.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("not clamped, STS refused: %v", err)
	}
	if d := time.Until(creds.Expires); d > time.Hour+time.Minute {
		t.Errorf("lasts %v, want clamped to 1h", d)
	}
}

func TestAssumeRoleAccessDenied(t *testing.T) {
	srv := stsfake.NewForTest(t)
	srv.Deny(role1)
	child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = child.Credentials.Retrieve(context.Background())
	var are *session.AssumeRoleError
	if !errors.As(err, &are) || !errors.Is(err, session.ErrAssumeRole) {
		t.Fatalf("want *AssumeRoleError, got %T %v", err, err)
	}
	if are.Code != "AccessDenied" || are.RoleARN != role1 || !strings.Contains(are.Message, "not authorized to perform: sts:AssumeRole") {
		t.Errorf("got %+v", are)
	}
	if strings.Contains(err.Error(), "base-secret-key") {
		t.Error("error holds the secret key")
	}
	if srv.Calls("AssumeRole") != 1 {
		t.Errorf("AccessDenied was retried: %d calls", srv.Calls("AssumeRole"))
	}
}

func TestAssumeRoleThrottlingRecoveredBySDKRetryer(t *testing.T) {
	srv := stsfake.NewForTest(t)
	srv.FailNext("AssumeRole", 2, "Throttling")
	child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := child.Credentials.Retrieve(context.Background()); err != nil {
		t.Fatalf("throttling not recovered: %v", err)
	}
	if got := srv.Calls("AssumeRole"); got != 3 {
		t.Errorf("AssumeRole calls = %d, want 3 (2 throttled, 1 good)", got)
	}
}

func TestAssumeRoleRefreshTiming(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		opts      func(*session.AssumeRoleOptions)
		reuseAt   time.Duration // still cached at this age
		refreshAt time.Duration // refreshed at this age
	}{
		{"half of 1h", func(o *session.AssumeRoleOptions) { o.Duration = time.Hour }, 29*time.Minute + 59*time.Second, 30 * time.Minute},
		{"half of 15m", func(o *session.AssumeRoleOptions) { o.Duration = 15 * time.Minute }, 7 * time.Minute, 7*time.Minute + 30*time.Second},
		{"share 0.9 of 12h", func(o *session.AssumeRoleOptions) { o.Duration, o.Refresh.Share = 12*time.Hour, 0.9 }, 10*time.Hour + 47*time.Minute, 10*time.Hour + 48*time.Minute},
		{"share 1 of 12h: 5 minutes before expiry", func(o *session.AssumeRoleOptions) { o.Duration, o.Refresh.Share = 12*time.Hour, 1 }, 11*time.Hour + 54*time.Minute, 11*time.Hour + 55*time.Minute},
		{"share 1 of 15m: 5 minutes before expiry", func(o *session.AssumeRoleOptions) { o.Duration, o.Refresh.Share = 15*time.Minute, 1 }, 9*time.Minute + 59*time.Second, 10 * time.Minute},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newClock()
			srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
			child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1, tc.opts, func(o *session.AssumeRoleOptions) { o.Now = clock.Now })
			if err != nil {
				t.Fatal(err)
			}
			first, err := child.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(tc.reuseAt)
			again, _ := child.Credentials.Retrieve(ctx)
			if n := srv.Calls("AssumeRole"); n != 1 || again.AccessKeyID != first.AccessKeyID {
				t.Errorf("at age %v: %d STS calls, want the cached credentials", tc.reuseAt, n)
			}
			clock.Advance(tc.refreshAt - tc.reuseAt)
			fresh, err := child.Credentials.Retrieve(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.Calls("AssumeRole"); n != 2 || fresh.AccessKeyID == first.AccessKeyID {
				t.Errorf("at age %v: %d STS calls, want a refresh", tc.refreshAt, n)
			}
		})
	}
}

func TestAssumeRoleConcurrentCallersShareOneCall(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithLatency(20*time.Millisecond))
	child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	keys := make([]string, 200)
	errs := make([]error, 200)
	for i := range 200 {
		wg.Go(func() {
			c, err := child.Credentials.Retrieve(context.Background())
			keys[i], errs[i] = c.AccessKeyID, err
		})
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || keys[i] != keys[0] {
			t.Fatalf("caller %d: %q %v, want the shared credentials", i, keys[i], errs[i])
		}
	}
	if n := srv.Calls("AssumeRole"); n != 1 {
		t.Errorf("200 concurrent callers made %d STS calls, want 1", n)
	}
}

// blockRole makes the fake's AssumeRole for roleARN wait for release.
func blockRole(srv *stsfake.Server, roleARN string) (release func()) {
	next := srv.Handler("AssumeRole")
	gate := make(chan struct{})
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if form.Get("RoleArn") == roleARN {
			<-gate
		}
		next(w, r, form)
	})
	var once sync.Once
	return func() { once.Do(func() { close(gate) }) }
}

// waitFor polls cond; a broken cache fails the test after 30 s instead of
// hanging the package.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if t.Context().Err() != nil || time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCrossAccountSlowKeyNeverBlocksAnother(t *testing.T) {
	srv := stsfake.NewForTest(t)
	ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Ops")
	if err != nil {
		t.Fatal(err)
	}
	slow := "arn:aws:iam::999999999999:role/Ops"
	release := blockRole(srv, slow)
	t.Cleanup(release)
	slowDone := make(chan error, 1)
	go func() {
		_, err := ca.Credentials(context.Background(), "999999999999")
		slowDone <- err
	}()
	waitFor(t, "the slow call to reach STS", func() bool { return srv.RoleCalls(slow) == 1 })

	// The slow account's call is parked in the fake; other accounts answer.
	for _, acct := range []string{"111111111111", "222222222222"} {
		c, err := ca.Credentials(context.Background(), acct)
		if err != nil || c.AccountID != acct {
			t.Fatalf("account %s while another is blocked: %+v %v", acct, c.AccountID, err)
		}
	}
	select {
	case err := <-slowDone:
		t.Fatalf("slow call ended before release: %v", err)
	default:
	}
	release()
	if err := <-slowDone; err != nil {
		t.Fatalf("slow call: %v", err)
	}
}

func TestFailedRefreshReachesEveryWaiterAndIsRetried(t *testing.T) {
	srv := stsfake.NewForTest(t)
	release := blockRole(srv, role1)
	t.Cleanup(release)
	srv.Deny(role1)
	child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var joined atomic.Int32
	session.SetTestHookJoined(t, func(string) { joined.Add(1) })
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := child.Credentials.Retrieve(context.Background())
			errs <- err
		}()
	}
	waitFor(t, "the call to reach STS", func() bool { return srv.Calls("AssumeRole") == 1 })
	waitFor(t, "every waiter to join the one flight", func() bool { return joined.Load() == n })
	release()
	for range n {
		if err := <-errs; !errors.Is(err, session.ErrAssumeRole) {
			t.Errorf("waiter got %v, want the AssumeRole error", err)
		}
	}
	if got := srv.Calls("AssumeRole"); got != 1 {
		t.Errorf("%d waiters made %d STS calls, want 1 shared", n, got)
	}

	// Not cached: the next call tries again and succeeds.
	srv.Allow(role1)
	if _, err := child.Credentials.Retrieve(context.Background()); err != nil {
		t.Fatalf("retry after failure: %v", err)
	}
	if got := srv.Calls("AssumeRole"); got != 2 {
		t.Errorf("after failure, STS calls = %d, want 2", got)
	}
}

func TestAssumeRoleSendsEveryParameter(t *testing.T) {
	srv := stsfake.NewForTest(t)
	srv.SetRole(role1, stsfake.RoleSettings{RequireMFA: true, TokenCode: "654321", ExternalID: "ext-id-1"})
	var got url.Values
	next := srv.Handler("AssumeRole")
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		got = form
		next(w, r, form)
	})
	child, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1, func(o *session.AssumeRoleOptions) {
		o.RoleSessionName = "alice@example.com"
		o.Policy = &session.Policy{Statement: []session.PolicyStatement{{Effect: "Allow", Action: []string{"s3:GetObject"}, Resource: []string{"*"}}}}
		o.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess"}
		o.Duration = 2 * time.Hour
		o.Tags = map[string]string{"team": "ops", "cost": "42"}
		o.TransitiveTagKeys = []string{"team"}
		o.ExternalID = "ext-id-1"
		o.MFA = &session.MFA{SerialNumber: "arn:aws:iam::123456789012:mfa/alice", TokenCode: func(context.Context) (string, error) { return "654321", nil }}
		o.SourceIdentity = "alice"
	})
	if err != nil {
		t.Fatal(err)
	}
	creds, err := child.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"RoleSessionName":            "alice@example.com",
		"Policy":                     `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"Resource":["*"]}]}`,
		"PolicyArns.member.1.arn":    "arn:aws:iam::aws:policy/ReadOnlyAccess",
		"DurationSeconds":            "7200",
		"Tags.member.1.Key":          "cost",
		"Tags.member.1.Value":        "42",
		"Tags.member.2.Key":          "team",
		"TransitiveTagKeys.member.1": "team",
		"ExternalId":                 "ext-id-1",
		"SerialNumber":               "arn:aws:iam::123456789012:mfa/alice",
		"TokenCode":                  "654321",
		"SourceIdentity":             "alice",
	}
	for k, v := range want {
		if got.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, got.Get(k), v)
		}
	}
	if creds.AccountID != "111111111111" || creds.Source != "rolehop.AssumeRole" || !creds.CanExpire {
		t.Errorf("credentials metadata: %+v", creds.AccountID)
	}
}

func staticCreds(is stsfake.Issued) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: is.AccessKeyID, SecretAccessKey: is.SecretAccessKey, SessionToken: is.SessionToken,
			CanExpire: true, Expires: is.Expiration}, nil
	})
}

func TestCrossAccountManyAccounts(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	srv.SetRole("arn:aws:iam::100000000007:role/Audit", stsfake.RoleSettings{ExternalID: "ext-42"})
	ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Audit",
		func(o *session.AssumeRoleOptions) { o.ExternalID = "ext-42" })
	if err != nil {
		t.Fatal(err)
	}
	const accounts = 50
	for round := range 3 {
		for i := range accounts {
			acct := fmt.Sprintf("1000000000%02d", i)
			cfg, err := session.Config(ctx, ca, acct)
			if err != nil {
				t.Fatalf("round %d account %s: %v", round, acct, err)
			}
			if round == 0 {
				if got := whoami(t, cfg); !strings.HasPrefix(got, "arn:aws:sts::"+acct+":assumed-role/Audit/") {
					t.Errorf("account %s config is %s", acct, got)
				}
			}
		}
	}
	if got := srv.Calls("AssumeRole"); got != accounts {
		t.Errorf("%d accounts x 3 rounds made %d STS calls, want %d", accounts, got, accounts)
	}
	for i := range accounts {
		arn := fmt.Sprintf("arn:aws:iam::1000000000%02d:role/Audit", i)
		if n := srv.RoleCalls(arn); n != 1 {
			t.Errorf("%s assumed %d times, want 1", arn, n)
		}
	}
}

func TestCrossAccountPartitionFromRegion(t *testing.T) {
	for region, partition := range map[string]string{"cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov", "eu-central-1": "aws"} {
		srv := stsfake.NewForTest(t)
		ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, region)}, "123456789012", "Ops")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ca.Credentials(context.Background(), "111111111111"); err != nil {
			t.Fatal(err)
		}
		want := "arn:" + partition + ":iam::111111111111:role/Ops"
		if srv.RoleCalls(want) != 1 || ca.RoleARN("111111111111") != want {
			t.Errorf("region %s: want a call for %s", region, want)
		}
	}
}

func TestCrossAccountChainedBaseClamps(t *testing.T) {
	srv := stsfake.NewForTest(t)
	hub, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Hub")
	if err != nil {
		t.Fatal(err)
	}
	spoke, err := session.NewCrossAccount(hub, "111111111111", "Spoke", func(o *session.AssumeRoleOptions) { o.Duration = 3 * time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	c, err := spoke.Credentials(context.Background(), "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ChainDepth(c.AccessKeyID); got != 2 {
		t.Errorf("ChainDepth = %d, want 2", got)
	}
}

func TestCrossAccountRefreshesWithInjectedClock(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
	ca, err := session.NewCrossAccount(staticProvider{cfg: baseConfig(srv, "us-east-1")}, "123456789012", "Ops",
		func(o *session.AssumeRoleOptions) { o.Now, o.Duration = clock.Now, 2*time.Hour })
	if err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"111111111111", "222222222222"} {
		if _, err := ca.Credentials(ctx, acct); err != nil {
			t.Fatal(err)
		}
	}
	clock.Advance(59 * time.Minute)
	for _, acct := range []string{"111111111111", "222222222222"} {
		if _, err := ca.Credentials(ctx, acct); err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.Calls("AssumeRole"); n != 2 {
		t.Errorf("before half life: %d STS calls, want 2", n)
	}
	clock.Advance(time.Minute)
	cfg, err := session.Config(ctx, ca, "111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("AssumeRole"); n != 3 {
		t.Errorf("at half life: %d STS calls, want 3 (one account refreshed)", n)
	}
}
