package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml/idp"
)

// TestLoginBase: a source whose base is login:corp logs in to SimpleSAMLphp,
// assumes corp's role with SAML (stsfake trusting the IdP) and hops from it.
func TestLoginBase(t *testing.T) {
	sp := testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{})
	srv := stsfake.NewForTest(t)
	if err := srv.TrustIdP("arn:aws:iam::111111111111:saml-provider/SimpleSAML", sp.CertPEM); err != nil {
		t.Fatal(err)
	}
	awsDir := awsEnv(t, srv, `[profile prod]
rolehop_base = login:corp
rolehop_role_arn = arn:aws:iam::222222222222:role/Deploy
region = eu-west-2

[profile nologin]
rolehop_base = login:nosuch
rolehop_role_arn = arn:aws:iam::222222222222:role/Deploy
`, "")
	t.Setenv("XDG_CACHE_HOME", filepath.Join(awsDir, "cache"))
	conf := filepath.Join(awsDir, "rolehop.yaml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `logins:
  corp:
    url: %s
    username: alice
    account: "111111111111"
    role: Admin
`, sp.AWSLoginURL), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROLEHOP_CONFIG", conf)
	logins := 0
	f := NewFactory(nil)
	f.LoginPrompter = func(_ *IOStreams, lp settings.LoginProfile) (idp.Prompter, error) {
		logins++
		return idp.Fixed{User: lp.Username, Pass: "alicepass"}, nil
	}
	execute := func(t *testing.T, args ...string) (string, string, error) {
		ios, _, out, errOut := Test()
		f.IO = ios
		cmd := NewRootCmd(f, "test")
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(t.Context())
		return out.String(), errOut.String(), err
	}

	out, stderr, err := execute(t, "credential-process", "--profile", "prod")
	if err != nil {
		t.Fatalf("credential-process: %v %s", err, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("stdout %q", out)
	}
	is, ok := srv.Issued(fmt.Sprint(doc["AccessKeyId"]))
	if !ok || is.RoleARN != "arn:aws:iam::222222222222:role/Deploy" || is.Depth != 2 {
		t.Errorf("issued %+v: want Deploy assumed with the SAML role's credentials", is)
	}
	if srv.Calls("AssumeRoleWithSAML") != 1 || srv.Calls("AssumeRole") != 1 {
		t.Errorf("calls: %d AssumeRoleWithSAML, %d AssumeRole", srv.Calls("AssumeRoleWithSAML"), srv.Calls("AssumeRole"))
	}
	// Warm: no login, no STS call.
	if _, _, err := execute(t, "credential-process", "--profile", "prod"); err != nil || logins != 1 || srv.Calls("AssumeRole") != 1 {
		t.Errorf("warm call: %v, %d logins, %d AssumeRole", err, logins, srv.Calls("AssumeRole"))
	}

	out, _, err = execute(t, "credential-process", "--profile", "nologin")
	var ee *ExitError
	if out != "" || !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), "nosuch") {
		t.Errorf("unknown login profile: %q %v", out, err)
	}
}
