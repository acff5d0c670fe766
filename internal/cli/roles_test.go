package cli

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/login"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

func TestRolesTableFromALoginProfile(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev}, false)
	awsEnv(t, p.sts, "", "")
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.yaml")
	writeFileT(t, accounts, "\""+acctDev+"\": sandbox\n")
	cfg := filepath.Join(dir, "config.yaml")
	writeFileT(t, cfg, "defaults:\n  sort: role\n  accounts_file: "+accounts+"\nlogins:\n  corp:\n    url: "+p.idp.AWSLoginURL+"\n    username: alice\n")
	t.Setenv("ROLEHOP_CONFIG", cfg)

	ios, in, out, errOut := Test()
	in.WriteString("alicepass\n")
	cmd := NewRootCmd(NewFactory(ios), "test")
	cmd.SetArgs([]string{"roles", "--login", "corp", "--password-stdin"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatalf("roles: %v (stderr %q)", err, errOut)
	}
	want := "ACCOUNT       ALIAS    ROLE   ROLE ARN\n" +
		"111111111111  -        Admin  arn:aws:iam::111111111111:role/Admin\n" +
		"222222222222  sandbox  Admin  arn:aws:iam::222222222222:role/Admin\n" +
		"111111111111  -        Dev    arn:aws:iam::111111111111:role/Dev\n" +
		"222222222222  sandbox  Dev    arn:aws:iam::222222222222:role/Dev\n"
	if out.String() != want {
		t.Errorf("roles --sort role (from settings):\n%s\nwant:\n%s", out, want)
	}
	if errOut.Len() != 0 || strings.Contains(out.String(), "alicepass") {
		t.Errorf("stderr %q", errOut)
	}

	// A flag beats the settings file: --sort account.
	ios, in, out, _ = Test()
	in.WriteString("alicepass\n")
	cmd = NewRootCmd(NewFactory(ios), "test")
	cmd.SetArgs([]string{"roles", "--login", "corp", "--password-stdin", "--sort", "account"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(out.String(), "\n"); len(lines) < 3 || !strings.HasPrefix(lines[2], "111111111111  -        Dev") {
		t.Errorf("roles --sort account:\n%s", out)
	}

	// Filter words and the JSON output.
	ios, in, out, _ = Test()
	in.WriteString("alicepass\n")
	cmd = NewRootCmd(NewFactory(ios), "test")
	cmd.SetArgs([]string{"roles", "--login", "corp", "--password-stdin", "SANDBOX", "dev", "--output", "json"})
	if err := cmd.ExecuteContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]string
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 1 || rows[0]["alias"] != "sandbox" ||
		rows[0]["role_arn"] != "arn:aws:iam::222222222222:role/Dev" || rows[0]["principal_arn"] == "" {
		t.Errorf("roles sandbox dev --output json: %s (%v)", out, err)
	}
	ios, in, _, _ = Test()
	in.WriteString("alicepass\n")
	cmd = NewRootCmd(NewFactory(ios), "test")
	cmd.SetArgs([]string{"roles", "--login", "corp", "--password-stdin", "nomatch"})
	if err := cmd.ExecuteContext(t.Context()); ExitCode(err) != ExitRoleNotFound || !strings.Contains(err.Error(), "4 roles are granted") {
		t.Errorf("a filter matching nothing: %v", err)
	}

	// bob gets only Dev; carol no role at all (exit 4).
	ios, in, _, _ = Test()
	in.WriteString("carolpass\n")
	cmd = NewRootCmd(NewFactory(ios), "test")
	cmd.SetArgs([]string{"roles", "--login", "corp", "--username", "carol", "--password-stdin"})
	if err := cmd.ExecuteContext(t.Context()); ExitCode(err) != ExitRoleNotFound {
		t.Errorf("carol: %v (code %d), want exit 4", err, ExitCode(err))
	}
}

func TestLoginKeepFreshRefreshesBeforeExpiry(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, false)
	awsEnv(t, p.sts, "", "")
	dir := t.TempDir()
	credsPath := filepath.Join(dir, "credentials")

	clock := &fakeClock{t: time.Now()}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ios, in, out, errOut := Test()
	in.WriteString("alicepass\n")
	var keys []string
	var expiries []time.Time
	ios.ErrOut = writerFunc(func(b []byte) (int, error) {
		c, err := awsfile.ReadProfile(credsPath, awsfile.Credentials, "kf")
		if err == nil && strings.HasPrefix(string(b), "wrote profile") {
			keys = append(keys, c[awsfile.KeyAccessKeyID])
			e, _ := time.Parse(time.RFC3339, c[awsfile.KeyExpiration])
			expiries = append(expiries, e)
		}
		return errOut.Write(b)
	})
	getenv := func(string) string { return "" }
	opts := &LoginOptions{
		F:               &Factory{IO: ios, SettingsPath: filepath.Join(dir, "none.yaml"), Getenv: getenv, Now: clock.Now},
		CredentialsFile: credsPath, ConfigFile: filepath.Join(dir, "config"),
		NewSession: func(ctx context.Context, lp settings.LoginProfile, pr idp.Prompter, log *slog.Logger) (samlSession, error) {
			return login.NewSAML(lp, pr, log, getenv, func(o *session.SAMLOptions) { o.Now = clock.Now })
		},
		After: func(d time.Duration) <-chan time.Time {
			clock.mu.Lock()
			defer clock.mu.Unlock()
			clock.waits = append(clock.waits, d)
			if len(clock.waits) > 2 {
				cancel() // Ctrl-C after two refreshes
				return nil
			}
			clock.t = clock.t.Add(d)
			ch := make(chan time.Time, 1)
			ch <- clock.t
			return ch
		},
		idpOptions: idpOptions{IdPURL: p.idp.AWSLoginURL, Username: "alice", PasswordStdin: true},
		Account:    acctProd, Role: "Admin", Profile: "kf", KeepFresh: true,
	}
	if err := runLogin(ctx, opts); err != nil {
		t.Fatalf("keep-fresh: %v (Ctrl-C must exit 0); stderr %q", err, errOut)
	}
	if out.Len() != 0 {
		t.Errorf("stdout %q", out)
	}
	if got := wroteProfiles(t, errOut.String()); len(got) != 3 {
		t.Fatalf("wrote %v, want the first write and two refreshes", got)
	}
	// Each refresh happens before the credentials it replaces expire, and
	// writes new ones.
	if len(keys) != 3 || keys[0] == keys[1] || keys[1] == keys[2] {
		t.Errorf("access keys written %v: want a new one on every refresh", keys)
	}
	start := expiries[0].Add(-time.Hour)
	if clock.waits[0] <= 0 || !start.Add(clock.waits[0]).Before(expiries[0]) {
		t.Errorf("first refresh after %v, credentials expire at %v (issued ~%v)", clock.waits[0], expiries[0], start)
	}
	if c := p.sts.Calls("AssumeRoleWithSAML"); c != 3 {
		t.Errorf("%d AssumeRoleWithSAML calls, want 3", c)
	}
}

func TestLoginCacheSAMLReusesTheAssertion(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, false)
	lp := newLoginProc(t, p)
	lp.env = append(lp.env, "XDG_CACHE_HOME="+filepath.Join(lp.home, ".cache"))
	_, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--account", acctProd, "--role", "Admin", "--profile", "a", "--cache-saml")...)
	if code != 0 {
		t.Fatalf("first login: %d %q", code, stderr)
	}
	cache := filepath.Join(lp.home, ".cache", "rolehop", "saml", "default.b64")
	fi, err := os.Stat(cache)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("assertion cache %s: %v %v", cache, fi, err)
	}
	if dfi, _ := os.Stat(filepath.Dir(cache)); dfi.Mode().Perm() != 0o700 {
		t.Errorf("cache folder mode %v", dfi.Mode())
	}
	// Second run: no password at all on stdin; the saved assertion serves.
	_, stderr, code = lp.run(t, "", lp.loginArgs("--account", acctProd, "--role", "Dev", "--profile", "b", "--cache-saml")...)
	if code != 0 || len(wroteProfiles(t, stderr)) != 1 {
		t.Fatalf("second login with the cached assertion: %d %q", code, stderr)
	}
	// Without --cache-saml the password is needed again.
	_, stderr, code = lp.run(t, "", lp.loginArgs("--account", acctProd, "--role", "Dev", "--profile", "b")...)
	if code != 2 || !strings.Contains(stderr, "stdin held no password") {
		t.Errorf("without --cache-saml: %d %q", code, stderr)
	}
}

func TestLoginDebugLogHoldsNoSecretAndFlagsBeatEnvironment(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, false)
	lp := newLoginProc(t, p, "ROLEHOP_ROLE=Dev", "ROLEHOP_ACCOUNT="+acctProd, "ROLEHOP_PROFILE=from-env")
	stdout, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--debug", "--role", "Admin")...)
	if code != 0 || stdout != "" {
		t.Fatalf("login --debug: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	c, err := awsfile.ReadProfile(lp.credentials, awsfile.Credentials, "from-env")
	if err != nil {
		t.Fatalf("profile from ROLEHOP_PROFILE: %v", err)
	}
	if is, _ := p.sts.Issued(c[awsfile.KeyAccessKeyID]); is.RoleARN != "arn:aws:iam::111111111111:role/Admin" {
		t.Errorf("role %q: --role must beat ROLEHOP_ROLE", is.RoleARN)
	}
	if !strings.Contains(stderr, "level=DEBUG") {
		t.Errorf("no debug log on stderr: %q", stderr)
	}
	assertion, err := p.idp.LoginAWS(t.Context(), "alice", "alicepass")
	if err != nil {
		t.Fatal(err)
	}
	for what, secret := range map[string]string{
		"password": "alicepass", "secret key": c[awsfile.KeySecretAccessKey], "session token": c[awsfile.KeySessionToken],
		"assertion": assertion[:40],
	} {
		if strings.Contains(stderr, secret) {
			t.Errorf("the %s appears in the debug log", what)
		}
	}
}

func TestLoginHasNoPasswordFlag(t *testing.T) {
	for _, cmd := range []string{"login", "roles"} {
		_, _, err := execute(t, cmd, "--password", "hunter2")
		if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "unknown flag: --password") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s --password: %v", cmd, err)
		}
	}
}
