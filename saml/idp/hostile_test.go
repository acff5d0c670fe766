package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/rolehop/rolehop/saml/idp"
)

// A malicious or compromised IdP page, and a network attacker on plain
// http (issue 11, findings 4, 5 and 9). Every server is an httptest server
// on loopback; two servers are two origins (their ports differ). Each test
// failed on the code before the fix: see the commit that added it.

const hostilePass = "s3cret-Pa55"

// script serves one handler per path.
type script map[string]http.HandlerFunc

func (s script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := s[r.URL.Path]; ok {
		h(w, r)
		return
	}
	http.NotFound(w, r)
}

// catcher records every request it receives (a thief's server).
type catcher struct {
	mu   sync.Mutex
	seen []string
}

func (c *catcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	c.mu.Lock()
	c.seen = append(c.seen, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL.Path, r.Header.Get("Authorization"), b))
	c.mu.Unlock()
	fmt.Fprint(w, `<html><title>thanks</title></html>`)
}

func (c *catcher) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

func (c *catcher) assertNothingStolen(t *testing.T) {
	t.Helper()
	for _, r := range c.requests() {
		if strings.Contains(r, hostilePass) || strings.Contains(r, "auth=\"Basic") {
			t.Errorf("the other server received the password: %s", r)
		}
	}
}

func loginForm(action string) string {
	return fmt.Sprintf(`<html><title>Sign in</title><body><form method="post" action="%s">
<input name="username" type="text"/><input name="password" type="password"/><input type="submit" name="go" value="Sign in"/>
</form></body></html>`, html.EscapeString(action))
}

func samlPage(assertion string) string {
	return fmt.Sprintf(`<html><body><form method="POST" action="https://signin.aws.amazon.com/saml"><input type="hidden" name="SAMLResponse" value="%s"/></form></body></html>`,
		html.EscapeString(assertion))
}

// startIdP starts a TLS IdP whose /start shows a login form posting to
// action (relative to the IdP, or absolute) and whose /login answers with
// onLogin.
func startIdP(t *testing.T, action string, onLogin http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(script{
		"/start": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, loginForm(action)) },
		"/login": onLogin,
	})
	t.Cleanup(srv.Close)
	return srv
}

// formClient is a Form for start whose client trusts every httptest TLS
// server (they share one certificate), allowing passwordOrigins.
func formClient(srv *httptest.Server, start string, passwordOrigins ...string) *idp.Form {
	return &idp.Form{Options: idp.Options{HTTPClient: srv.Client(), PasswordOrigins: passwordOrigins},
		URL: start, Prompter: idp.Fixed{User: "alice", Pass: hostilePass}}
}

// TestPasswordNotReplayedOverPlainHTTP: the https form action answers 307 or
// 308 to an http URL; the HTTP client used to re-POST the password there in
// clear text.
func TestPasswordNotReplayedOverPlainHTTP(t *testing.T) {
	for _, code := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			thief := &catcher{}
			plain := httptest.NewServer(thief)
			defer plain.Close()
			srv := startIdP(t, "/login", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, plain.URL+"/collect", code)
			})
			_, err := formClient(srv, srv.URL+"/start").Assertion(context.Background())
			thief.assertNothingStolen(t)
			if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "plain http") {
				t.Fatalf("err = %v, want ErrIdP refusing the downgrade", err)
			}
			t.Logf("refusal: %v", err)
		})
	}
}

// TestPasswordNotReplayedToAnotherOrigin: a 307 from the form action to
// another https host re-POSTed the password there.
func TestPasswordNotReplayedToAnotherOrigin(t *testing.T) {
	thief := &catcher{}
	other := httptest.NewTLSServer(thief)
	defer other.Close()
	srv := startIdP(t, "/login", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	})
	_, err := formClient(srv, srv.URL+"/start").Assertion(context.Background())
	thief.assertNothingStolen(t)
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), strings.TrimPrefix(other.URL, "https://")) {
		t.Fatalf("err = %v, want ErrIdP naming %s", err, other.URL)
	}
	t.Logf("refusal: %v", err)
}

// TestPasswordOnlyToTheSignOnOrigin: a login form on the sign-on page that
// posts to another host (or port) used to receive the password; it is sent
// there only when that origin is allowed explicitly.
func TestPasswordOnlyToTheSignOnOrigin(t *testing.T) {
	assertion := realAssertion(t)
	other := httptest.NewTLSServer(script{
		"/login": func(w http.ResponseWriter, r *http.Request) {
			if r.PostFormValue("password") != hostilePass {
				http.Error(w, "no password", http.StatusBadRequest)
				return
			}
			fmt.Fprint(w, samlPage(assertion))
		},
	})
	defer other.Close()
	srv := startIdP(t, other.URL+"/login", nil)
	otherHost := strings.TrimPrefix(other.URL, "https://")

	_, err := formClient(srv, srv.URL+"/start").Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), otherHost) {
		t.Fatalf("err = %v, want ErrIdP naming %s", err, otherHost)
	}
	t.Logf("refusal: %v", err)

	// Allowed explicitly (as a login profile's list would), it works.
	for _, allowed := range []string{other.URL, otherHost, other.URL + "/"} {
		got, err := formClient(srv, srv.URL+"/start", allowed).Assertion(context.Background())
		if err != nil || got != assertion {
			t.Fatalf("with %q allowed: %v", allowed, err)
		}
	}
	// An allowed origin is scheme, host and port: another port is not it.
	_, err = formClient(srv, srv.URL+"/start", "https://127.0.0.1:1").Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) {
		t.Fatalf("err = %v, want a refusal for an origin not in the list", err)
	}
}

// TestADFSBasicAuthNotSentOverPlainHTTP: ADFS in HTTP-authentication mode
// redirected to http on the same host name: Go's client keeps the
// Authorization header for the same host, so the Basic credentials went out
// in clear text.
func TestADFSBasicAuthNotSentOverPlainHTTP(t *testing.T) {
	thief := &catcher{}
	plain := httptest.NewServer(thief)
	defer plain.Close()
	srv := httptest.NewTLSServer(script{
		"/adfs/ls/IdpInitiatedSignOn.aspx": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, plain.URL+"/adfs/ls/", http.StatusFound)
		},
	})
	defer srv.Close()
	a := &idp.ADFS{Options: idp.Options{HTTPClient: srv.Client()}, Host: strings.TrimPrefix(srv.URL, "https://"),
		Mode: idp.ADFSHTTPAuth, HTTPAuth: "basic", Prompter: idp.Fixed{User: "alice", Pass: hostilePass}}
	_, err := a.Assertion(context.Background())
	thief.assertNothingStolen(t)
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("err = %v, want ErrIdP refusing the downgrade", err)
	}
}

// TestOneLoginNotReplayedElsewhere: the OneLogin API client shares the
// redirect policy: a 307 from the assertion call to another host does not
// carry the password there.
func TestOneLoginNotReplayedElsewhere(t *testing.T) {
	thief := &catcher{}
	other := httptest.NewTLSServer(thief)
	defer other.Close()
	api := httptest.NewTLSServer(script{
		"/auth/oauth2/v2/token": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"access_token":"tok","expires_in":3600}`)
		},
		"/api/2/saml_assertion": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+"/api/2/saml_assertion", http.StatusTemporaryRedirect)
		},
	})
	defer api.Close()
	o := &idp.OneLogin{Options: idp.Options{HTTPClient: api.Client()}, BaseURL: api.URL, ClientID: "id", ClientSecret: "csecret",
		Subdomain: "corp", AppID: "1", Prompter: idp.Fixed{User: "alice", Pass: hostilePass}}
	_, err := o.Assertion(context.Background())
	thief.assertNothingStolen(t)
	if !errors.Is(err, idp.ErrIdP) {
		t.Fatalf("err = %v, want ErrIdP", err)
	}
}

// hostileText is what an IdP page may put in a title, an error banner, a
// label or an API message: a terminal title change, a screen clear, a
// bidi override and a fake second line, then 10 KB.
var hostileText = "\x1b]0;pwned\x07\x1b[2J\x1b[HLogin \u202efailed\u202c\nrolehop: all good\r" + strings.Repeat("A", 10_000)

func assertSafeText(t *testing.T, what, s string) {
	t.Helper()
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			t.Errorf("%s carries %U: %q", what, r, s)
			return
		}
	}
	if len(s) > 1000 {
		t.Errorf("%s is %d bytes long", what, len(s))
	}
}

// TestServerTextIsSanitised: every text from the IdP that reaches an error
// (or the one-time-code prompt) is free of control and bidi characters and
// bounded.
func TestServerTextIsSanitised(t *testing.T) {
	esc := html.EscapeString(hostileText)
	pages := map[string]string{
		"title":  `<html><head><title>` + esc + `</title></head><body>nothing here</body></html>`,
		"banner": `<html><body><div class="error">` + esc + `</div>` + loginForm("/login")[6:],
		"action": `<html><body><form method="post" action="` + esc + `"><input type="hidden" name="x" value="1"/></form></body></html>`,
		"scheme": `<html><body><form method="post" action="javascript` + url.PathEscape("\x1b]0;x") + `:1"><input type="hidden" name="x" value="1"/></form></body></html>`,
	}
	for name, page := range pages {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewTLSServer(script{
				"/start": func(w http.ResponseWriter, r *http.Request) {
					if name == "banner" {
						fmt.Fprint(w, loginForm("/login"))
						return
					}
					fmt.Fprint(w, page)
				},
				"/login": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) },
			})
			defer srv.Close()
			_, err := formClient(srv, srv.URL+"/start").Assertion(context.Background())
			if err == nil {
				t.Fatal("no error")
			}
			assertSafeText(t, "the error", err.Error())
			t.Logf("error: %v", err)
		})
	}
	t.Run("path", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/start" {
				http.Redirect(w, r, "/%1b]0;pwned%07%e2%80%ae"+strings.Repeat("B", 5000), http.StatusFound)
				return
			}
			fmt.Fprint(w, "<html><title>t</title></html>")
		}))
		defer srv.Close()
		_, err := formClient(srv, srv.URL+"/start").Assertion(context.Background())
		if err == nil {
			t.Fatal("no error")
		}
		assertSafeText(t, "the error", err.Error())
	})
	t.Run("otp label", func(t *testing.T) {
		srv := httptest.NewTLSServer(script{
			"/start": func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `<html><body><form method="post" action="/otp"><label for="otp">%s</label><input id="otp" name="otp" type="text"/></form></body></html>`, esc)
			},
			"/otp": func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html><title>done</title></html>") },
		})
		defer srv.Close()
		p := &recordingPrompter{Fixed: idp.Fixed{User: "alice", Pass: hostilePass, OTPCode: "123456"}}
		f := &idp.Form{Options: idp.Options{HTTPClient: srv.Client()}, URL: srv.URL + "/start", Prompter: p}
		_, _ = f.Assertion(context.Background())
		if len(p.factors) != 1 {
			t.Fatalf("factors asked: %q", p.factors)
		}
		assertSafeText(t, "the factor shown at the prompt", p.factors[0])
	})
	t.Run("onelogin", func(t *testing.T) {
		msg, _ := json.Marshal(hostileText)
		for _, answer := range []string{
			`{"statusCode":401,"name":"Unauthorized","message":` + string(msg) + `}`,
			`{"state_token":"st","message":"MFA","devices":[{"device_id":1,"device_type":` + string(msg) + `}]}`,
		} {
			api := httptest.NewTLSServer(script{
				"/auth/oauth2/v2/token": func(w http.ResponseWriter, r *http.Request) {
					fmt.Fprint(w, `{"access_token":"tok","expires_in":3600}`)
				},
				"/api/2/saml_assertion": func(w http.ResponseWriter, r *http.Request) {
					if strings.Contains(answer, "401") {
						w.WriteHeader(http.StatusUnauthorized)
					}
					fmt.Fprint(w, answer)
				},
				"/api/2/saml_assertion/verify_factor": func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusUnauthorized)
					fmt.Fprint(w, answer)
				},
			})
			p := &recordingPrompter{Fixed: idp.Fixed{User: "alice", Pass: hostilePass, OTPCode: "123456"}}
			o := &idp.OneLogin{Options: idp.Options{HTTPClient: api.Client()}, BaseURL: api.URL, ClientID: "id", ClientSecret: "csecret",
				Subdomain: "corp", AppID: "1", Prompter: p}
			_, err := o.Assertion(context.Background())
			api.Close()
			if err == nil {
				t.Fatal("no error")
			}
			assertSafeText(t, "the error", err.Error())
			for _, f := range p.factors {
				assertSafeText(t, "the factor shown at the prompt", f)
			}
		}
	})
}
