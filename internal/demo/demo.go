// Command demo runs rolehop end to end on this machine, without an AWS
// account: it starts a real SAML IdP (SimpleSAMLphp), a real STS and S3
// (MinIO) behind rolehop's test STS (which plays AssumeRoleWithSAML and checks
// the assertion's signature), logs in with `rolehop login` as the demo user,
// and lists S3 with the AWS CLI v2 using the profile rolehop wrote. `make demo`
// runs it; every step prints what it did.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// Demo accounts: the IdP grants roles in both, and accounts.yaml names them.
var demoAccounts = []string{"111111111111", "222222222222"}

// config is what the demo needs from its caller.
type config struct {
	Rolehop string // path to the rolehop binary
	AWS     string // path to the AWS CLI v2 (Debian's /usr/bin/aws)
	Dir     string // work folder: peers' data, AWS files, settings
	Out     io.Writer
	// Hold, when set, is called with the environment a user can copy to try
	// more commands while the peers still run.
	Hold func(env []string)
}

type demo struct {
	config
	step int
	env  []string // the environment rolehop and the AWS CLI run with
}

func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.Out, "\n== %d. %s\n", d.step, fmt.Sprintf(format, args...))
}

func (d *demo) note(format string, args ...any) {
	fmt.Fprintf(d.Out, "   %s\n", fmt.Sprintf(format, args...))
}

// run is the whole demo. It returns the first step that failed.
func run(ctx context.Context, c config) error {
	d := &demo{config: c}
	if _, err := os.Stat(d.AWS); err != nil {
		return fmt.Errorf("the AWS CLI v2 is needed at %s: run `make peers`", d.AWS)
	}

	d.say("Start the IdP: SimpleSAMLphp on loopback (test users alice and bob)")
	idpDir := filepath.Join(d.Dir, "idp")
	idp, err := testpeer.StartSimpleSAML(ctx, idpDir, testpeer.SimpleSAMLOptions{Accounts: demoAccounts})
	if err != nil {
		return fmt.Errorf("start SimpleSAMLphp: %w", err)
	}
	defer func() { _ = idp.Stop() }()
	d.note("IdP metadata: %s", idp.MetadataURL)

	d.say("Start STS and S3: MinIO on loopback")
	minio, err := testpeer.StartMinIO(ctx, filepath.Join(d.Dir, "minio"))
	if err != nil {
		return fmt.Errorf("start MinIO: %w", err)
	}
	defer func() { _ = minio.Stop() }()
	d.note("MinIO: %s", minio.Endpoint)

	d.say("Start the test STS: AssumeRoleWithSAML checks the IdP's signature, then mints MinIO credentials")
	sts := stsfake.New(stsfake.WithMinter(stsfake.NewMinIOMinter(minio.Endpoint, minio.RootUser, minio.RootPassword, minio.Region)))
	defer sts.Close()
	for _, acct := range demoAccounts {
		principal := "arn:aws:iam::" + acct + ":saml-provider/SimpleSAML"
		if err := sts.TrustIdP(principal, idp.CertPEM); err != nil {
			return fmt.Errorf("trust the IdP as %s: %w", principal, err)
		}
		d.note("trusts the IdP as %s", principal)
	}
	d.note("STS: %s", sts.URL)

	d.say("Start the console federation endpoint (getSigninToken): it takes the test STS's sessions")
	fed := fedfake.Start()
	defer fed.Close()
	fed.SetVerifier(func(akid, secret, token string) (time.Time, bool) {
		is, ok := sts.Issued(akid)
		return is.Expiration, ok && is.SecretAccessKey == secret && is.SessionToken == token && time.Now().Before(is.Expiration)
	})
	d.note("federation endpoint: %s", fed.URL)

	if err := d.writeFiles(idp.AWSLoginURL, sts.URL); err != nil {
		return err
	}
	d.env = append(d.env, "ROLEHOP_FEDERATION_URL="+fed.URL)

	d.say("rolehop roles: what alice may assume (one IdP login)")
	if err := d.rolehop("alicepass\n", "roles", "--login", "demo", "--password-stdin"); err != nil {
		return err
	}

	d.say("rolehop login: alice logs in and picks account sandbox, role Admin, written to profile demo")
	if err := d.rolehop("alicepass\n", "login", "--login", "demo", "--password-stdin"); err != nil {
		return err
	}
	if err := d.showCredentials(); err != nil {
		return err
	}

	d.say("A wrong password is refused with its own exit code, and the credentials file is untouched")
	before, _ := os.ReadFile(filepath.Join(d.Dir, "aws", "credentials"))
	err = d.rolehop("wrong-password\n", "login", "--login", "demo", "--password-stdin", "--profile", "other")
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		return fmt.Errorf("a wrong password should fail with an exit code, got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(d.Dir, "aws", "credentials"))
	if !bytes.Equal(before, after) {
		return errors.New("a failed login changed the credentials file")
	}
	d.note("exit code %d; credentials file unchanged", exit.ExitCode())

	d.say("The AWS CLI v2 reads the profile")
	if err := d.aws("configure", "list", "--profile", "demo"); err != nil {
		return err
	}

	d.say("The AWS CLI v2 uses it against MinIO's S3: make a bucket, upload, list")
	s3 := []string{"--endpoint-url", minio.Endpoint, "--profile", "demo", "s3"}
	if err := d.aws(append(s3, "mb", "s3://rolehop-demo")...); err != nil {
		return err
	}
	file := filepath.Join(d.Dir, "hello.txt")
	if err := os.WriteFile(file, []byte("hello from rolehop\n"), 0o600); err != nil {
		return err
	}
	if err := d.aws(append(s3, "cp", "--no-progress", file, "s3://rolehop-demo/hello.txt")...); err != nil {
		return err
	}
	if err := d.aws(append(s3, "ls", "s3://rolehop-demo/")...); err != nil {
		return err
	}

	d.say("rolehop console: a console sign-in URL for the profile, through the federation endpoint")
	if err := d.rolehopQuiet("console", "demo", "--print"); err != nil {
		return err
	}

	d.say("Done: IdP login -> signed SAML assertion -> STS credentials -> profile -> AWS CLI call, all on loopback")
	if d.Hold != nil {
		d.Hold(append(d.env, "MINIO_ENDPOINT="+minio.Endpoint))
	}
	return nil
}

// writeFiles writes rolehop's settings (a login profile for the local IdP),
// accounts.yaml with aliases, and empty AWS files, and sets the environment.
func (d *demo) writeFiles(idpURL, stsURL string) error {
	d.say("Write rolehop's settings: a login profile \"demo\" and account aliases")
	dir := filepath.Join(d.Dir, "rolehop")
	awsDir := filepath.Join(d.Dir, "aws")
	for _, p := range []string{dir, awsDir} {
		if err := os.MkdirAll(p, 0o700); err != nil {
			return err
		}
	}
	accounts := "\"111111111111\": sandbox\n\"222222222222\": production\n"
	settings := fmt.Sprintf(`defaults:
  region: us-east-1
  accounts_file: %s
logins:
  demo:
    idp: form
    url: %s
    username: alice
    account: "111111111111"
    role: Admin
    duration: 1h
    profile: demo
`, filepath.Join(dir, "accounts.yaml"), idpURL)
	files := map[string]string{
		filepath.Join(dir, "accounts.yaml"):  accounts,
		filepath.Join(dir, "config.yaml"):    settings,
		filepath.Join(awsDir, "config"):      "",
		filepath.Join(awsDir, "credentials"): "# written by rolehop's demo; comments and other profiles are kept\n[keep-me]\naws_access_key_id = AKIAEXAMPLEKEEPME\naws_secret_access_key = not-a-real-secret\n",
	}
	for p, body := range files {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			return err
		}
	}
	d.note("%s:", filepath.Join(dir, "config.yaml"))
	for _, line := range strings.Split(strings.TrimRight(settings, "\n"), "\n") {
		d.note("  %s", line)
	}

	d.env = append(cleanEnv(),
		"ROLEHOP_CONFIG="+filepath.Join(dir, "config.yaml"),
		"XDG_CACHE_HOME="+filepath.Join(d.Dir, "cache"),
		"AWS_CONFIG_FILE="+filepath.Join(awsDir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(awsDir, "credentials"),
		"AWS_ENDPOINT_URL_STS="+stsURL,
		"AWS_EC2_METADATA_DISABLED=true",
		// Prove nothing leaves loopback: any other destination hits a dead proxy.
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	)
	return nil
}

// cleanEnv is the caller's environment without AWS or rolehop settings, so
// the demo never touches the user's real profiles or credentials.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if strings.HasPrefix(upper, "AWS_") || strings.HasPrefix(upper, "ROLEHOP_") ||
			strings.HasSuffix(upper, "_PROXY") || upper == "XDG_CONFIG_HOME" {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (d *demo) rolehop(stdin string, args ...string) error {
	return d.command(stdin, d.Rolehop, args...)
}

// rolehopQuiet runs rolehop without echoing its output (a bearer URL), only
// saying that it worked.
func (d *demo) rolehopQuiet(args ...string) error {
	fmt.Fprintf(d.Out, "   $ %s %s\n", filepath.Base(d.Rolehop), strings.Join(args, " "))
	cmd := exec.Command(d.Rolehop, args...)
	cmd.Env = d.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("rolehop %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errOut.String()))
	}
	u, err := url.Parse(strings.TrimSpace(out.String()))
	if err != nil || u.Query().Get("SigninToken") == "" {
		return fmt.Errorf("rolehop %s printed no sign-in URL", strings.Join(args, " "))
	}
	d.note("a sign-in URL for %s://%s%s (a 15-minute bearer token: not shown)", u.Scheme, u.Host, u.Path)
	return nil
}

func (d *demo) aws(args ...string) error {
	return d.command("", d.AWS, args...)
}

// command runs name with the demo environment, echoing the command line and
// indenting its output.
func (d *demo) command(stdin, name string, args ...string) error {
	fmt.Fprintf(d.Out, "   $ %s %s\n", filepath.Base(name), strings.Join(args, " "))
	cmd := exec.Command(name, args...)
	cmd.Env = d.env
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		fmt.Fprintf(d.Out, "     %s\n", sc.Text())
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", filepath.Base(name), strings.Join(args, " "), err)
	}
	return nil
}

var secretLine = regexp.MustCompile(`^(\s*(aws_secret_access_key|aws_session_token)\s*=\s*)(.*)$`)

// showCredentials prints the credentials file with secrets masked.
func (d *demo) showCredentials() error {
	path := filepath.Join(d.Dir, "aws", "credentials")
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	d.note("%s (mode %v; secrets masked here):", path, info.Mode().Perm())
	for _, line := range strings.Split(strings.TrimRight(string(body), "\n"), "\n") {
		if m := secretLine.FindStringSubmatch(line); m != nil {
			line = m[1] + mask(m[3])
		}
		d.note("  %s", line)
	}
	return nil
}

func mask(s string) string {
	if len(s) <= 4 {
		return "****"
	}
	return "****" + s[len(s)-4:] + fmt.Sprintf(" (%d chars)", len(s))
}

// deadline bounds the whole demo so a stuck peer never hangs it.
const deadline = 5 * time.Minute
