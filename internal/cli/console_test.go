package cli

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

func credEnv(c aws.Credentials) []string {
	env := []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey}
	if c.SessionToken != "" {
		env = append(env, "AWS_SESSION_TOKEN="+c.SessionToken)
	}
	return env
}

// followLogin asks the federation endpoint to redeem the printed login URL
// and returns where it redirects.
func followLogin(t *testing.T, u *url.URL) string {
	t.Helper()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login URL answered %d, want 302", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func TestConsoleChainedSessionClampedAgainstFederationFake(t *testing.T) {
	fed := fedfake.New(t)
	creds := fed.Issue(fedfake.Chained, time.Hour)
	env := testpeer.ProcEnv(t, append(credEnv(creds), "AWS_REGION=us-east-1")...)

	out, errOut, code := runRolehop(t, env, "console", "--print", "--federation-url", fed.URL,
		"--duration", "12h", "--service", "s3", "--region", "eu-west-1")
	if code != 0 {
		t.Fatalf("console: exit %d, stderr %q", code, errOut)
	}
	u := oneURL(t, out)
	fu, _ := url.Parse(fed.URL)
	q := u.Query()
	const dest = "https://console.aws.amazon.com/s3/home?region=eu-west-1"
	if u.Scheme != fu.Scheme || u.Host != fu.Host || u.Path != fu.Path || q.Get("Action") != "login" ||
		q.Get("Destination") != dest || q.Get("SigninToken") == "" {
		t.Fatalf("printed URL %s://%s%s Action=%q Destination=%q SigninToken present %v; want the fake's login URL for %s",
			u.Scheme, u.Host, u.Path, q.Get("Action"), q.Get("Destination"), q.Has("SigninToken"), dest)
	}
	// The token is one the fake issued: redeeming it sends the browser on.
	if loc := followLogin(t, u); loc != dest {
		t.Errorf("login redirected to %q, want %q", loc, dest)
	}
	c := fed.Counts()
	if c.Rejected != 0 || c.GetSigninToken != 1 || c.Login != 1 {
		t.Errorf("fake counts %+v, rejections %q; want one getSigninToken, one login, zero rejections", c, fed.Rejections())
	}
	if !strings.Contains(errOut, "clamped to 1h") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q; want one notice that 12h was clamped to 1h", errOut)
	}
	for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken} {
		if strings.Contains(out+errOut, secret) {
			t.Error("a secret appears in console's output")
		}
	}
}

func TestConsoleFirstHopRoleSessionGets12h(t *testing.T) {
	fed := fedfake.New(t)
	env := testpeer.ProcEnv(t, append(credEnv(fed.Issue(fedfake.Role, time.Hour)), "AWS_REGION=us-east-1")...)
	out, errOut, code := runRolehop(t, env, "console", "--print", "--federation-url", fed.URL, "--duration", "12h", "--session-kind", "role")
	if code != 0 || errOut != "" {
		t.Fatalf("console --session-kind role: exit %d, stderr %q (want no notice)", code, errOut)
	}
	followLogin(t, oneURL(t, out))
	if c := fed.Counts(); c.Rejected != 0 || c.GetSigninToken != 1 {
		t.Errorf("fake counts %+v, rejections %q", c, fed.Rejections())
	}

	// Saying "role" for a chained session is believed, and AWS's 400 for a
	// 12h chained console session comes back as an AWS failure (exit 5).
	env = testpeer.ProcEnv(t, append(credEnv(fed.Issue(fedfake.Chained, time.Hour)), "AWS_REGION=us-east-1")...)
	out, errOut, code = runRolehop(t, env, "console", "--print", "--federation-url", fed.URL, "--duration", "12h", "--session-kind", "role")
	if code != 5 || out != "" || !strings.Contains(errOut, "400") {
		t.Errorf("chained session sent as role: exit %d, stdout %q, stderr %q; want exit 5 with the 400", code, out, errOut)
	}
	if c := fed.Counts(); c.Rejected != 1 {
		t.Errorf("fake rejections %q, want the one for SessionDuration", fed.Rejections())
	}
}

func TestConsoleIAMUserKeysUseGetFederationToken(t *testing.T) {
	fed := fedfake.New(t)
	keys := fed.AddUser("alice")
	env := testpeer.ProcEnv(t, append(credEnv(keys), "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS="+fed.STSURL)...)

	out, errOut, code := runRolehop(t, env, "console", "--print", "--federation-url", fed.URL, "--duration", "2h")
	if code != 0 {
		t.Fatalf("console: exit %d, stderr %q", code, errOut)
	}
	u := oneURL(t, out)
	if d := u.Query().Get("Destination"); d != "https://console.aws.amazon.com/console/home?region=us-east-1" {
		t.Errorf("Destination = %q, want the console home in us-east-1", d)
	}
	followLogin(t, u)
	names, policies := fed.FederationRequests()
	if len(names) != 1 || names[0] != "alice" || len(policies) != 1 || policies[0] == "" {
		t.Errorf("GetFederationToken calls: names %q policies %q; want one for alice with a policy", names, policies)
	}
	if c := fed.Counts(); c.Rejected != 0 || c.GetFederationToken != 1 {
		t.Errorf("fake counts %+v, rejections %q", c, fed.Rejections())
	}
	if !strings.Contains(errOut, "federation token") {
		t.Errorf("stderr = %q; want a notice that GetFederationToken was used", errOut)
	}
	if strings.Contains(out+errOut, keys.SecretAccessKey) {
		t.Error("the secret key appears in console's output")
	}
}

func TestConsoleBadInput(t *testing.T) {
	fed := fedfake.New(t)
	issued := fed.Issue(fedfake.Role, time.Hour)
	// Credentials the fake never issued: the federation endpoint says 400.
	stranger := aws.Credentials{AccessKeyID: "ASIASTRANGER", SecretAccessKey: "stranger-secret-do-not-print", SessionToken: "stranger-token-do-not-print"}
	good := testpeer.ProcEnv(t, append(credEnv(issued), "AWS_REGION=us-east-1")...)
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		want string
		code int
	}{
		{"unknown service", good, []string{"console", "--print", "--service", "nosuch"}, "s3, ec2", 2},
		{"service and destination", good, []string{"console", "--print", "--service", "s3", "--destination", "https://console.aws.amazon.com/"}, "give one", 2},
		{"destination not a console URL", good, []string{"console", "--print", "--federation-url", fed.URL, "--destination", "https://evil.example/"}, "console URL", 2},
		{"duration over 12h", good, []string{"console", "--print", "--duration", "13h"}, "15m to 12h", 2},
		{"duration under 15m", good, []string{"console", "--print", "--duration", "10m"}, "15m to 12h", 2},
		{"unknown profile", good, []string{"console", "nosuch", "--print"}, `"nosuch" not found`, 2},
		{"unknown session kind", good, []string{"console", "--print", "--session-kind", "first"}, "auto, role, chained", 2},
		{"role kind with long-term keys", testpeer.ProcEnv(t, "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=stranger-secret-do-not-print", "AWS_REGION=us-east-1"),
			[]string{"console", "--print", "--session-kind", "role"}, "needs temporary credentials", 2},
		{"no credentials", testpeer.ProcEnv(t), []string{"console", "--print"}, "no AWS credentials found", 2},
		{"profile twice", good, []string{"console", "a", "--profile", "b"}, "profile given twice", 2},
		{"federation endpoint refuses", testpeer.ProcEnv(t, append(credEnv(stranger), "AWS_REGION=us-east-1")...),
			[]string{"console", "--print", "--federation-url", fed.URL}, "400", 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runRolehop(t, tc.env, tc.args...)
			if code != tc.code || out != "" {
				t.Fatalf("exit %d (want %d), stdout %q (want empty), stderr %q", code, tc.code, out, errOut)
			}
			if !strings.HasPrefix(errOut, "rolehop: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr = %q; want one line with %q", errOut, tc.want)
			}
			for _, s := range []string{issued.SecretAccessKey, issued.SessionToken, stranger.SecretAccessKey, stranger.SessionToken} {
				if strings.Contains(errOut, s) {
					t.Error("a secret appears on stderr")
				}
			}
		})
	}
	if c := fed.Counts(); c.GetSigninToken != 0 {
		t.Errorf("bad input reached the federation endpoint: %+v", c)
	}
}

// consoleEnv sets the SDK's environment in-process for runConsole.
func consoleEnv(t *testing.T, creds aws.Credentials) {
	t.Helper()
	for _, kv := range testpeer.ProcEnv(t, append(credEnv(creds), "AWS_REGION=us-east-1", "AWS_SESSION_TOKEN="+creds.SessionToken)...) {
		k, v, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "AWS_") || k == "BROWSER" {
			t.Setenv(k, v)
		}
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_CREDENTIAL_EXPIRATION"} {
		t.Setenv(k, "")
	}
}

func TestConsoleOpensBrowserOnATerminal(t *testing.T) {
	fed := fedfake.New(t)
	consoleEnv(t, fed.Issue(fedfake.Role, time.Hour))
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", filepath.Join(dir, "run"))
	got := filepath.Join(dir, "opened")
	script := filepath.Join(dir, "browser.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nprintf %s \"$1\" > "+got+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BROWSER", "/nonexistent/browser:"+script+" %s")

	ios, _, out, errOut := Test()
	ios.OutTerminal, ios.InTerminal = true, true
	err := runConsole(context.Background(), &ConsoleOptions{F: NewFactory(ios), FederationURL: fed.URL, Service: "ec2"})
	if err != nil {
		t.Fatalf("console: %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("stdout = %q; the URL went to the browser, nothing is printed", out)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatalf("the browser was not started: %v (stderr %q)", err, errOut)
	}
	// The browser's command line (readable by every local user) holds a
	// file:// URL of a 0600 page, never the sign-in token.
	arg := string(b)
	if strings.Contains(arg, "SigninToken") || !strings.HasPrefix(arg, "file://") {
		t.Fatalf("the browser's argument is %q: want a file:// hand-off page, not the sign-in URL", arg)
	}
	fu, _ := url.Parse(arg)
	fi, err := os.Stat(fu.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("hand-off page %s: %v %v", fu.Path, fi, err)
	}
	if di, _ := os.Stat(filepath.Dir(fu.Path)); di.Mode().Perm() != 0o700 {
		t.Errorf("hand-off folder mode %v, want 0700", di.Mode())
	}
	page, _ := os.ReadFile(fu.Path)
	m := regexp.MustCompile(`location\.replace\("([^"]+)"\)`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("the hand-off page does not redirect:\n%s", page)
	}
	target := strings.ReplaceAll(string(m[1]), `\u0026`, "&")
	u, err := url.Parse(target)
	if err != nil || u.Query().Get("Destination") != "https://console.aws.amazon.com/ec2/home?region=us-east-1" {
		t.Fatalf("the page sends the browser to %q", target)
	}
	followLogin(t, u)

	// A failing browser: the URL is printed instead, with a notice.
	t.Setenv("BROWSER", "false")
	ios, _, out, errOut = Test()
	ios.OutTerminal = true
	if err := runConsole(context.Background(), &ConsoleOptions{F: NewFactory(ios), FederationURL: fed.URL}); err != nil {
		t.Fatalf("console: %v", err)
	}
	if u := oneURL(t, out.String()); u.Query().Get("SigninToken") == "" {
		t.Errorf("printed URL has no SigninToken")
	}
	if !strings.Contains(errOut.String(), "cannot open a browser") || strings.Contains(errOut.String(), "SigninToken") {
		t.Errorf("stderr = %q; want a notice without the URL", errOut)
	}
	if c := fed.Counts(); c.Rejected != 0 {
		t.Errorf("rejections: %q", fed.Rejections())
	}
}
