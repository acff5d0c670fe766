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

// TestSDKRefreshesThroughServer: the Go SDK's container provider reads the
// endpoint, and after the first credentials reach the refresh window the
// server hands out fresh ones from a source (stsfake with an injected clock).
func TestSDKRefreshesThroughServer(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock))

	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	_ = os.WriteFile(cfgFile, []byte("[profile prod]\nrolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/R\nrolehop_duration = 15m\n"), 0o600)
	_ = os.WriteFile(credFile, []byte("[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = s\n"), 0o600)
	for k, v := range map[string]string{"AWS_CONFIG_FILE": cfgFile, "AWS_SHARED_CREDENTIALS_FILE": credFile,
		"AWS_ENDPOINT_URL_STS": srv.URL, "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_PROFILE": "", "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	src, err := source.Resolve(ctx, "prod", &source.Options{Now: clock,
		Cache: &credcache.Cache{Dir: filepath.Join(dir, "cache"), Now: clock, RefreshWindow: 5 * time.Minute}})
	if err != nil {
		t.Fatal(err)
	}
	s := start(t, src.Provider(), ecsserver.Options{RoleARN: src.RoleARN()})

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
	advance(5 * time.Minute)
	if again := fetch(); again["AccessKeyId"] != first["AccessKeyId"] {
		t.Error("refreshed while still fresh")
	}
	advance(6 * time.Minute) // 4 minutes left: inside the 5-minute window
	second := fetch()
	if second["AccessKeyId"] == first["AccessKeyId"] || second["Expiration"] <= first["Expiration"] {
		t.Errorf("no fresh credentials: %v then %v", first["Expiration"], second["Expiration"])
	}
	advance(20 * time.Minute) // the first set has expired
	if is, _ := srv.Issued(first["AccessKeyId"]); !clock().After(is.Expiration) {
		t.Fatal("first credentials not expired yet")
	}
	third := fetch()
	if third["AccessKeyId"] == second["AccessKeyId"] {
		t.Error("expired credentials handed out")
	}

	// The AWS SDK's own container provider reads the endpoint.
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", s.URL())
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", s.Token())
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "none"))
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != third["AccessKeyId"] || c.SessionToken == "" {
		t.Errorf("SDK got %s, want %s", c.AccessKeyID, third["AccessKeyId"])
	}
}
