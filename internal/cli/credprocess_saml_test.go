package cli

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// countingIdP is a loopback reverse proxy in front of the real IdP that
// counts the logins: every login (typed or silent through the IdP session)
// starts with a GET of the IdP-initiated sign-on URL.
func countingIdP(t *testing.T, idpBase string) (signOnURL string, logins *atomic.Int64) {
	t.Helper()
	target, err := url.Parse(idpBase)
	if err != nil {
		t.Fatal(err)
	}
	logins = new(atomic.Int64)
	rp := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/SSOService.php") && r.Method == http.MethodGet {
			logins.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + target.Path + "/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices", logins
}

// noTTY runs bin without a controlling terminal (a new session): what a
// credential_process started by a script or a CI job sees.
func noTTY(t *testing.T, env []string, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Env = env
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errOut.String(), code
}

// TestSAMLSourcesOneLogin: 20 credential_process profiles over one login
// (rolehop_login, AssumeRoleWithSAML straight into each role), used by 20
// AWS CLI processes at once on one terminal against MinIO, cost one
// password and one IdP login: the process that logs in prompts on the
// terminal while the others wait on the assertion cache's lock. Later
// logins are silent while the IdP session lasts; without a terminal and
// without an IdP session, one line names the command to run first.
func TestSAMLSourcesOneLogin(t *testing.T) {
	const n = 20
	accounts := make([]string, n/2)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", 410000000001+i)
	}
	p := newLoginPeers(t, accounts, true)
	signOn, logins := countingIdP(t, p.idp.BaseURL)
	idpOrigin := strings.TrimSuffix(p.idp.BaseURL, "/simplesaml")
	lp := newLoginProc(t, p)
	dir := t.TempDir()
	settingsPath := filepath.Join(dir, "rolehop.yaml")
	writeFileT(t, settingsPath, fmt.Sprintf("logins:\n  corp:\n    url: %s\n    username: alice\n    password_origins: [%s]\n", signOn, idpOrigin))
	cacheHome := filepath.Join(dir, "cache")
	env := append(append([]string(nil), lp.env...), "ROLEHOP_CONFIG="+settingsPath, "XDG_CACHE_HOME="+cacheHome)

	fast := fastBinary(t)
	var cfg strings.Builder
	profiles := make([]string, 0, n)
	roleOf := map[string]string{}
	for _, a := range accounts {
		for _, role := range []string{"Admin", "Dev"} {
			name := fmt.Sprintf("acct%s-%s", a[len(a)-2:], role)
			profiles = append(profiles, name)
			roleOf[name] = "arn:aws:iam::" + a + ":role/" + role
			fmt.Fprintf(&cfg, "[profile %s]\ncredential_process = %s --profile %s\nrolehop_login = corp\nrolehop_role_arn = %s\nregion = us-east-1\n\n",
				name, fast, name, roleOf[name])
		}
	}
	writeFileT(t, lp.config, cfg.String())
	root := s3.NewFromConfig(p.minio.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("saml-sources")}); err != nil {
		t.Fatal(err)
	}
	if _, err := root.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String("saml-sources"), Key: aws.String("hello.txt"),
		Body: strings.NewReader("hi")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		awsCLI(t, env) // reports the missing peer
	}

	// No terminal and nothing saved yet: one line naming the command.
	out, stderr, code := noTTY(t, env, fast, "--profile", profiles[0])
	if code != ExitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "rolehop login --login corp") ||
		!strings.Contains(stderr, "no terminal") {
		t.Fatalf("no terminal, no login: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if logins.Load() != 1 || p.sts.Calls("AssumeRoleWithSAML") != 0 {
		t.Errorf("%d logins started, %d AssumeRoleWithSAML: want the one that found no session, none", logins.Load(), p.sts.Calls("AssumeRoleWithSAML"))
	}
	logins.Store(0)

	// 20 AWS CLI processes at once on one terminal.
	work := t.TempDir()
	script := filepath.Join(work, "run.sh")
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	b.WriteString("cd " + work + "\n")
	for i, name := range profiles {
		fmt.Fprintf(&b, "( /usr/bin/aws --endpoint-url %s s3 ls s3://saml-sources --profile %s >out.%d 2>err.%d; echo $? >rc.%d ) &\n",
			p.minio.Endpoint, name, i, i, i)
	}
	b.WriteString("wait\necho ALL-DONE\nsleep 600\n")
	writeFileT(t, script, b.String())
	tm := newTmux(t, script)
	tm.waitFor("the password prompt", contains("Password for alice"))
	tm.tmux("send-keys", "-l", "alicepass")
	tm.tmux("send-keys", "Enter")
	scr := tm.waitFor("all 20 AWS CLI processes", contains("ALL-DONE"))
	if c := strings.Count(scr, "Password for"); c != 1 {
		t.Errorf("%d password prompts on the terminal, want 1:\n%s", c, scr)
	}
	for i, name := range profiles {
		rc, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("rc.%d", i)))
		o, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("out.%d", i)))
		e, _ := os.ReadFile(filepath.Join(work, fmt.Sprintf("err.%d", i)))
		if strings.TrimSpace(string(rc)) != "0" || !strings.Contains(string(o), "hello.txt") {
			t.Errorf("aws s3 ls --profile %s: exit %q, stdout %q, stderr %q", name, rc, o, e)
		}
	}
	if got := logins.Load(); got != 1 {
		t.Errorf("%d IdP logins for 20 profiles, want 1", got)
	}
	if got := p.sts.Calls("AssumeRoleWithSAML"); got != n {
		t.Errorf("%d AssumeRoleWithSAML calls, want %d (one per role)", got, n)
	}
	for _, f := range []string{filepath.Join(cacheHome, "rolehop", "saml", "corp.b64"), filepath.Join(cacheHome, "rolehop", "saml", "corp.cookies")} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v; want a 0600 file", f, fi, err)
		}
	}

	// Straight into each role, the IdP's RoleSessionName as session name;
	// warm calls are the fast program's, with no STS call and no login.
	for _, name := range profiles[:2] {
		out, stderr, code := noTTY(t, env, fast, "--profile", name)
		var doc map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
			t.Fatalf("warm %s: exit %d, %q %q", name, code, out, stderr)
		}
		is, ok := p.sts.Issued(fmt.Sprint(doc["AccessKeyId"]))
		if !ok || is.RoleARN != roleOf[name] || is.SessionName != "alice" || is.Depth != 1 {
			t.Errorf("%s holds %+v; want %s assumed with SAML as alice", name, is, roleOf[name])
		}
	}
	if got := p.sts.Calls("AssumeRoleWithSAML"); got != n || logins.Load() != 1 {
		t.Errorf("warm calls made STS calls (%d) or logins (%d)", got, logins.Load())
	}

	// The next refresh cycle (STS no longer takes the assertion, the role
	// credentials are due): without a terminal the login is silent, through
	// the IdP session saved by the first one.
	credDir := filepath.Join(cacheHome, "rolehop", "creds")
	clear := func() {
		if err := os.Remove(filepath.Join(cacheHome, "rolehop", "saml", "corp.b64")); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(credDir, "*.json"))
		for _, f := range files {
			os.Remove(f)
		}
	}
	clear()
	out, stderr, code = noTTY(t, env, fast, "--profile", profiles[3])
	if code != 0 || !strings.Contains(out, "AccessKeyId") || logins.Load() != 2 {
		t.Errorf("silent login through the IdP session: exit %d, %q %q, %d logins", code, out, stderr, logins.Load())
	}
	// Once the IdP session is gone too, the one line again.
	clear()
	if err := os.Remove(filepath.Join(cacheHome, "rolehop", "saml", "corp.cookies")); err != nil {
		t.Fatal(err)
	}
	out, stderr, code = noTTY(t, env, fast, "--profile", profiles[3])
	if code != ExitUsage || out != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "rolehop login --login corp") {
		t.Errorf("no IdP session, no terminal: exit %d, %q %q", code, out, stderr)
	}
	if strings.Contains(stderr, "alicepass") {
		t.Error("the password reached stderr")
	}

	// `rolehop login --login corp` on a terminal (here: the password on
	// stdin) fills both for every profile of the login: its assertion serves
	// them for its 5 minutes, its IdP session after that.
	cmd := exec.Command(rolehopBinary(t), "login", "--login", "corp", "--password-stdin", "--account", accounts[0], "--role", "Admin", "--profile", "corp-admin")
	cmd.Env, cmd.Stdin = env, strings.NewReader("alicepass\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("rolehop login: %v\n%s", err, out)
	}
	before := logins.Load()
	out, stderr, code = noTTY(t, env, fast, "--profile", profiles[5])
	if code != 0 || !strings.Contains(out, "AccessKeyId") || logins.Load() != before {
		t.Errorf("after rolehop login, no terminal: exit %d, %q %q, logins %d → %d (want the saved assertion)", code, out, stderr, before, logins.Load())
	}
	clear()
	out, stderr, code = noTTY(t, env, fast, "--profile", profiles[5])
	if code != 0 || !strings.Contains(out, "AccessKeyId") || logins.Load() != before+1 {
		t.Errorf("after rolehop login, past the assertion: exit %d, %q %q, logins %d → %d (want one silent login)", code, out, stderr, before, logins.Load())
	}
}
