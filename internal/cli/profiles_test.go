package cli

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// TestEveryCommandTakesEveryProfile: each command that delivers credentials
// works on a profile `rolehop login` wrote (static keys, token and expiry in
// the credentials file) and on a rolehop source, with the same meaning.
func TestEveryCommandTakesEveryProfile(t *testing.T) {
	if _, err := lookPath("curl"); err != nil {
		testpeer.Missing(t, "curl not installed: serve's endpoint is not read back")
	}
	srv := stsfake.NewForTest(t)
	fed := fedfake.New(t)
	written := srv.IssueCredentials("arn:aws:iam::111111111111:role/Written", "alice", time.Hour, 1)
	dir := awsEnv(t, srv, `[profile base]
region = us-east-1

[profile prod]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::222222222222:role/Admin
region = eu-west-1

[profile written]
region = eu-west-2
`, fmt.Sprintf(`[base]
aws_access_key_id = AKIABASEKEY
aws_secret_access_key = base-secret

[written]
aws_access_key_id = %s
aws_secret_access_key = %s
aws_session_token = %s
x_security_token_expires = %s
`, written.AccessKeyID, written.SecretAccessKey, written.SessionToken, written.Expiration.Format(time.RFC3339)))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	t.Setenv("AWS_REGION", "") // each profile's own region applies

	// The source's credentials, fetched once (then from the disk cache).
	out, stderr, err := execute(t, "credential-process", "--profile", "prod")
	if err != nil {
		t.Fatalf("credential-process prod: %v %s", err, stderr)
	}
	var doc struct{ AccessKeyId, SecretAccessKey, SessionToken, Expiration string }
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	exp, _ := time.Parse(time.RFC3339, doc.Expiration)
	fed.Accept(aws.Credentials{AccessKeyID: doc.AccessKeyId, SecretAccessKey: doc.SecretAccessKey, SessionToken: doc.SessionToken, Expires: exp}, fedfake.Role)
	fed.Accept(aws.Credentials{AccessKeyID: written.AccessKeyID, SecretAccessKey: written.SecretAccessKey, SessionToken: written.SessionToken, Expires: written.Expiration}, fedfake.Role)

	for _, p := range []struct {
		name, akid, token, region, expires, role string
	}{
		{"written", written.AccessKeyID, written.SessionToken, "eu-west-2", written.Expiration.Format(time.RFC3339), "Written"},
		{"prod", doc.AccessKeyId, doc.SessionToken, "eu-west-1", doc.Expiration, "Admin"},
	} {
		t.Run(p.name, func(t *testing.T) {
			run := func(args ...string) string {
				t.Helper()
				out, stderr, err := execute(t, args...)
				if err != nil {
					t.Fatalf("%v: %v (stderr %q)", args, err, stderr)
				}
				return out
			}
			// env
			envOut := run("env", p.name, "--format", "json")
			var vars map[string]string
			if err := json.Unmarshal([]byte(envOut), &vars); err != nil {
				t.Fatal(err)
			}
			if vars["AWS_ACCESS_KEY_ID"] != p.akid || vars["AWS_SESSION_TOKEN"] != p.token || vars["AWS_REGION"] != p.region ||
				vars["AWS_CREDENTIAL_EXPIRATION"] != p.expires {
				t.Errorf("env %s: %v", p.name, vars)
			}
			// exec
			if got := run("exec", p.name, "--", "sh", "-c", `printf '%s %s %s' "$AWS_ACCESS_KEY_ID" "$AWS_REGION" "$ROLEHOP_PROFILE"`); got != p.akid+" "+p.region+" "+p.name {
				t.Errorf("exec %s saw %q", p.name, got)
			}
			// serve: the endpoint hands out the same credentials.
			got := run("serve", p.name, "--", "sh", "-c", `curl -s -H "Authorization: $AWS_CONTAINER_AUTHORIZATION_TOKEN" "$AWS_CONTAINER_CREDENTIALS_FULL_URI"; printf ' %s' "$AWS_REGION"`)
			body, region, _ := strings.Cut(got, " ")
			var ecs struct{ AccessKeyId, Token string }
			if err := json.Unmarshal([]byte(body), &ecs); err != nil || ecs.AccessKeyId != p.akid || ecs.Token != p.token || region != p.region {
				t.Errorf("serve %s: %q (%v), region %q", p.name, body, err, region)
			}
			// whoami: STS sees the role.
			if got := run("whoami", p.name); !strings.Contains(got, ":assumed-role/"+p.role+"/") {
				t.Errorf("whoami %s: %s", p.name, got)
			}
			// presign: the URL carries the credentials and their token.
			u, err := url.Parse(strings.TrimSpace(run("presign", p.name, "s3://bucket/key", "--endpoint-url", "http://127.0.0.1:9")))
			if err != nil {
				t.Fatal(err)
			}
			if q := u.Query(); !strings.HasPrefix(q.Get("X-Amz-Credential"), p.akid+"/") || q.Get("X-Amz-Security-Token") != p.token ||
				!strings.Contains(q.Get("X-Amz-Credential"), "/"+p.region+"/s3/") {
				t.Errorf("presign %s: %s", p.name, u.Redacted())
			}
			// console: the federation endpoint takes the credentials.
			before := fed.Counts().GetSigninToken
			if got := run("console", p.name, "--print", "--federation-url", fed.URL); !strings.Contains(got, "SigninToken=") || fed.Counts().GetSigninToken != before+1 {
				t.Errorf("console %s: %q, rejections %v", p.name, got, fed.Rejections())
			}
			// credential-process
			var cp struct{ AccessKeyId, Expiration string }
			if err := json.Unmarshal([]byte(run("credential-process", "--profile", p.name)), &cp); err != nil || cp.AccessKeyId != p.akid || cp.Expiration != p.expires {
				t.Errorf("credential-process %s: %+v %v", p.name, cp, err)
			}
		})
	}
	// AWS_PROFILE names the profile for every command too.
	t.Setenv("AWS_PROFILE", "written")
	if out, _, err := execute(t, "env", "--format", "json"); err != nil || !strings.Contains(out, written.AccessKeyID) {
		t.Errorf("env with AWS_PROFILE: %v %s", err, out)
	}
}
