package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
	"github.com/rolehop/rolehop/source"
)

// env writes the AWS files, points the SDK at srv and nowhere else, and
// returns the options of a fresh cache.
func env(t *testing.T, srv *stsfake.Server, config, creds string) *source.Options {
	t.Helper()
	dir := t.TempDir()
	cfg, cr := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cr, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", cfg)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", cr)
	url := "http://127.0.0.1:9" // nothing listens: a call would fail
	if srv != nil {
		url = srv.URL
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", url)
	return &source.Options{Cache: &credcache.Cache{Dir: filepath.Join(dir, "cache")}}
}

const creds = "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n"

const chainConfig = `[profile base]
region = eu-west-1

[profile mid]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::222222222222:role/Mid
rolehop_duration = 1h

[profile prod]
credential_process = rolehop credential-process --profile prod
rolehop_base = mid
rolehop_role_arn = arn:aws:iam::333333333333:role/Admin
rolehop_external_id = ext-1
region = eu-central-1
`

func TestChainAndCache(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	srv.SetRole("arn:aws:iam::333333333333:role/Admin", stsfake.RoleSettings{ExternalID: "ext-1"})
	opts := env(t, srv, chainConfig, creds)

	s, err := source.Resolve(ctx, "prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.Base.Profile != "base" || len(s.Hops) != 2 || s.Hops[0].RoleARN != "arn:aws:iam::222222222222:role/Mid" ||
		s.RoleARN() != "arn:aws:iam::333333333333:role/Admin" || s.Region != "eu-central-1" {
		t.Fatalf("resolved %+v", s)
	}
	c, err := s.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	is, ok := srv.Issued(c.AccessKeyID)
	if !ok || is.RoleARN != s.RoleARN() || is.Depth != 2 {
		t.Fatalf("credentials not the chain's final role: %+v %v", is, ok)
	}
	if got := srv.Calls("AssumeRole"); got != 2 {
		t.Errorf("AssumeRole calls = %d, want 2", got)
	}
	// A second process (a fresh Resolve) uses the disk cache: no STS call.
	s2, err := source.Resolve(ctx, "prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := s2.Credentials(ctx)
	if err != nil || c2.AccessKeyID != c.AccessKeyID {
		t.Fatalf("cached credentials: %v, %s vs %s", err, c2.AccessKeyID, c.AccessKeyID)
	}
	if got := srv.Calls("AssumeRole"); got != 2 {
		t.Errorf("after a warm call AssumeRole calls = %d, want still 2", got)
	}
	// A warm call loads nothing else: with the base profile gone from the
	// credentials file (the SDK could not load it) the cache still answers.
	if err := os.WriteFile(os.Getenv("AWS_SHARED_CREDENTIALS_FILE"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s3, err := source.Resolve(ctx, "prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	if c3, err := s3.Credentials(ctx); err != nil || c3.AccessKeyID != c.AccessKeyID {
		t.Errorf("warm call without a loadable base: %v", err)
	}
	// The mid source alone has its own entry.
	m, err := source.Resolve(ctx, "mid", opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.CacheKey == s.CacheKey {
		t.Error("mid and prod share a cache key")
	}
	if m.Region != "eu-west-1" {
		t.Errorf("mid region %q, want the base profile's eu-west-1", m.Region)
	}
}

func TestDifferentBasesNeverShareAnEntry(t *testing.T) {
	ctx := context.Background()
	opts := env(t, nil, `[profile a]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/X
[profile b]
rolehop_base = other
rolehop_role_arn = arn:aws:iam::111111111111:role/X
[profile c]
rolehop_base = login:corp
rolehop_role_arn = arn:aws:iam::111111111111:role/X
`, creds)
	keys := map[string]string{}
	for _, p := range []string{"a", "b", "c"} {
		s, err := source.Resolve(ctx, p, opts)
		if err != nil {
			t.Fatal(err)
		}
		if other, dup := keys[s.CacheKey]; dup {
			t.Errorf("profiles %s and %s share cache key %s", p, other, s.CacheKey)
		}
		keys[s.CacheKey] = p
	}
	c, _ := source.Resolve(ctx, "c", opts)
	if c.Base.Login != "corp" {
		t.Errorf("login base = %+v", c.Base)
	}
	_, err := c.Credentials(ctx)
	if !errors.Is(err, source.ErrLoginUnavailable) {
		t.Errorf("login base without Options.Login: %v", err)
	}
}

func TestBadDefinitions(t *testing.T) {
	ctx := context.Background()
	opts := env(t, nil, `[profile a]
rolehop_base = b
rolehop_role_arn = arn:aws:iam::111111111111:role/A
[profile b]
rolehop_base = c
rolehop_role_arn = arn:aws:iam::111111111111:role/B
[profile c]
rolehop_base = a
rolehop_role_arn = arn:aws:iam::111111111111:role/C
[profile self]
rolehop_base = self
rolehop_role_arn = arn:aws:iam::111111111111:role/S
[profile badarn]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::1111:role/Nope
[profile baddur]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/X
rolehop_duration = forever
[profile shortdur]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/X
rolehop_duration = 5m
[profile badext]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/X
rolehop_external_id = no spaces allowed
[profile nobase]
rolehop_role_arn = arn:aws:iam::111111111111:role/X
[profile plain]
region = us-west-2
[profile deepbad]
rolehop_base = badarn
rolehop_role_arn = arn:aws:iam::111111111111:role/X
`, creds)
	for _, tc := range []struct {
		profile string
		is      error
		msg     string
	}{
		{"a", source.ErrCycle, "a → b → c → a"},
		{"b", source.ErrCycle, "b → c → a → b"},
		{"self", source.ErrCycle, "self → self"},
		{"badarn", session.ErrInvalidParameter, "RoleArn"},
		{"deepbad", session.ErrInvalidParameter, `profile "badarn"`},
		{"baddur", source.ErrInvalid, "rolehop_duration"},
		{"shortdur", session.ErrInvalidParameter, "DurationSeconds"},
		{"badext", session.ErrInvalidParameter, "ExternalId"},
		{"nobase", source.ErrInvalid, "rolehop_base"},
		{"plain", source.ErrNotSource, "rolehop_role_arn"},
		{"missing", source.ErrNotFound, `"missing" not found`},
		{"missing", session.ErrProfileNotFound, "add [profile missing]"},
	} {
		_, err := source.Resolve(ctx, tc.profile, opts)
		if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v; want %v containing %q", tc.profile, err, tc.is, tc.msg)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: message spans lines: %q", tc.profile, err)
		}
	}
	if strings.Contains(func() string { _, err := source.Resolve(ctx, "badext", opts); return err.Error() }(), "no spaces") {
		t.Error("the ExternalId value is in the error")
	}
}

func TestRefreshBeforeExpiry(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Now().UTC().Truncate(time.Second)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock))
	opts := env(t, srv, "[profile prod]\nrolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/R\n", creds)
	opts.Now = clock
	opts.Cache.Now = clock
	s, err := source.Resolve(ctx, "prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	c1, err := s.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(40 * time.Minute) // 20 minutes left: still fresh
	mu.Unlock()
	if c, _ := s.Credentials(ctx); c.AccessKeyID != c1.AccessKeyID {
		t.Error("refreshed outside the refresh window")
	}
	mu.Lock()
	now = now.Add(10 * time.Minute) // 10 minutes left: inside the 15-minute window
	mu.Unlock()
	c2, err := s.Credentials(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c2.AccessKeyID == c1.AccessKeyID || !c2.Expires.After(c1.Expires) {
		t.Errorf("not refreshed: %s exp %v vs %s exp %v", c2.AccessKeyID, c2.Expires, c1.AccessKeyID, c1.Expires)
	}
}

func TestConfigCarriesSourceCredentials(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	opts := env(t, srv, "[profile prod]\nrolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/R\nregion = ap-south-1\n", creds)
	s, err := source.Resolve(ctx, "prod", opts)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := s.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "ap-south-1" {
		t.Errorf("region %q", cfg.Region)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if is, ok := srv.Issued(c.AccessKeyID); !ok || is.RoleARN != "arn:aws:iam::111111111111:role/R" {
		t.Errorf("config credentials %+v", is)
	}
	var _ aws.CredentialsProvider = s.Provider()
}
