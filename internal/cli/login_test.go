package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

const (
	acctProd = "111111111111"
	acctDev  = "222222222222"
)

// loginPeers are the real IdP (SimpleSAMLphp) and the test STS trusting it
// for every account, optionally minting real MinIO credentials.
type loginPeers struct {
	idp   *testpeer.SimpleSAML
	sts   *stsfake.Server
	minio *testpeer.MinIO
}

func newLoginPeers(t testing.TB, accounts []string, withMinIO bool, stsOpts ...stsfake.Option) *loginPeers {
	t.Helper()
	p := &loginPeers{idp: testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{Accounts: accounts})}
	if withMinIO {
		p.minio = testpeer.NewMinIO(t)
		stsOpts = append(stsOpts, stsfake.WithMinter(stsfake.NewMinIOMinter(p.minio.Endpoint, p.minio.RootUser, p.minio.RootPassword, p.minio.Region)))
	}
	p.sts = stsfake.NewForTest(t, stsOpts...)
	for _, a := range accounts {
		if err := p.sts.TrustIdP("arn:aws:iam::"+a+":saml-provider/SimpleSAML", p.idp.CertPEM); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// loginProc is a rolehop process environment: its own HOME, AWS files,
// settings and the STS endpoint.
type loginProc struct {
	peers       *loginPeers
	env         []string
	home        string
	credentials string
	config      string
	asNobody    bool // run as user nobody (for permission tests as root)
}

const nobodyID = 65534

// nobodyBinary is a copy of the rolehop binary that user nobody may run.
func nobodyBinary(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "rolehop-nobody-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(rolehopBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "rolehop")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

func newLoginProc(t testing.TB, p *loginPeers, extra ...string) *loginProc {
	t.Helper()
	env := testpeer.ProcEnv(t, append([]string{"AWS_ENDPOINT_URL_STS=" + p.sts.URL, "AWS_REGION=us-east-1"}, extra...)...)
	lp := &loginProc{peers: p, env: env}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME":
			lp.home = v
		case "AWS_SHARED_CREDENTIALS_FILE":
			lp.credentials = v
		case "AWS_CONFIG_FILE":
			lp.config = v
		}
	}
	return lp
}

// run runs rolehop with stdin and returns stdout, stderr and the exit code.
func (lp *loginProc) run(t testing.TB, stdin string, args ...string) (string, string, int) {
	t.Helper()
	bin := rolehopBinary(t)
	if lp.asNobody {
		bin = nobodyBinary(t)
		cmd := exec.Command(bin, args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobodyID, Gid: nobodyID}}
		return lp.runCmd(t, cmd, stdin)
	}
	return lp.runCmd(t, exec.Command(bin, args...), stdin)
}

func (lp *loginProc) runCmd(t testing.TB, cmd *exec.Cmd, stdin string) (string, string, int) {
	t.Helper()
	cmd.Env = lp.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	code := 0
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run rolehop: %v", err)
	}
	return out.String(), errOut.String(), code
}

// loginArgs are the flags of a non-interactive login as alice.
func (lp *loginProc) loginArgs(extra ...string) []string {
	return append([]string{"login", "--idp-url", lp.peers.idp.AWSLoginURL, "--username", "alice", "--password-stdin"}, extra...)
}

func readFileT(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFileT(t testing.TB, p, body string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

var nextRefreshLine = regexp.MustCompile(`^rolehop: next refresh at \d\d:\d\d UTC \(in [0-9hms]+\); Ctrl-C stops$`)

var wroteLine = regexp.MustCompile(`^wrote profile (\S+) \(expires \d\d:\d\d UTC\)$`)

// wroteProfiles returns the profiles named by "wrote profile" lines, and
// fails on any other line.
func wroteProfiles(t testing.TB, stderr string) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if nextRefreshLine.MatchString(line) {
			continue // --keep-fresh says when it refreshes next
		}
		m := wroteLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("stderr line %q: want \"wrote profile NAME (expires HH:MM UTC)\"", line)
			continue
		}
		names = append(names, m[1])
	}
	return names
}

// awsCLI runs Debian's AWS CLI v2 with the process environment.
func awsCLI(t testing.TB, env []string, args ...string) (string, error) {
	t.Helper()
	const bin = "/usr/bin/aws"
	if _, err := os.Stat(bin); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 (%s, Debian package awscli) is not installed", bin)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestLoginEndToEndSimpleSAMLToAWSCLI(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, true)
	lp := newLoginProc(t, p)
	writeFileT(t, lp.credentials, "# my keys\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n")

	stdout, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--account", acctProd, "--role", "Admin", "--profile", "demo",
		"--region", "us-east-1", "--output", "json")...)
	if code != 0 || stdout != "" {
		t.Fatalf("login: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if got := wroteProfiles(t, stderr); len(got) != 1 || got[0] != "demo" {
		t.Errorf("wrote %v, want [demo]", got)
	}
	if strings.Contains(stderr, "alicepass") {
		t.Error("the password appears on stderr")
	}

	creds := readFileT(t, lp.credentials)
	if !strings.HasPrefix(creds, "# my keys\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n") {
		t.Errorf("the other profile changed:\n%s", creds)
	}
	demo, err := awsfile.ReadProfile(lp.credentials, awsfile.Credentials, "demo")
	if err != nil {
		t.Fatal(err)
	}
	exp, err := time.Parse(time.RFC3339, demo[awsfile.KeyExpiration])
	if err != nil || demo[awsfile.KeySessionToken] == "" || time.Until(exp) < 50*time.Minute {
		t.Errorf("demo profile: token set %v, expiry %q (%v); want a token and about an hour", demo[awsfile.KeySessionToken] != "", demo[awsfile.KeyExpiration], err)
	}
	if fi, err := os.Stat(lp.credentials); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode: %v %v", fi.Mode(), err)
	}
	cfg, _ := awsfile.ReadProfile(lp.config, awsfile.Config, "demo")
	if cfg["region"] != "us-east-1" || cfg["output"] != "json" {
		t.Errorf("config profile demo: %v", cfg)
	}

	// The AWS CLI v2 reads the profile and uses it against MinIO's S3.
	out, err := awsCLI(t, lp.env, "configure", "list", "--profile", "demo")
	if err != nil || !strings.Contains(out, "shared-credentials-file") || !strings.Contains(out, demo[awsfile.KeyAccessKeyID][len(demo[awsfile.KeyAccessKeyID])-4:]) {
		t.Errorf("aws configure list: %v\n%s", err, out)
	}
	root := s3.NewFromConfig(p.minio.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("demo-bucket")}); err != nil {
		t.Fatal(err)
	}
	out, err = awsCLI(t, lp.env, "--endpoint-url", p.minio.Endpoint, "s3", "ls", "--profile", "demo")
	if err != nil || !strings.Contains(out, "demo-bucket") {
		t.Errorf("aws s3 ls with the written profile: %v\n%s", err, out)
	}
}

func TestLoginAllWritesEveryRole(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev}, false)
	lp := newLoginProc(t, p)
	accounts := filepath.Join(lp.home, ".config", "rolehop", "accounts.yaml")
	if err := os.MkdirAll(filepath.Dir(accounts), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, accounts, "\""+acctProd+"\": prod\n")
	writeFileT(t, lp.config, "[profile keep]\nregion = eu-west-1\n")

	_, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--all", "--region", "eu-central-1")...)
	if code != 0 {
		t.Fatalf("login --all: code %d, stderr %q", code, stderr)
	}
	want := []string{"prod-Admin", "prod-Dev", acctDev + "-Admin", acctDev + "-Dev"}
	if got := wroteProfiles(t, stderr); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("wrote %v, want %v (sorted by account)", got, want)
	}
	keys := map[string]bool{}
	for _, name := range want {
		c, err := awsfile.ReadProfile(lp.credentials, awsfile.Credentials, name)
		if err != nil || c[awsfile.KeySessionToken] == "" || c[awsfile.KeyExpiration] == "" {
			t.Errorf("profile %s: %v %v", name, c, err)
		}
		keys[c[awsfile.KeyAccessKeyID]] = true
		if is, ok := p.sts.Issued(c[awsfile.KeyAccessKeyID]); !ok || !strings.HasSuffix(is.RoleARN, ":role/"+name[strings.LastIndex(name, "-")+1:]) {
			t.Errorf("profile %s holds credentials of %q", name, is.RoleARN)
		}
		cfg, _ := awsfile.ReadProfile(lp.config, awsfile.Config, name)
		if cfg["region"] != "eu-central-1" {
			t.Errorf("config profile %s: %v", name, cfg)
		}
	}
	if len(keys) != 4 {
		t.Errorf("%d distinct access keys, want 4", len(keys))
	}
	if c := p.sts.Calls("AssumeRoleWithSAML"); c != 4 {
		t.Errorf("%d AssumeRoleWithSAML calls, want 4", c)
	}
	if !strings.HasPrefix(readFileT(t, lp.config), "[profile keep]\nregion = eu-west-1\n") {
		t.Errorf("config file lost its other profile:\n%s", readFileT(t, lp.config))
	}

	// A template naming two roles alike is refused before anything is written.
	before := readFileT(t, lp.credentials)
	_, stderr, code = lp.run(t, "alicepass\n", lp.loginArgs("--all", "--profile-template", "{{.Role}}")...)
	if code != 2 || !strings.Contains(stderr, "--profile-template gives") || readFileT(t, lp.credentials) != before {
		t.Errorf("clashing template: code %d, stderr %q", code, stderr)
	}
}

func TestLoginBadInput(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, false)
	lp := newLoginProc(t, p)
	const credsBody = "# keep me\n[other]\naws_access_key_id = AKIAOTHER\naws_secret_access_key = other-secret\n"
	const cfgBody = "[default]\nregion = eu-west-1\n"
	var asNobody bool
	var nobodyHome string

	for _, tc := range []struct {
		name     string
		stdin    string
		args     []string
		setup    func(t *testing.T) (creds string)
		code     int
		contains string
	}{
		{name: "wrong password", stdin: "wrongpass\n", args: lp.loginArgs("--account", acctProd, "--role", "Admin", "--profile", "x"),
			code: 3, contains: "check the username and password"},
		{name: "unknown account", stdin: "alicepass\n", args: lp.loginArgs("--account", "333333333333", "--profile", "x"),
			code: 4, contains: "account 333333333333 is not granted to this user; granted: 111111111111 Admin, 111111111111 Dev"},
		{name: "role not granted", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd, "--role", "Root"),
			code: 4, contains: "role Root in account 111111111111 is not granted"},
		{name: "ambiguous account", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd),
			code: 2, contains: "account 111111111111 has 2 roles (111111111111 Admin, 111111111111 Dev): pass --role"},
		{name: "no choice without a terminal", stdin: "alicepass\n", args: lp.loginArgs(),
			code: 2, contains: "2 roles granted (111111111111 Admin, 111111111111 Dev): pass --account and --role, or --all"},
		{name: "duration too short", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd, "--role", "Admin", "--duration", "10m"),
			code: 2, contains: "duration 10m0s out of range: use 15m to 12h"},
		{name: "duration too long", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd, "--role", "Admin", "--duration", "43201"),
			code: 2, contains: "out of range"},
		{name: "no password", stdin: "", args: lp.loginArgs("--account", acctProd, "--role", "Admin"),
			code: 2, contains: "stdin held no password"},
		{name: "malformed credentials file", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd, "--role", "Admin", "--profile", "x"),
			setup: func(t *testing.T) string {
				bad := filepath.Join(t.TempDir(), "credentials")
				writeFileT(t, bad, "[ok]\naws_access_key_id = A\nthis line is not ini\n")
				return bad
			}, code: 6, contains: "line 3"},
		{name: "unwritable folder", stdin: "alicepass\n", args: lp.loginArgs("--account", acctProd, "--role", "Admin", "--profile", "x"),
			setup: func(t *testing.T) string {
				// The folder is not writable by the user running rolehop (as
				// root, rolehop runs as nobody); the file itself is.
				dir := t.TempDir()
				f := filepath.Join(dir, "credentials")
				writeFileT(t, f, credsBody)
				if os.Geteuid() == 0 {
					home := t.TempDir()
					for _, p := range []string{f, lp.config, home} {
						if err := os.Chown(p, nobodyID, nobodyID); err != nil {
							t.Fatal(err)
						}
					}
					for _, p := range []string{dir, filepath.Dir(lp.config), filepath.Dir(home), filepath.Dir(dir)} {
						if err := os.Chmod(p, 0o755); err != nil {
							t.Fatal(err)
						}
					}
					asNobody, nobodyHome = true, home
					return f
				}
				if err := os.Chmod(dir, 0o500); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Chmod(dir, 0o700) })
				return f
			}, code: 6, contains: "permission denied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asNobody, nobodyHome = false, ""
			creds := lp.credentials
			if tc.setup != nil {
				creds = tc.setup(t)
			} else {
				writeFileT(t, creds, credsBody)
			}
			writeFileT(t, lp.config, cfgBody)
			before := readFileT(t, creds)
			env := append(append([]string(nil), lp.env...), "AWS_SHARED_CREDENTIALS_FILE="+creds)
			if nobodyHome != "" {
				env = append(env, "HOME="+nobodyHome)
			}
			run := &loginProc{peers: p, env: env, asNobody: asNobody}
			stdout, stderr, code := run.run(t, tc.stdin, tc.args...)
			if code != tc.code || stdout != "" || !strings.HasPrefix(stderr, "rolehop: ") || strings.Count(stderr, "\n") != 1 ||
				!strings.Contains(stderr, tc.contains) {
				t.Errorf("code %d, stdout %q, stderr %q; want code %d and one line containing %q", code, stdout, stderr, tc.code, tc.contains)
			}
			for _, secret := range []string{"alicepass", "wrongpass"} {
				if strings.Contains(stdout+stderr, secret) {
					t.Errorf("the password %q appears in the output", secret)
				}
			}
			if got := readFileT(t, creds); got != before {
				t.Errorf("credentials file changed:\n%s", got)
			}
			if got := readFileT(t, lp.config); got != cfgBody {
				t.Errorf("config file changed:\n%s", got)
			}
		})
	}
}

func TestLoginTwentyProcessesOneCredentialsFile(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd}, false)
	lp := newLoginProc(t, p)
	const pre = "# team credentials\n\n[default]\naws_access_key_id = AKIADEFAULT\naws_secret_access_key = default-secret\n\n; legacy\n[legacy]\naws_access_key_id = AKIALEGACY\naws_secret_access_key = legacy-secret\n"
	writeFileT(t, lp.credentials, pre)

	const n = 20
	var wg sync.WaitGroup
	errs := make([]string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			role := []string{"Admin", "Dev"}[i%2]
			_, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--account", acctProd, "--role", role, "--profile", fmt.Sprintf("p%02d", i))...)
			if code != 0 {
				errs[i] = fmt.Sprintf("process %d: code %d, stderr %q", i, code, stderr)
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			t.Error(e)
		}
	}
	got := readFileT(t, lp.credentials)
	if !strings.HasPrefix(got, pre) {
		t.Errorf("pre-existing content changed:\n%s", got)
	}
	names, err := awsfile.Profiles(lp.credentials, awsfile.Credentials)
	if err != nil || len(names) != n+2 {
		t.Fatalf("profiles %v (%v): want default, legacy and %d more", names, err, n)
	}
	for i := range n {
		c, err := awsfile.ReadProfile(lp.credentials, awsfile.Credentials, fmt.Sprintf("p%02d", i))
		if err != nil || c[awsfile.KeySessionToken] == "" {
			t.Errorf("profile p%02d: %v", i, err)
		}
	}
}

// TestLoginThroughTheBrowser: a login profile with idp: browser (headless)
// signs in to SimpleSAMLphp through the real Chromium, rolehop typing the
// password it read from stdin, and writes the role's profile.
func TestLoginThroughTheBrowser(t *testing.T) {
	chromium := testpeer.Chromium(t)
	p := newLoginPeers(t, []string{acctProd}, false)
	awsEnv(t, p.sts, "", "")
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))
	settingsPath := filepath.Join(dir, "config.yaml")
	writeFileT(t, settingsPath, "logins:\n  corp:\n    idp: browser\n    url: "+p.idp.AWSLoginURL+
		"\n    username: alice\n    browser: {path: "+chromium+", headless: true, timeout: 2m}\n")
	creds := filepath.Join(dir, "credentials")
	ios, in, _, errOut := Test()
	in.WriteString("alicepass\n")
	opts := &LoginOptions{F: &Factory{IO: ios, SettingsPath: settingsPath}, CredentialsFile: creds, ConfigFile: filepath.Join(dir, "config"),
		idpOptions: idpOptions{Login: "corp", PasswordStdin: true}, Account: acctProd, Role: "Admin", Profile: "viabrowser"}
	if err := runLogin(t.Context(), opts); err != nil {
		t.Fatalf("login through the browser: %v (stderr %q)", err, errOut)
	}
	c, err := awsfile.ReadProfile(creds, awsfile.Credentials, "viabrowser")
	if err != nil {
		t.Fatal(err)
	}
	if is, ok := p.sts.Issued(c[awsfile.KeyAccessKeyID]); !ok || is.RoleARN != "arn:aws:iam::"+acctProd+":role/Admin" || is.SessionName != "alice" {
		t.Errorf("written credentials are not alice's Admin role: %+v", is)
	}
	if strings.Contains(errOut.String(), "alicepass") {
		t.Error("the password reached stderr")
	}
}

// TestLoginAllSurvivesARefusedAccount: one account of 25 (2 roles each)
// refuses its role; the other 49 profiles are written, the failure is
// listed, and the exit code says partial success.
func TestLoginAllSurvivesARefusedAccount(t *testing.T) {
	accounts := make([]string, 25)
	for i := range accounts {
		accounts[i] = fmt.Sprintf("%012d", 300000000001+i)
	}
	p := newLoginPeers(t, accounts, false)
	denied := "arn:aws:iam::" + accounts[7] + ":role/Dev"
	p.sts.Deny(denied)
	lp := newLoginProc(t, p)
	_, stderr, code := lp.run(t, "alicepass\n", lp.loginArgs("--all")...)
	if code != ExitPartial {
		t.Fatalf("login --all with one refused role: exit %d, want %d (partial); stderr %q", code, ExitPartial, stderr)
	}
	names, err := awsfile.Profiles(lp.credentials, awsfile.Credentials)
	if err != nil || len(names) != 49 {
		t.Fatalf("%d profiles written, want 49: %v", len(names), err)
	}
	if slices.Contains(names, accounts[7]+"-Dev") {
		t.Errorf("the refused role's profile was written")
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	failures := 0
	for _, l := range lines {
		if strings.Contains(l, denied) && strings.Contains(l, "failed") && strings.Contains(l, "AccessDenied") {
			failures++
		}
	}
	if failures != 1 || !strings.Contains(lines[len(lines)-1], "wrote 49 of 50 profiles; 1 failed") {
		t.Errorf("stderr does not list the failure once and end with the summary:\n%s", stderr)
	}
}
