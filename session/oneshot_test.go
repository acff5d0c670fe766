package session_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/session"
)

func TestAssumeMakesOneCallEveryTime(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	var sent []url.Values
	next := srv.Handler("AssumeRole")
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		sent = append(sent, form)
		next(w, r, form)
	})
	parent := baseConfig(srv, "us-east-1")
	var keys []string
	for _, user := range []string{"alice", "bob", "alice"} {
		c, err := session.Assume(ctx, parent, role1, session.AssumeRoleParams{
			RoleSessionName: user, SourceIdentity: user, Tags: map[string]string{"user": user},
		})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, c.AccessKeyID)
		if is, ok := srv.Issued(c.AccessKeyID); !ok || is.SessionName != user {
			t.Errorf("credentials for %s were issued to %+v", user, is.SessionName)
		}
	}
	if len(sent) != 3 || keys[0] == keys[2] {
		t.Errorf("3 Assume calls made %d STS calls (keys %v); want 3, nothing cached", len(sent), keys)
	}
	if sent[1].Get("SourceIdentity") != "bob" || sent[1].Get("Tags.member.1.Value") != "bob" {
		t.Errorf("bob's call sent %v", sent[1])
	}
	// Validation before the call.
	if _, err := session.Assume(ctx, parent, role1, session.AssumeRoleParams{RoleSessionName: "has space"}); !errors.Is(err, session.ErrInvalidParameter) {
		t.Errorf("bad session name: %v", err)
	}
	if len(sent) != 3 {
		t.Errorf("a refused parameter reached STS")
	}
}

func TestAssumeRoleWithSAMLOneShot(t *testing.T) {
	e := newSAMLEnv(t)
	ctx := context.Background()
	p, _ := e.provider(t, "alice", "alicepass", "Admin", &syncBuffer{})
	a, err := p.Assertion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	role := a.RolesFor(acctB, "Admin")[0]
	cfg := aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(e.srv.URL)}
	before := e.srv.Calls("AssumeRoleWithSAML")
	for range 2 {
		c, err := session.AssumeRoleWithSAML(ctx, cfg, role, a.Raw, session.SAMLParams{Duration: 2 * time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		if is, ok := e.srv.Issued(c.AccessKeyID); !ok || is.RoleARN != role.RoleARN || is.SessionName != "alice" {
			t.Errorf("issued %+v", is)
		}
		if d := c.Expires.Sub(e.stsTime.Now()); d > time.Hour {
			t.Errorf("lasts %v: the IdP's SessionDuration (1h) was not applied", d)
		}
	}
	if n := e.srv.Calls("AssumeRoleWithSAML") - before; n != 2 {
		t.Errorf("2 one-shot calls made %d STS calls", n)
	}
}

// An STS (a proxy, a test server) that echoes the request must not put the
// call's secrets into rolehop's error.
func TestAssumeRoleErrorRedactsEchoedSecrets(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	echo := func(w http.ResponseWriter, r *http.Request, form url.Values) {
		stsfake.WriteError(w, http.StatusBadRequest, "ValidationError", "bad request: "+form.Encode()+"\x1b]0;pwned\x07\u202e")
	}
	srv.Handle("AssumeRole", echo)
	srv.Handle("AssumeRoleWithSAML", echo)
	const ext = "super-secret-external-id"
	_, err := session.Assume(ctx, baseConfig(srv, "us-east-1"), role1, session.AssumeRoleParams{ExternalID: ext})
	if err == nil || strings.Contains(err.Error(), ext) || strings.Contains(err.Error(), url.QueryEscape(ext)) {
		t.Errorf("ExternalId echoed into the error: %v", err)
	}
	assertion := strings.Repeat("PHNhbWxwOlJlc3BvbnNlPg", 500)
	role := samlRole(acctA, "Admin")
	_, err = session.AssumeRoleWithSAML(ctx, aws.Config{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL)}, role, assertion, session.SAMLParams{})
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if strings.Contains(msg, assertion[:64]) || strings.Contains(msg, url.QueryEscape(assertion[:64])) {
		t.Errorf("the assertion was echoed into the error")
	}
	if len(msg) > 600 || strings.ContainsAny(msg, "\x1b\x07\u202e") {
		t.Errorf("server text not bounded or not cleaned (%d bytes): %q", len(msg), msg)
	}
}

func TestAssumeRoleErrorNamesHTTPStatusOfUnreadableAnswer(t *testing.T) {
	srv := stsfake.NewForTest(t)
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte("<html><body>proxy error</body></html>"))
	})
	_, err := session.Assume(context.Background(), baseConfig(srv, "us-east-1"), role1, session.AssumeRoleParams{})
	if err == nil || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("error does not name the HTTP status: %v", err)
	}
}

func TestDiskCacheSharedByProvidersOfOneScope(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	dir := t.TempDir()
	mk := func(scope string) aws.Config {
		cfg, err := session.RoleConfig(baseConfig(srv, "us-east-1"), role1, func(o *session.AssumeRoleOptions) {
			o.DiskCache, o.DiskCacheScope, o.ExternalID = &credcache.Cache{Dir: dir}, scope, "ext-1"
		})
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	// Two "processes" (two providers) of one scope: one STS call.
	a, err := mk("profile:ci").Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := mk("profile:ci").Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessKeyID != b.AccessKeyID || srv.Calls("AssumeRole") != 1 {
		t.Errorf("second provider made a call: %d calls", srv.Calls("AssumeRole"))
	}
	// Another scope (another parent) never reads that entry.
	c, err := mk("profile:other").Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.AccessKeyID == a.AccessKeyID || srv.Calls("AssumeRole") != 2 {
		t.Errorf("another scope shared the entry")
	}
	// No scope: the parent's access key ID names it.
	d, err := mk("").Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e, err := mk("").Credentials.Retrieve(ctx)
	if err != nil || d.AccessKeyID != e.AccessKeyID || srv.Calls("AssumeRole") != 3 {
		t.Errorf("derived scope: %v, %d calls", err, srv.Calls("AssumeRole"))
	}
	// The entries are 0600 files that hold no ExternalId in their names.
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 3 {
		t.Fatalf("%d cache files, want 3", len(files))
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil || fi.Mode().Perm() != 0o600 || strings.Contains(f, "ext-1") {
			t.Errorf("cache file %s: %v %v", f, fi.Mode(), err)
		}
	}
}

func TestLoadProfileKnowsTheExpiry(t *testing.T) {
	ctx := context.Background()
	awsFiles(t, "", `[written]
aws_access_key_id = ASIAWRITTEN
aws_secret_access_key = written-secret
aws_session_token = written-token
x_security_token_expires = 2031-01-02T03:04:05Z

[static]
aws_access_key_id = AKIASTATIC
aws_secret_access_key = static-secret
`)
	cfg, err := session.LoadProfile(ctx, "written")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil || !c.CanExpire || !c.Expires.Equal(time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Errorf("profile written by login: %v, expires %v %v", err, c.CanExpire, c.Expires)
	}
	cfg, _ = session.LoadProfile(ctx, "static")
	if c, _ := cfg.Credentials.Retrieve(ctx); c.CanExpire {
		t.Errorf("long-term keys got an expiry")
	}
	// Environment credentials with AWS_CREDENTIAL_EXPIRATION.
	t.Setenv("AWS_ACCESS_KEY_ID", "ASIAENV")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_SESSION_TOKEN", "env-token")
	t.Setenv("AWS_CREDENTIAL_EXPIRATION", "2032-05-06T07:08:09Z")
	cfg, err = session.LoadProfile(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := cfg.Credentials.Retrieve(ctx); c.AccessKeyID != "ASIAENV" || c.Expires.Year() != 2032 {
		t.Errorf("environment credentials: %s %v", c.AccessKeyID, c.Expires)
	}
	// A missing profile and no credentials at all.
	if _, err := session.LoadProfile(ctx, "nope"); !errors.Is(err, session.ErrProfileNotFound) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("missing profile: %v", err)
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		t.Setenv(k, "")
	}
	awsFiles(t, "", "")
	if _, err := session.LoadProfile(ctx, ""); !errors.Is(err, session.ErrNoCredentials) {
		t.Errorf("no credentials anywhere: %v", err)
	}
}

func samlRole(account, name string) saml.Role {
	return saml.Role{RoleARN: roleOf(account, name), PrincipalARN: principalOf(account)}
}
