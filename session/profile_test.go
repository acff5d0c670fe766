package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

// awsFiles writes a config and a credentials file and points the SDK's
// environment at them (and nowhere else).
func awsFiles(t *testing.T, config, creds string) string {
	t.Helper()
	dir := t.TempDir()
	cfgPath, credPath := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credPath, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	cleanAWSEnv(t)
	t.Setenv("AWS_CONFIG_FILE", cfgPath)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", credPath)
	return dir
}

func cleanAWSEnv(t *testing.T) {
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_DEFAULT_REGION"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
}

const staticCredsFile = `[111111111111]
aws_access_key_id = AKIAACCOUNT1
aws_secret_access_key = secret-account-1

[default]
aws_access_key_id = AKIADEFAULT
aws_secret_access_key = secret-default

[other]
aws_access_key_id = AKIAOTHER
aws_secret_access_key = secret-other
`

func TestProfileNamedAfterAccountThenDefault(t *testing.T) {
	ctx := context.Background()
	awsFiles(t, "[profile 111111111111]\nregion = eu-west-3\n", staticCredsFile)
	t.Setenv("AWS_REGION", "") // the profile's region applies
	log, logs := newLogger()
	p, err := session.NewProfilePerAccount(func(o *session.ProfileOptions) { o.Logger = log })
	if err != nil {
		t.Fatal(err)
	}

	c, err := p.Credentials(ctx, "111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIAACCOUNT1" {
		t.Errorf("account profile: got key %s", c.AccessKeyID)
	}
	cfg, err := session.Config(ctx, p, "111111111111")
	if err != nil || cfg.Region != "eu-west-3" {
		t.Errorf("account profile region %q, %v", cfg.Region, err)
	}
	c, err = p.Credentials(ctx, "222222222222")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIADEFAULT" {
		t.Errorf("fallback: got key %s, want default's", c.AccessKeyID)
	}
	out := logs.String()
	if !strings.Contains(out, "profile=111111111111") || !strings.Contains(out, "account=222222222222 profile=default") {
		t.Errorf("log does not say which profile was used:\n%s", out)
	}
	if strings.Contains(out, "secret-") {
		t.Error("a secret reached the log")
	}
}

func TestProfileAWSProfileFallback(t *testing.T) {
	awsFiles(t, "", staticCredsFile)
	t.Setenv("AWS_PROFILE", "other")
	c, err := newProfiles(t).Credentials(context.Background(), "333333333333")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIAOTHER" {
		t.Errorf("got key %s, want AWS_PROFILE's", c.AccessKeyID)
	}
}

func TestProfileNotFound(t *testing.T) {
	awsFiles(t, "", "[someone]\naws_access_key_id = AKIA1\naws_secret_access_key = s\n")
	_, err := session.Config(context.Background(), newProfiles(t), "444444444444")
	var pnf *session.ProfileNotFoundError
	if !errors.As(err, &pnf) || !errors.Is(err, session.ErrProfileNotFound) {
		t.Fatalf("want *ProfileNotFoundError, got %T %v", err, err)
	}
	if !strings.Contains(err.Error(), `"444444444444" or "default"`) || !strings.Contains(err.Error(), "AWS_PROFILE") {
		t.Errorf("message does not say what to do: %v", err)
	}
	t.Setenv("AWS_PROFILE", "missing")
	if _, err := session.Config(context.Background(), newProfiles(t), "444444444444"); !strings.Contains(err.Error(), `"missing"`) {
		t.Errorf("AWS_PROFILE fallback not named: %v", err)
	}
	if _, err := session.Config(context.Background(), newProfiles(t), "default"); !errors.Is(err, session.ErrInvalidParameter) {
		t.Errorf("non-account ID accepted: %v", err)
	}
}

func TestProfileRoleARNSourceProfile(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	awsFiles(t, `[profile 555555555555]
role_arn = arn:aws:iam::555555555555:role/FromProfile
source_profile = base
role_session_name = profile-session
`, "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = base-secret\n")
	t.Setenv("AWS_ENDPOINT_URL_STS", srv.URL)
	p := newProfiles(t)
	c, err := p.Credentials(ctx, "555555555555")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(c.AccessKeyID, "ASIA") || srv.ChainDepth(c.AccessKeyID) != 1 {
		t.Errorf("got %s (depth %d), want role credentials from the fake STS", c.AccessKeyID, srv.ChainDepth(c.AccessKeyID))
	}
	if n := srv.RoleCalls("arn:aws:iam::555555555555:role/FromProfile"); n != 1 {
		t.Errorf("role assumed %d times, want 1", n)
	}
	cfg, err := session.Config(ctx, p, "555555555555")
	if err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, cfg); got != "arn:aws:sts::555555555555:assumed-role/FromProfile/profile-session" {
		t.Errorf("whoami = %s", got)
	}

	// A CrossAccount on top chains from the profile's role.
	ca, err := session.NewCrossAccount(p, "555555555555", "Spoke", func(o *session.AssumeRoleOptions) { o.Duration = session.MaxDuration })
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ca.Credentials(ctx, "666666666666")
	if err != nil {
		t.Fatalf("chained from a role_arn profile (duration must be clamped): %v", err)
	}
	if srv.ChainDepth(sc.AccessKeyID) != 2 {
		t.Errorf("chain depth %d, want 2", srv.ChainDepth(sc.AccessKeyID))
	}
}

func TestProfileEndpointURLInConfig(t *testing.T) {
	srv := stsfake.NewForTest(t)
	awsFiles(t, "[profile 777777777777]\nendpoint_url = "+srv.URL+"\n",
		"[777777777777]\naws_access_key_id = AKIASEVEN\naws_secret_access_key = seven-secret\n")
	ca, err := session.NewCrossAccount(newProfiles(t), "777777777777", "Ops")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := session.Config(context.Background(), ca, "888888888888")
	if err != nil {
		t.Fatal(err)
	}
	if got := whoami(t, cfg); !strings.HasPrefix(got, "arn:aws:sts::888888888888:assumed-role/Ops/") {
		t.Errorf("whoami = %s", got)
	}
}

func TestProfileCredentialProcess(t *testing.T) {
	dir := awsFiles(t, "", "")
	script := filepath.Join(dir, "creds.sh")
	body := "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": \"AKIAPROCESS\", \"SecretAccessKey\": \"process-secret\", " +
		"\"SessionToken\": \"process-token\", \"Expiration\": \"2099-01-01T00:00:00Z\"}'\n"
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[profile 999999999999]\ncredential_process = " + script + "\n"
	if err := os.WriteFile(os.Getenv("AWS_CONFIG_FILE"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := newProfiles(t).Credentials(context.Background(), "999999999999")
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID != "AKIAPROCESS" || c.SessionToken != "process-token" || !c.CanExpire || c.Expires.Year() != 2099 {
		t.Errorf("credential_process credentials: %s %v %v", c.AccessKeyID, c.CanExpire, c.Expires)
	}
}

func newProfiles(t *testing.T) *session.ProfilePerAccount {
	t.Helper()
	p, err := session.NewProfilePerAccount()
	if err != nil {
		t.Fatal(err)
	}
	return p
}
