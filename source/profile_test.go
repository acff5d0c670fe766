package source_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
	"github.com/rolehop/rolehop/source"
)

// loginWritten is a profile as `rolehop login` writes it.
const loginWritten = `[corp-Admin]
aws_access_key_id = ASIALOGIN
aws_secret_access_key = login-secret
aws_session_token = login-token
x_security_token_expires = 2031-01-02T03:04:05Z
`

func TestOpenEveryKindOfProfile(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	srv.SetRole("arn:aws:iam::333333333333:role/Admin", stsfake.RoleSettings{ExternalID: "ext-1"})
	opts := env(t, srv, chainConfig, creds+"\n"+loginWritten)

	t.Run("written by login", func(t *testing.T) {
		p, err := source.Open(ctx, "corp-Admin", opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Source != nil || c.AccessKeyID != "ASIALOGIN" || c.SessionToken != "login-token" ||
			!c.Expires.Equal(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("login profile: source %v, %s, expires %v", p.Source != nil, c.AccessKeyID, c.Expires)
		}
		cfg, err := p.Config(ctx)
		if err != nil || cfg.Region != "us-east-1" {
			t.Errorf("config: %v, region %q", err, cfg.Region)
		}
	})
	t.Run("rolehop source", func(t *testing.T) {
		p, err := source.Open(ctx, "prod", opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := p.Credentials(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if p.Source == nil || p.Region != "eu-central-1" || p.RoleARN() != "arn:aws:iam::333333333333:role/Admin" {
			t.Errorf("source profile: %+v", p)
		}
		if is, ok := srv.Issued(c.AccessKeyID); !ok || is.RoleARN != p.RoleARN() {
			t.Errorf("credentials not the role's: %+v", is)
		}
	})
	t.Run("AWS_PROFILE names it", func(t *testing.T) {
		t.Setenv("AWS_PROFILE", "prod")
		p, err := source.Open(ctx, "", opts)
		if err != nil || p.Source == nil || p.Name != "prod" {
			t.Fatalf("AWS_PROFILE=prod: %+v, %v", p, err)
		}
	})
	t.Run("plain AWS profile", func(t *testing.T) {
		t.Setenv("AWS_REGION", "") // the profile's own region applies
		p, err := source.Open(ctx, "base", opts)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := p.Credentials(ctx); err != nil || c.AccessKeyID != "AKIABASE" || p.Region != "eu-west-1" {
			t.Errorf("base profile: %s %v, region %q", c.AccessKeyID, err, p.Region)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := source.Open(ctx, "nowhere", opts)
		if !errors.Is(err, session.ErrProfileNotFound) || !strings.Contains(err.Error(), `"nowhere"`) {
			t.Errorf("missing profile: %v", err)
		}
	})
	t.Run("a parent is resolving it", func(t *testing.T) {
		t.Setenv(source.EnvChain, "dev,prod")
		_, err := source.Open(ctx, "prod", opts)
		if !errors.Is(err, source.ErrCycle) || !strings.Contains(err.Error(), "dev → prod → prod") {
			t.Errorf("cycle through a parent process: %v", err)
		}
	})
}

// While a profile's credentials are fetched, a credential_process started by
// the SDK sees the profile in the chain (so a rolehop it runs refuses to
// resolve the same profile instead of waiting on its own lock).
func TestCredentialProcessChildSeesTheChain(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	out := filepath.Join(dir, "chain")
	script := filepath.Join(dir, "creds.sh")
	body := "#!/bin/sh\nprintf %s \"$" + source.EnvChain + "\" > " + out + "\n" +
		"echo '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROC\", \"SecretAccessKey\": \"s\"}'\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	opts := env(t, nil, "[profile proc]\ncredential_process = "+script+"\n", "")
	t.Setenv(source.EnvChain, "outer")
	p, err := source.Open(ctx, "proc", opts)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := p.Credentials(ctx); err != nil || c.AccessKeyID != "AKIAPROC" {
		t.Fatalf("credential_process profile: %v", err)
	}
	got, _ := os.ReadFile(out)
	if string(got) != "outer,proc" {
		t.Errorf("the child saw %s=%q, want outer,proc", source.EnvChain, got)
	}
	if v := os.Getenv(source.EnvChain); v != "outer" {
		t.Errorf("after the fetch the chain is %q, want it restored to outer", v)
	}
}
