package cli

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strings"
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
}

func newLoginProc(t testing.TB, p *loginPeers, extra ...string) *loginProc {
	t.Helper()
	env := procEnv(t, append([]string{"AWS_ENDPOINT_URL_STS=" + p.sts.URL, "AWS_REGION=us-east-1"}, extra...)...)
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
	cmd := exec.Command(rolehopBinary(t), args...)
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

var wroteLine = regexp.MustCompile(`^wrote profile (\S+) \(expires \d\d:\d\d UTC\)$`)

// wroteProfiles returns the profiles named by "wrote profile" lines, and
// fails on any other line.
func wroteProfiles(t testing.TB, stderr string) []string {
	t.Helper()
	var names []string
	for _, line := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
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
