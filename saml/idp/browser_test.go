package idp_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"io"
	stdlog "log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// countingPrompter answers like Fixed and counts the questions.
type countingPrompter struct {
	user, pass string
	asked      atomic.Int32
}

func (p *countingPrompter) Username(context.Context) (string, error) {
	p.asked.Add(1)
	return p.user, nil
}

func (p *countingPrompter) Password(context.Context) (string, error) {
	p.asked.Add(1)
	return p.pass, nil
}

func (p *countingPrompter) OTP(_ context.Context, factor string) (string, error) {
	p.asked.Add(1)
	return "", fmt.Errorf("%w: no code for %s", idp.ErrMFARequired, factor)
}

// browserEnv is a real SimpleSAMLphp, the test STS trusting it, and the
// Chromium to drive.
type browserEnv struct {
	idp    *testpeer.SimpleSAML
	sts    *stsfake.Server
	chrome string
}

func newBrowserEnv(t *testing.T) *browserEnv {
	t.Helper()
	e := &browserEnv{chrome: testpeer.Chromium(t)}
	e.idp = testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{})
	e.sts = stsfake.NewForTest(t)
	if err := e.sts.TrustIdP("arn:aws:iam::111111111111:saml-provider/SimpleSAML", e.idp.CertPEM); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is a Browser for the test IdP with a fresh profile folder.
func (e *browserEnv) browser(t *testing.T, p idp.Prompter) (*idp.Browser, *syncBuffer) {
	log, logs := debugLogger()
	return &idp.Browser{
		Options:      idp.Options{Logger: log},
		URL:          e.idp.AWSLoginURL,
		BrowserPath:  e.chrome,
		ProfileDir:   filepath.Join(t.TempDir(), "profile"),
		Headless:     true,
		Prompter:     p,
		LoginTimeout: 2 * time.Minute,
	}, logs
}

// assumeAdmin runs AssumeRoleWithSAML on the test STS, which checks the
// assertion's signature against the IdP's certificate.
func (e *browserEnv) assumeAdmin(t *testing.T, assertion string) *sts.AssumeRoleWithSAMLOutput {
	t.Helper()
	c := sts.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: aws.AnonymousCredentials{}, BaseEndpoint: aws.String(e.sts.URL)})
	out, err := c.AssumeRoleWithSAML(context.Background(), &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String("arn:aws:iam::111111111111:role/Admin"),
		PrincipalArn:  aws.String("arn:aws:iam::111111111111:saml-provider/SimpleSAML"),
		SAMLAssertion: aws.String(assertion),
	})
	if err != nil {
		t.Fatalf("AssumeRoleWithSAML with the browser's assertion: %v", err)
	}
	cr := out.Credentials
	if cr == nil || aws.ToString(cr.AccessKeyId) == "" || aws.ToString(cr.SecretAccessKey) == "" || aws.ToString(cr.SessionToken) == "" || !cr.Expiration.After(time.Now()) {
		t.Fatalf("AssumeRoleWithSAML returned no usable credentials: %+v", cr)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::111111111111:assumed-role/Admin/alice" {
		t.Errorf("assumed %s, want Admin as alice", got)
	}
	return out
}

// keepScreenshot checks that png is a PNG image and keeps it as an artifact.
func keepScreenshot(t *testing.T, name string, shot []byte) string {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(shot))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 200 {
		t.Errorf("screenshot is only %dx%d", b.Dx(), b.Dy())
	}
	path := filepath.Join(testpeer.ArtifactDir(t), name)
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the IdP page while rolehop waits: %s", path)
	return path
}

// profileProcesses lists the processes still running with dir as their
// browser profile (Linux only; nil elsewhere).
func profileProcesses(dir string) []string {
	if runtime.GOOS != "linux" {
		return nil
	}
	want := []byte("--user-data-dir=" + dir)
	entries, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		// Chrome's helpers rewrite their command line into one
		// space-separated string.
		for arg := range bytes.FieldsFuncSeq(b, func(r rune) bool { return r == 0 || r == ' ' }) {
			if bytes.Equal(arg, want) {
				out = append(out, e.Name())
				break
			}
		}
	}
	return out
}

func assertBrowserGone(t *testing.T, dir string) {
	t.Helper()
	if left := profileProcesses(dir); len(left) > 0 {
		t.Errorf("browser processes still running with the profile after the login: pids %v", left)
	}
}

// TestBrowserHeadlessSimpleSAMLphp: rolehop types alice's password into the
// real IdP's page in a real Chromium; the SAMLResponse the page posts to
// AWS is stopped in the browser and works with AssumeRoleWithSAML.
func TestBrowserHeadlessSimpleSAMLphp(t *testing.T) {
	e := newBrowserEnv(t)
	pr := &countingPrompter{user: "alice", pass: "alicepass"}
	b, logs := e.browser(t, pr)
	var shot []byte
	b.Waiting = func(png []byte) { shot = png }

	got, err := b.Assertion(context.Background())
	if err != nil {
		t.Fatalf("browser login: %v\nlog:\n%s", err, logs)
	}
	r, err := saml.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if r.NameID != "alice" || r.Issuer != e.idp.EntityID {
		t.Errorf("assertion for %q from %q", r.NameID, r.Issuer)
	}
	e.assumeAdmin(t, got)
	if pr.asked.Load() == 0 {
		t.Error("the Prompter was never asked for the password")
	}
	// The IdP's page posted to AWS sign-in and the browser was stopped.
	if !strings.Contains(logs.String(), `stopped a request to AWS sign-in" method=POST host=signin.aws.amazon.com path=/saml saml_response=true`) {
		t.Errorf("log does not show the POST to https://signin.aws.amazon.com/saml being stopped:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "typed the username and password") {
		t.Errorf("log does not show the typing:\n%s", logs)
	}
	assertNoSecret(t, "log", logs.String(), "alicepass", got[:64])
	if shot == nil {
		t.Fatal("Waiting was not called with a screenshot")
	}
	keepScreenshot(t, "browser-headless-login.png", shot)
	assertBrowserGone(t, b.ProfileDir)

	fi, err := os.Stat(b.ProfileDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("profile folder: %v, mode %v; want 0700", err, fi.Mode())
	}
}

// TestBrowserSecondLoginSilent: within the IdP's session a second login,
// with a new browser on the same profile, asks for nothing.
func TestBrowserSecondLoginSilent(t *testing.T) {
	e := newBrowserEnv(t)
	pr := &countingPrompter{user: "alice", pass: "alicepass"}
	b, logs := e.browser(t, pr)
	if _, err := b.Assertion(context.Background()); err != nil {
		t.Fatalf("first login: %v\nlog:\n%s", err, logs)
	}
	cookies := filepath.Join(b.ProfileDir, "rolehop-session-cookies.json")
	if fi, err := os.Stat(cookies); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("saved session cookies: %v (mode %v), want a 0600 file", err, fi)
	}
	first := pr.asked.Load()

	silent := &countingPrompter{}
	b.Prompter = silent
	got, err := b.Assertion(context.Background())
	if err != nil {
		t.Fatalf("second login in the IdP's session: %v\nlog:\n%s", err, logs)
	}
	if n := silent.asked.Load(); n != 0 {
		t.Errorf("second login asked the Prompter %d times, want none", n)
	}
	if strings.Count(logs.String(), "typed the username and password") != 1 {
		t.Errorf("the password was typed again:\n%s", logs)
	}
	e.assumeAdmin(t, got)
	t.Logf("first login asked %d questions, the second none", first)
	assertBrowserGone(t, b.ProfileDir)
}

func TestBrowserWrongPassword(t *testing.T) {
	e := newBrowserEnv(t)
	const bad = "not-alices-password-42"
	b, logs := e.browser(t, idp.Fixed{User: "alice", Pass: bad})
	_, err := b.Assertion(context.Background())
	if !errors.Is(err, idp.ErrAccessDenied) {
		t.Fatalf("err = %v, want ErrAccessDenied\nlog:\n%s", err, logs)
	}
	t.Logf("user sees: %v", err)
	if !strings.Contains(err.Error(), "Incorrect username or password") || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %q does not pass on the IdP's message on one line", err)
	}
	if strings.Contains(logs.String(), "stopped a request to AWS sign-in") {
		t.Errorf("a wrong password reached the AWS sign-in step:\n%s", logs)
	}
	assertNoSecret(t, "error", err.Error(), bad)
	assertNoSecret(t, "log", logs.String(), bad)
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserInteractive: the interactive mode, with the test at the
// keyboard: rolehop opens the IdP's page and waits; the person types into
// the real page; rolehop takes the SAMLResponse on its way to AWS. The page
// never navigates to AWS.
func TestBrowserInteractive(t *testing.T) {
	e := newBrowserEnv(t)
	b, logs := e.browser(t, nil)
	b.Headless = false
	var (
		shot      []byte
		mu        sync.Mutex
		navigated []string
	)
	b.Waiting = func(png []byte) { shot = png }
	idp.SetBrowserDriver(b, func(ctx context.Context) error {
		// Record every page the main frame shows from here on.
		if err := chromedp.Listen(ctx, func(ev any) {
			if ev, ok := ev.(*cdppage.EventFrameNavigated); ok && ev.Frame.ParentID == "" {
				mu.Lock()
				navigated = append(navigated, ev.Frame.URL)
				mu.Unlock()
			}
		}); err != nil {
			return err
		}
		return chromedp.Do(ctx,
			chromedp.WaitVisible(chromedp.CSS("#username")),
			chromedp.SendKeys(chromedp.CSS("#username"), "alice"),
			chromedp.SendKeys(chromedp.CSS("#password"), "alicepass"),
			chromedp.Click(chromedp.CSS("button[type=submit], #submit_button, input[type=submit]")),
		)
	})
	got, err := b.Assertion(context.Background())
	if err != nil {
		t.Fatalf("interactive login: %v\nlog:\n%s", err, logs)
	}
	e.assumeAdmin(t, got)
	if shot == nil {
		t.Fatal("Waiting was not called with a screenshot")
	}
	keepScreenshot(t, "browser-interactive-waiting.png", shot)
	mu.Lock()
	defer mu.Unlock()
	if len(navigated) == 0 {
		t.Error("the page never navigated after the login form was sent")
	}
	for _, u := range navigated {
		if strings.Contains(u, "amazon") || strings.Contains(u, "amazonaws") {
			t.Errorf("the page navigated to %s", u)
		}
	}
	t.Logf("main frame navigated to: %q", navigated)
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserCancel: a cancelled context (Ctrl-C) ends the wait and the
// browser.
func TestBrowserCancel(t *testing.T) {
	e := newBrowserEnv(t)
	b, _ := e.browser(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	idp.SetBrowserDriver(b, func(context.Context) error {
		cancel() // the person presses Ctrl-C instead of signing in
		return nil
	})
	_, err := b.Assertion(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want a cancelled login", err)
	}
	t.Logf("user sees: %v", err)
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserWindowClosed: the person closes the window instead of signing
// in.
func TestBrowserWindowClosed(t *testing.T) {
	e := newBrowserEnv(t)
	b, _ := e.browser(t, nil)
	b.LoginTimeout = 30 * time.Second
	idp.SetBrowserDriver(b, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#username"))); err != nil {
			return err
		}
		_, err := chromedp.CallBrowser(ctx, target.CloseTarget, target.CloseTargetParams{TargetID: chromedp.FromContext(ctx).Target.TargetID})
		return err
	})
	_, err := b.Assertion(context.Background())
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "window was closed before the sign-in finished") {
		t.Fatalf("err = %v, want the window closed", err)
	}
	t.Logf("user sees: %v", err)
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserTimeout: nobody signs in; the time limit closes the browser.
func TestBrowserTimeout(t *testing.T) {
	e := newBrowserEnv(t)
	b, _ := e.browser(t, nil)
	b.LoginTimeout = 3 * time.Second
	idp.SetBrowserDriver(b, func(context.Context) error { return nil })
	_, err := b.Assertion(context.Background())
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no sign-in within 3s") {
		t.Fatalf("err = %v, want the time limit", err)
	}
	t.Logf("user sees: %v", err)
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserTypesOnlyAtTheSignOnOrigin: a sign-on URL that sends the
// browser to a login page on another origin gets no password, unless that
// origin is allowed.
func TestBrowserTypesOnlyAtTheSignOnOrigin(t *testing.T) {
	e := newBrowserEnv(t)
	redirector := httptest.NewServer(http.RedirectHandler(e.idp.AWSLoginURL, http.StatusFound))
	t.Cleanup(redirector.Close)
	pr := &countingPrompter{user: "alice", pass: "alicepass"}
	b, logs := e.browser(t, pr)
	b.URL = redirector.URL + "/sso"
	_, err := b.Assertion(context.Background())
	idpOrigin := strings.TrimSuffix(e.idp.BaseURL, "/simplesaml")
	if err == nil || !strings.Contains(err.Error(), "refusing to type the password into a page at "+idpOrigin) ||
		!strings.Contains(err.Error(), "the sign-on url is at "+redirector.URL) {
		t.Fatalf("err = %v, want a refusal naming %s", err, idpOrigin)
	}
	t.Logf("user sees: %v", err)
	if pr.asked.Load() != 0 {
		t.Error("the password was asked for although it could not be typed")
	}
	assertNoSecret(t, "log", logs.String(), "alicepass")

	b.TypeOrigins = []string{idpOrigin}
	got, err := b.Assertion(context.Background())
	if err != nil {
		t.Fatalf("with the IdP's origin allowed: %v", err)
	}
	e.assumeAdmin(t, got)
}

// TestBrowserInterceptsEveryPartition: whatever AWS sign-in endpoint a page
// posts its SAMLResponse to (partitions, regional endpoints), the request is
// stopped in the browser and the SAMLResponse taken from it.
func TestBrowserInterceptsEveryPartition(t *testing.T) {
	chrome := testpeer.Chromium(t)
	for _, endpoint := range []string{
		"https://signin.aws.amazon.com/saml",
		"https://us-west-2.signin.aws.amazon.com/saml",
		"https://signin.amazonaws.cn/saml",
		"https://cn-north-1.signin.amazonaws.cn/saml",
		"https://signin.amazonaws-us-gov.com/saml",
		"https://signin.aws.amazon.com/saml/acs/SAMLSPD0ABCDEFGHIJ",
	} {
		t.Run(strings.TrimPrefix(endpoint, "https://"), func(t *testing.T) {
			// A page shaped like an IdP's auto-post page (SimpleSAMLphp's
			// post.php), whose target is the endpoint.
			const value = "PHNhbWxwOlJlc3BvbnNlIHRlc3Q9InllcyIvPg=="
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `<!DOCTYPE html><html><body onload="document.forms[0].submit()">
<form method="post" action="%s"><input type="hidden" name="SAMLResponse" value="%s"><input type="hidden" name="RelayState" value=""><noscript><button type="submit">Submit</button></noscript></form></body></html>`, endpoint, value)
			}))
			t.Cleanup(srv.Close)
			log, logs := debugLogger()
			b := &idp.Browser{Options: idp.Options{Logger: log}, URL: srv.URL, BrowserPath: chrome,
				ProfileDir: filepath.Join(t.TempDir(), "p"), Headless: true, LoginTimeout: time.Minute}
			got, err := b.Assertion(context.Background())
			if err != nil {
				t.Fatalf("%v\nlog:\n%s", err, logs)
			}
			if got != value {
				t.Errorf("got %q, want the posted SAMLResponse", got)
			}
		})
	}
}

func TestBrowserNotFound(t *testing.T) {
	b := &idp.Browser{URL: "https://idp.example.com/sso", BrowserPath: "/nonexistent/chromium", ProfileDir: t.TempDir()}
	_, err := b.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoBrowser) || !strings.Contains(err.Error(), `"/nonexistent/chromium"`) {
		t.Errorf("configured path: err = %v", err)
	}
	t.Setenv("PATH", t.TempDir())
	b.BrowserPath = ""
	_, err = b.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoBrowser) || !strings.Contains(err.Error(), "apt-get install chromium") || strings.Contains(err.Error(), "\n") {
		t.Errorf("nothing on PATH: err = %v, want one line naming the package", err)
	}
	t.Logf("user sees: %v", err)
}

func TestBrowserProfileFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("unix permissions")
	}
	// A "browser" that fails at once: the folder is checked before it starts.
	exe, err := exec.LookPath("false")
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o700); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open")
	if err := os.Mkdir(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	for dir, want := range map[string]string{
		link: "is a symbolic link",
		open: "is writable by other users",
	} {
		b := &idp.Browser{URL: "https://idp.example.com/sso", BrowserPath: exe, ProfileDir: dir}
		_, err := b.Assertion(context.Background())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("profile %s: err = %v, want %q", dir, err, want)
		}
	}

	// The default folder: under the user cache folder, named after the login.
	t.Setenv("XDG_CACHE_HOME", filepath.Join(base, "cache"))
	t.Setenv("HOME", base)
	b := &idp.Browser{URL: "https://idp.example.com/sso", BrowserPath: exe, Name: "../etc", Headless: true}
	if _, err := b.Assertion(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot name a profile folder") {
		t.Errorf("bad login name: err = %v", err)
	}
	b.Name = "corp"
	_, err = b.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoBrowser) {
		t.Errorf("a browser that exits at once: err = %v, want ErrNoBrowser", err)
	}
	t.Logf("user sees: %v", err)
	for _, d := range []string{"rolehop", "rolehop/browser", "rolehop/browser/corp"} {
		fi, err := os.Lstat(filepath.Join(base, "cache", d))
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Errorf("default profile folder %s: %v %v, want a 0700 folder", d, err, fi)
		}
	}
}

// TestMain doubles as the helper process of TestBrowserDiesWithRolehop.
func TestMain(m *testing.M) {
	if dir := os.Getenv("ROLEHOP_TEST_BROWSER_HELPER"); dir != "" {
		browserHelper(dir)
		return
	}
	os.Exit(m.Run())
}

// browserHelper is a rolehop that starts the browser, says WAITING and
// waits for a sign-in that never comes (until it is killed).
func browserHelper(dir string) {
	b := &idp.Browser{URL: os.Getenv("ROLEHOP_TEST_BROWSER_URL"), BrowserPath: os.Getenv("ROLEHOP_TEST_BROWSER_PATH"),
		ProfileDir: dir, LoginTimeout: time.Minute}
	idp.SetBrowserDriver(b, func(ctx context.Context) error {
		fmt.Println("WAITING")
		<-ctx.Done()
		return nil
	})
	_, err := b.Assertion(context.Background())
	fmt.Println("helper ended:", err)
	os.Exit(1)
}

// TestBrowserDiesWithRolehop: a rolehop killed with SIGKILL (no chance to
// clean up) leaves no browser process behind.
func TestBrowserDiesWithRolehop(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks /proc")
	}
	chrome := testpeer.Chromium(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!DOCTYPE html><title>Sign in</title><form method="post"><input name="username"><input type="password" name="password"></form>`)
	}))
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "profile")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ROLEHOP_TEST_BROWSER_HELPER="+dir, "ROLEHOP_TEST_BROWSER_URL="+srv.URL, "ROLEHOP_TEST_BROWSER_PATH="+chrome)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waiting := make(chan string, 1)
	go func() {
		buf := make([]byte, 4096)
		var got []byte
		for {
			n, err := out.Read(buf)
			got = append(got, buf[:n]...)
			if bytes.Contains(got, []byte("WAITING")) || err != nil {
				waiting <- string(got)
				return
			}
		}
	}()
	select {
	case s := <-waiting:
		if !strings.Contains(s, "WAITING") {
			t.Fatalf("helper did not start the browser: %q", s)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("helper did not start the browser within 60s")
	}
	before := profileProcesses(dir)
	if len(before) < 2 {
		t.Fatalf("expected the browser and its helpers running with the profile, found pids %v", before)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for {
		left := profileProcesses(dir)
		if len(left) == 0 {
			t.Logf("%d browser processes were running; none is left after rolehop was killed", len(before))
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("browser processes outlived the killed rolehop by 15s: pids %v (of %v)", left, before)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBrowserConcurrentLogins: two logins on one profile at once take turns
// (the profile's lock); the second rides on the first's IdP session.
func TestBrowserConcurrentLogins(t *testing.T) {
	e := newBrowserEnv(t)
	b, logs := e.browser(t, idp.Fixed{User: "alice", Pass: "alicepass"})
	var wg sync.WaitGroup
	var got [2]string
	var errs [2]error
	for i := range 2 {
		wg.Go(func() { got[i], errs[i] = b.Assertion(context.Background()) })
	}
	wg.Wait()
	for i := range 2 {
		if errs[i] != nil {
			t.Fatalf("%v\nlog:\n%s", errs[i], logs)
		}
		e.assumeAdmin(t, got[i])
	}
	if n := strings.Count(logs.String(), "typed the username and password"); n != 1 {
		t.Errorf("the password was typed %d times, want once", n)
	}
	assertBrowserGone(t, b.ProfileDir)
}

// TestBrowserTLS: the browser verifies the IdP's certificate like any
// client of rolehop, unless InsecureSkipVerify (with a warning).
func TestBrowserTLS(t *testing.T) {
	chrome := testpeer.Chromium(t)
	const value = "PHNhbWxwOlJlc3BvbnNlIHRscz0ieWVzIi8+"
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<!DOCTYPE html><body onload="document.forms[0].submit()"><form method="post" action="https://signin.aws.amazon.com/saml"><input type="hidden" name="SAMLResponse" value="%s"></form>`, value)
	}))
	srv.Config.ErrorLog = stdlog.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	log, logs := debugLogger()
	b := &idp.Browser{Options: idp.Options{Logger: log}, URL: srv.URL, BrowserPath: chrome,
		ProfileDir: filepath.Join(t.TempDir(), "p"), Headless: true, LoginTimeout: time.Minute}
	_, err := b.Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "ERR_CERT_AUTHORITY_INVALID") || !strings.Contains(err.Error(), "trust store") {
		t.Fatalf("untrusted certificate: err = %v", err)
	}
	t.Logf("user sees: %v", err)
	b.InsecureSkipVerify = true
	got, err := b.Assertion(context.Background())
	if err != nil || got != value {
		t.Fatalf("InsecureSkipVerify: %q, %v", got, err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "IGNORED") {
		t.Errorf("no warning about the certificate checks being off:\n%s", logs)
	}
}
