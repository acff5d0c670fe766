package broker_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/rolehop/rolehop/internal/testpeer"
)

// chromium starts headless Chromium (Debian's package) for the test and
// returns a context on its first tab. Every name but localhost resolves
// to nothing, so the browser never leaves loopback (the console's own
// host included: the test sees the browser ask for it).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path := testpeer.Chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1100, 640),
		chromedp.Flag("ignore-certificate-errors", true), // the broker's test certificate
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"),
		chromedp.Flag("no-proxy-server", true),
	)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// user is one person at one browser profile (cookies of their own).
type user struct {
	t        *testing.T
	ctx      context.Context
	requests <-chan string
}

func newUser(t *testing.T, browser context.Context) *user {
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	reqs := make(chan string, 256)
	events := chromedp.Events(ctx, network.RequestWillBeSent)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			if ev.Type == network.ResourceTypeDocument {
				select {
				case reqs <- ev.Request.URL:
				default:
				}
			}
		}
	}()
	return &user{t: t, ctx: ctx, requests: reqs}
}

func (u *user) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(u.ctx, 45*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(u.ctx, chromedp.Location())
		var seen []string
		for len(u.requests) > 0 {
			seen = append(seen, <-u.requests)
		}
		u.t.Fatalf("%s: %v (at %s; documents asked for: %q)", what, err, loc, seen)
	}
}

func (u *user) text(sel string) string {
	u.t.Helper()
	s, err := chromedp.Run(u.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		u.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func (u *user) screenshot(path string) {
	u.t.Helper()
	b, err := chromedp.Run(u.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		u.t.Fatalf("screenshot: %v", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		u.t.Fatal(err)
	}
	u.t.Logf("screenshot %s", path)
}

// login signs in at the SimpleSAMLphp form the broker sent the browser to.
func (u *user) login(name, password string) {
	u.t.Helper()
	u.do("the IdP's login form",
		chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name="username"]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name="password"]`), password),
		chromedp.Submit(chromedp.CSS(`input[name="password"]`)),
	)
}

// awaitRequest waits until the browser asks for a document whose URL
// starts with prefix.
func (u *user) awaitRequest(prefix string) string {
	u.t.Helper()
	timeout := time.After(45 * time.Second)
	for {
		select {
		case r := <-u.requests:
			if strings.HasPrefix(r, prefix) {
				return r
			}
		case <-timeout:
			u.t.Fatalf("the browser never asked for %s", prefix)
		}
	}
}

// TestBrowserSimpleSAMLphp is the end-to-end test: SimpleSAMLphp
// as the IdP, registered with the broker's own SP metadata; headless
// Chromium as the user; the broker on https://localhost (another site than
// the IdP on 127.0.0.1, so the IdP's POST to the ACS is a real cross-site
// POST). alice (admins) lands on the console through the federation
// endpoint; bob (dev) gets 403 on the admin target and reaches the dev
// target; each index lists its user's targets. Screenshots of the index
// and 403 pages are kept.
func TestBrowserSimpleSAMLphp(t *testing.T) {
	idp := testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{RegisterSPs: true})
	browser := chromium(t)
	h := newHarness(t, harnessOptions{tls: true, host: "localhost",
		idpYAML: "idp:\n  metadata_url: " + idp.MetadataURL + "\n  groups_attribute: groups\n"})
	if err := idp.RegisterSP(h.srv.SPMetadata()); err != nil {
		t.Fatal(err)
	}
	art := testpeer.ArtifactDir(t)

	alice := newUser(t, browser)
	alice.do("open the broker", chromedp.Navigate(h.url+"/"))
	alice.login("alice", "alicepass")
	alice.do("alice's index", chromedp.WaitVisible(chromedp.CSS(`a[href="/prod-admin"]`)))
	alice.screenshot(filepath.Join(art, "broker-index-alice.png"))
	if got := alice.text("main"); !strings.Contains(got, "prod-admin") && !strings.Contains(got, "Admin") || !strings.Contains(got, "Dev") {
		t.Errorf("alice's index:\n%s", got)
	}
	if got := alice.text("header"); !strings.Contains(got, "Signed in as alice") {
		t.Errorf("alice's header: %q", got)
	}
	alice.do("open the admin console", chromedp.Click(chromedp.CSS(`a[href="/prod-admin"]`)))
	fed := alice.awaitRequest(h.fed.URL + "?")
	if q := mustURL(t, fed).Query(); q.Get("Action") != "login" || q.Get("SigninToken") == "" ||
		q.Get("Destination") != "https://console.aws.amazon.com/ec2/home?region=eu-west-1" {
		t.Errorf("the browser went to the federation endpoint with %v", redactToken(q))
	}
	alice.awaitRequest("https://console.aws.amazon.com/ec2/home?region=eu-west-1")
	forms := h.bridge.Forms()
	if len(forms) != 1 || forms[0].Get("RoleArn") != adminRole || forms[0].Get("RoleSessionName") != "alice" || forms[0].Get("SourceIdentity") != "alice" {
		t.Fatalf("AssumeRole calls %v", forms)
	}
	if c := h.fed.Counts(); c.Login != 1 {
		t.Errorf("federation logins %d, want 1", c.Login)
	}

	bob := newUser(t, browser)
	bob.do("bob opens the admin target", chromedp.Navigate(h.url+"/prod-admin"))
	bob.login("bob", "bobpass")
	bob.do("the 403 page", chromedp.WaitVisible(chromedp.CSS(`.notice.error h1`)))
	if got := bob.text("h1"); got != "You don't have access to this console" {
		t.Errorf("bob at prod-admin: %q", got)
	}
	bob.screenshot(filepath.Join(art, "broker-403-bob.png"))
	bob.do("bob's index", chromedp.Navigate(h.url+"/"), chromedp.WaitVisible(chromedp.CSS(`a[href="/prod-dev"]`)))
	if got := bob.text("main"); strings.Contains(got, "Admin") {
		t.Errorf("bob's index lists the admin target:\n%s", got)
	}
	bob.screenshot(filepath.Join(art, "broker-index-bob.png"))
	bob.do("open the dev console", chromedp.Click(chromedp.CSS(`a[href="/prod-dev"]`)))
	bob.awaitRequest("https://console.aws.amazon.com/console/home")
	if forms := h.bridge.Forms(); len(forms) != 2 || forms[1].Get("RoleArn") != devRole || forms[1].Get("RoleSessionName") != "bob" {
		t.Fatalf("AssumeRole calls %v", forms)
	}
	var outcomes []string
	for _, d := range h.auditLines("decision") {
		outcomes = append(outcomes, d["user"].(string)+":"+d["target"].(string)+":"+d["outcome"].(string))
	}
	if got := strings.Join(outcomes, " "); got != "alice:prod-admin:allowed bob:prod-admin:forbidden bob:prod-dev:allowed" {
		t.Errorf("audit decisions: %s", got)
	}
}

func redactToken(q url.Values) url.Values {
	q = maps(q)
	if q.Get("SigninToken") != "" {
		q.Set("SigninToken", "[redacted]")
	}
	return q
}

func maps(q url.Values) url.Values {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	return c
}
