package ecsserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/ecsserver"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/source"
)

func start(t *testing.T, p aws.CredentialsProvider, opts ecsserver.Options) *ecsserver.Server {
	t.Helper()
	s, err := ecsserver.New(p, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

func get(t *testing.T, url, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestTokenAndLoopback(t *testing.T) {
	static := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "sec", SessionToken: "tok", CanExpire: true,
			Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}, nil
	})
	s := start(t, static, ecsserver.Options{RoleARN: "arn:aws:iam::111111111111:role/R"})
	host, _, _ := net.SplitHostPort(s.Addr().String())
	if host != "127.0.0.1" {
		t.Errorf("listening on %s, want 127.0.0.1", s.Addr())
	}
	if len(s.Token()) != 64 {
		t.Errorf("token %d hex characters, want 64 (32 bytes)", len(s.Token()))
	}
	other := start(t, static, ecsserver.Options{})
	if other.Token() == s.Token() {
		t.Error("two servers share a token")
	}
	for _, tok := range []string{"", "wrong", s.Token()[:63], s.Token() + "x", other.Token()} {
		code, body := get(t, s.URL(), tok)
		if code != http.StatusUnauthorized {
			t.Errorf("token %q: status %d, want 401", tok, code)
		}
		if json.Valid(body) && string(body) != "" && containsSecret(body) {
			t.Errorf("401 body leaks credentials: %s", body)
		}
	}
	code, body := get(t, s.URL(), s.Token())
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var r map[string]string
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"AccessKeyId": "ASIAX", "SecretAccessKey": "sec", "Token": "tok",
		"Expiration": "2030-01-02T03:04:05Z", "RoleArn": "arn:aws:iam::111111111111:role/R"}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %q, want %q", k, r[k], v)
		}
	}
	if _, err := ecsserver.New(static, ecsserver.Options{Addr: "0.0.0.0:0"}); !errors.Is(err, ecsserver.ErrNotLoopback) {
		t.Errorf("0.0.0.0: %v", err)
	}
}

func containsSecret(b []byte) bool {
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	_, ok := m["SecretAccessKey"]
	return ok
}

// fakeClock is an injectable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// countingProvider counts the Retrieve calls the server makes.
type countingProvider struct {
	aws.CredentialsProvider
	mu sync.Mutex
	n  int
}

func (p *countingProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	p.mu.Lock()
	p.n++
	p.mu.Unlock()
	return p.CredentialsProvider.Retrieve(ctx)
}

func (p *countingProvider) calls() int { p.mu.Lock(); defer p.mu.Unlock(); return p.n }

// sourceServer serves a rolehop source "prod" (base keys, one AssumeRole
// hop of 15 minutes into stsfake, on-disk cache refreshed 5 minutes before
// expiry), with clock as the source's, the cache's and STS's clock.
func sourceServer(t *testing.T, clock *fakeClock) (*ecsserver.Server, *stsfake.Server, *countingProvider, *source.Source) {
	t.Helper()
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	_ = os.WriteFile(cfgFile, []byte("[profile prod]\nrolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/R\nrolehop_duration = 15m\n"), 0o600)
	_ = os.WriteFile(credFile, []byte("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = s\n"), 0o600)
	for k, v := range map[string]string{"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile,
		"AWS_ENDPOINT_URL_STS": srv.URL, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	src, err := source.Resolve(context.Background(), "prod", &source.Options{Now: clock.Now,
		Cache: &credcache.Cache{Dir: filepath.Join(dir, "cache"), Now: clock.Now, RefreshWindow: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingProvider{CredentialsProvider: src.Provider()}
	s := start(t, counting, ecsserver.Options{RoleARN: src.RoleARN()})
	// The files have no default profile: the SDK's own config (with
	// AWS_PROFILE unset) finds no credentials there and uses the endpoint.
	return s, srv, counting, src
}

// TestServerHandsOutRefreshedCredentials: each GET asks the source, which
// refreshes through its cache when the credentials reach the refresh window
// (stsfake with an injected clock); expired credentials are never served.
func TestServerHandsOutRefreshedCredentials(t *testing.T) {
	clock := &fakeClock{now: time.Now().UTC().Truncate(time.Second)}
	s, srv, _, src := sourceServer(t, clock)
	fetch := func() map[string]string {
		code, body := get(t, s.URL(), s.Token())
		if code != 200 {
			t.Fatalf("status %d: %s", code, body)
		}
		var r map[string]string
		_ = json.Unmarshal(body, &r)
		return r
	}
	first := fetch()
	if is, ok := srv.Issued(first["AccessKeyId"]); !ok || is.RoleARN != src.RoleARN() {
		t.Fatalf("not the role's credentials: %v", first)
	}
	clock.Add(5 * time.Minute)
	if again := fetch(); again["AccessKeyId"] != first["AccessKeyId"] {
		t.Error("refreshed while still fresh")
	}
	clock.Add(6 * time.Minute) // 4 minutes left: inside the 5-minute window
	second := fetch()
	if second["AccessKeyId"] == first["AccessKeyId"] || second["Expiration"] <= first["Expiration"] {
		t.Errorf("no fresh credentials: %v then %v", first["Expiration"], second["Expiration"])
	}
	clock.Add(20 * time.Minute) // the first set has expired
	if is, _ := srv.Issued(first["AccessKeyId"]); !clock.Now().After(is.Expiration) {
		t.Fatal("first credentials not expired yet")
	}
	if third := fetch(); third["AccessKeyId"] == second["AccessKeyId"] {
		t.Error("expired credentials handed out")
	}
}

// TestSDKRefreshesThroughServer: the AWS SDK's own container provider, with
// its own cache and default 5-minute expiry window, reads the endpoint,
// keeps the credentials while they are fresh in its eyes, and when they
// reach its window comes back to the endpoint and gets the fresh ones the
// source has made meanwhile.
//
// The SDK's clock is the wall clock, so the source's clock starts 9m50s in
// the past: the first credentials (15 minutes) expire 5m10s from now,
// fresh for the SDK for 10 more seconds. (The SDK's cache reports Expires
// already moved earlier by its window: the moment it refreshes.)
func TestSDKRefreshesThroughServer(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{now: time.Now().UTC().Add(-9*time.Minute - 50*time.Second)}
	s, srv, counting, src := sourceServer(t, clock)
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", s.URL())
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", s.Token())
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}

	first, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if is, ok := srv.Issued(first.AccessKeyID); !ok || is.RoleARN != src.RoleARN() || first.SessionToken == "" {
		t.Fatalf("the SDK got %s, not the role's credentials", first.AccessKeyID)
	}
	if counting.calls() != 1 {
		t.Fatalf("the server was asked %d times for the first credentials", counting.calls())
	}
	// Still fresh for the SDK: served from its cache, the endpoint is not asked.
	again, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || again.AccessKeyID != first.AccessKeyID {
		t.Fatalf("second retrieve: %s %v", again.AccessKeyID, err)
	}
	if is, _ := srv.Issued(first.AccessKeyID); !first.Expires.Before(is.Expiration.Add(-4 * time.Minute)) {
		t.Errorf("the SDK refreshes at %s, not within 5 minutes of the expiry %s", first.Expires, is.Expiration)
	}
	if time.Now().Before(first.Expires) && counting.calls() != 1 {
		t.Errorf("the SDK asked the endpoint again while its credentials were fresh (%d calls)", counting.calls())
	}

	// The source moves on: its credentials reach its own window and it
	// refreshes on the next request.
	clock.Add(11 * time.Minute)
	// Wait (wall clock) until the SDK's copy reaches the SDK's 5-minute window.
	for !time.Now().After(first.Expires) {
		time.Sleep(100 * time.Millisecond)
	}
	refreshed, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if refreshed.AccessKeyID == first.AccessKeyID || !refreshed.Expires.After(first.Expires) {
		t.Fatalf("the SDK did not refresh: %s (expires %s) after %s (expires %s)",
			refreshed.AccessKeyID, refreshed.Expires, first.AccessKeyID, first.Expires)
	}
	if is, ok := srv.Issued(refreshed.AccessKeyID); !ok || is.RoleARN != src.RoleARN() {
		t.Fatalf("the refreshed credentials %s are not the role's", refreshed.AccessKeyID)
	}
	if counting.calls() != 2 {
		t.Errorf("the endpoint was asked %d times, want 2 (the first read and the SDK's refresh)", counting.calls())
	}
}
