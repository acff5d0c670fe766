package idp

import (
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

func mustPage(t testing.TB, src, pageURL string) *page {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	return parsePage(doc, u, 200)
}

// TestFormValues: what a browser would submit.
func TestFormValues(t *testing.T) {
	p := mustPage(t, `<title> Log
 in </title><form action="?" method="post">
<input type="hidden" name="AuthState" value="_abc&amp;def&#x3a;1">
<input type="hidden" value="nameless">
<input name="typeless" value="t">
<input type="checkbox" name="remember" checked><input type="checkbox" name="off" value="x">
<input type="radio" name="r" value="a"><input type="radio" name="r" value="b" checked>
<select name="lang"><option value="en">English</option><option selected>Deutsch</option></select>
<select name="first"><option value="1">one</option><option value="2">two</option></select>
<textarea name="note">hi &amp; bye</textarea>
<input type="file" name="upload"><input type="reset" name="rs" value="r"><input type="button" name="bt" value="b">
<button name="go" value="1">Go</button><input type="submit" name="other" value="2">
</form>`, "https://idp.example/module.php/core/loginuserpass.php?AuthState=x")
	if len(p.forms) != 1 || p.title != "Log in" {
		t.Fatalf("forms %d title %q", len(p.forms), p.title)
	}
	got := p.forms[0].values()
	want := url.Values{
		"AuthState": {"_abc&def:1"}, "typeless": {"t"}, "remember": {"on"}, "r": {"b"},
		"lang": {"Deutsch"}, "first": {"1"}, "note": {"hi & bye"}, "go": {"1"},
	}
	if got.Encode() != want.Encode() {
		t.Errorf("values\n got %v\nwant %v", got, want)
	}
}

func TestFormActionResolution(t *testing.T) {
	const base = "https://idp.example/a/login.php?AuthState=x#frag"
	for action, want := range map[string]string{
		"?":                      "https://idp.example/a/login.php?",
		"":                       "https://idp.example/a/login.php?AuthState=x",
		"next.php?x=1&amp;y=2":   "https://idp.example/a/next.php?x=1&y=2",
		"/b/post":                "https://idp.example/b/post",
		"https://other.example/": "https://other.example/",
	} {
		p := mustPage(t, `<form action="`+action+`" method="post"><input type="password" name="p"></form>`, base)
		target, err := actionURL(p, p.forms[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := target.String(); got != want {
			t.Errorf("action %q resolved to %s, want %s", action, got, want)
		}
	}
}

func TestErrorTextNeverHoldsThePassword(t *testing.T) {
	p := mustPage(t, `<div class="alert alert-error">Wrong password hunter2 for alice</div>`, "https://x/")
	if got := p.errorText("hunter2"); strings.Contains(got, "hunter2") || !strings.Contains(got, "Wrong password") {
		t.Errorf("errorText = %q", got)
	}
}

func TestErrorTextPrefersTheHeadline(t *testing.T) {
	// SimpleSAMLphp 1.19's loginuserpass.tpl.php: an error icon, a generic
	// heading, the reason in <strong>, then a paragraph of explanation.
	p := mustPage(t, `<div style="background:#f5f5f5">
<img src="/x/gtk-dialog-error.48x48.png" class="float-l erroricon" alt=""/>
<h2>Error</h2>
<p><strong>Incorrect username or password</strong></p>
<p>Either no user with the given username could be found, or the password you gave was wrong.</p>
</div>`, "https://x/")
	if got := p.errorText(); got != "Incorrect username or password" {
		t.Errorf("errorText = %q, want just the reason", got)
	}
	// Without a <strong>, the whole box is the message.
	p = mustPage(t, `<span id="errorText">Incorrect user ID or password.</span>`, "https://x/")
	if got := p.errorText(); got != "Incorrect user ID or password." {
		t.Errorf("errorText = %q", got)
	}
}

// FuzzParsePage: IdP pages are untrusted input; reading them never panics.
func FuzzParsePage(f *testing.F) {
	f.Add(`<form action="?" method="post"><input type="hidden" name="AuthState" value="a&amp;b"><input name="username"><input type="password" name="password"></form>`)
	f.Add(`<form><select name="s"><option selected>x</select><textarea name=t>y</textarea><label for=o>Code</label><input id=o name=otp></form>`)
	f.Add(`<div class="error"><img src=x></div><form action="https://signin.aws.amazon.com/saml"><input type=hidden name=SAMLResponse value=PHg+></form>`)
	f.Fuzz(func(t *testing.T, src string) {
		doc, err := html.Parse(strings.NewReader(src))
		if err != nil {
			return
		}
		u, _ := url.Parse("https://idp.example/sso")
		p := parsePage(doc, u, 200)
		_ = p.describe()
		_ = p.errorText("pw")
		fl := &flow{}
		for _, form := range p.forms {
			_ = form.values()
			_ = fl.userInput(form)
			_ = fl.passInput(form)
		}
		_ = fl.passwordForm(p)
		_ = fl.otpForm(p)
		_ = fl.usernameForm(p)
		_ = autoSubmitForm(p)
	})
}
