package idp_test

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/rolehop/rolehop/saml/idp"
)

// otpIdP is a small Keycloak-style form IdP: login form (with an escaped
// hidden value, a nameless input and a named submit button), then a
// one-time-code form, then an auto-submit hop, then the SAMLResponse form.
type otpIdP struct {
	assertion string
	loop      bool   // the hop posts to itself forever
	httpLogin string // if set, the login form posts here (plain http)

	mu      sync.Mutex
	otpSeen int
}

const (
	otpLoginPage = `<html><head><title>Sign in to corp</title></head><body>
<form id="kc-form-login" action="%s" method="post">
<label for="username">Username or email</label><input tabindex="1" id="username" name="username" type="text" autofocus autocomplete="off"/>
<label for="password">Password</label><input tabindex="2" id="password" name="password" type="password" autocomplete="off"/>
<input type="hidden" id="id-hidden-input" name="credentialId" value="c&amp;1"/>
<input type="hidden" value="nameless, must not be sent"/>
<input tabindex="4" name="login" id="kc-login" type="submit" value="Sign In"/>
</form></body></html>`
	otpCodePage = `<html><head><title>Sign in to corp</title></head><body>
%s<form id="kc-otp-login-form" action="/realms/corp/login-actions/authenticate?execution=otp&amp;tab_id=T1" method="post">
<label for="otp" class="control-label">One-time code</label>
<input id="otp" name="otp" autocomplete="off" type="text" class="form-control" autofocus/>
<input class="btn" name="login" id="kc-login" type="submit" value="Sign In"/>
</form></body></html>`
	hopPage = `<html><head><title>Submit This Form</title></head><body onload="javascript:document.forms[0].submit()">
<noscript><p>JavaScript is disabled. Press Continue.</p></noscript>
<form method="POST" action="%s"><input type="hidden" name="RelayState" value="state&amp;x"/><noscript><input type="submit" value="Continue"/></noscript></form></body></html>`
)

func (f *otpIdP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	loggedIn := func() bool { c, err := r.Cookie("KC_SESSION"); return err == nil && c.Value == "pw-ok" }
	switch r.URL.Path {
	case "/realms/corp/protocol/saml/clients/amazon-aws":
		http.SetCookie(w, &http.Cookie{Name: "AUTH_SESSION_ID", Value: "s1", Path: "/realms/corp"})
		http.Redirect(w, r, "/realms/corp/login-actions/authenticate?client_id=urn%3Aamazon%3Awebservices&tab_id=T1", http.StatusFound)
	case "/realms/corp/login-actions/authenticate":
		if c, err := r.Cookie("AUTH_SESSION_ID"); err != nil || c.Value != "s1" {
			http.Error(w, "cookie not found", http.StatusBadRequest)
			return
		}
		action := "/realms/corp/login-actions/authenticate?session_code=abc&amp;execution=pw&amp;tab_id=T1"
		if f.httpLogin != "" {
			action = f.httpLogin
		}
		switch {
		case r.Method == http.MethodGet:
			fmt.Fprintf(w, otpLoginPage, action)
		case r.URL.Query().Get("execution") == "pw":
			if r.PostForm.Get("credentialId") != "c&1" || r.PostForm.Get("login") != "Sign In" || len(r.PostForm) != 4 {
				http.Error(w, fmt.Sprintf("bad form %v", r.PostForm), http.StatusBadRequest)
				return
			}
			if r.PostForm.Get("username") != "alice" || r.PostForm.Get("password") != "s3cret-Pa55" {
				fmt.Fprintf(w, otpLoginPage, action)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "KC_SESSION", Value: "pw-ok", Path: "/realms/corp"})
			fmt.Fprintf(w, otpCodePage, "")
		case r.URL.Query().Get("execution") == "otp" && loggedIn():
			f.mu.Lock()
			f.otpSeen++
			f.mu.Unlock()
			if r.PostForm.Get("otp") != "424242" {
				fmt.Fprintf(w, otpCodePage, `<div class="alert-error"><span class="kc-feedback-text">Invalid authenticator code.</span></div>`)
				return
			}
			fmt.Fprintf(w, hopPage, "/realms/corp/broker/after-first-login")
		default:
			http.Error(w, "unexpected step", http.StatusBadRequest)
		}
	case "/realms/corp/broker/after-first-login":
		if !loggedIn() || r.PostForm.Get("RelayState") != "state&x" {
			http.Error(w, "bad hop", http.StatusBadRequest)
			return
		}
		if f.loop {
			fmt.Fprintf(w, hopPage, "after-first-login")
			return
		}
		fmt.Fprintf(w, `<html><body onload="document.forms[0].submit()"><form method="POST" action="https://signin.aws.amazon.com/saml"><input type="hidden" name="SAMLResponse" value="%s"/></form></body></html>`,
			html.EscapeString(f.assertion))
	default:
		http.NotFound(w, r)
	}
}

func startOTPIdP(t *testing.T, f *otpIdP) (*httptest.Server, string) {
	f.assertion = realAssertion(t)
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return srv, srv.URL + "/realms/corp/protocol/saml/clients/amazon-aws"
}

// recordingPrompter counts the questions and answers from fixed values.
type recordingPrompter struct {
	idp.Fixed
	mu      sync.Mutex
	factors []string
}

func (p *recordingPrompter) OTP(ctx context.Context, factor string) (string, error) {
	p.mu.Lock()
	p.factors = append(p.factors, factor)
	p.mu.Unlock()
	return p.Fixed.OTP(ctx, factor)
}

func TestFormOTP(t *testing.T) {
	fake := &otpIdP{}
	srv, start := startOTPIdP(t, fake)
	log, logs := debugLogger()
	pr := &recordingPrompter{Fixed: idp.Fixed{User: "alice", Pass: "s3cret-Pa55", OTPCode: "424242"}}
	f := &idp.Form{Options: idp.Options{HTTPClient: srv.Client(), Logger: log}, URL: start, Prompter: pr}
	got, err := f.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != fake.assertion {
		t.Fatal("assertion differs from the IdP's")
	}
	if len(pr.factors) != 1 || pr.factors[0] != "One-time code" {
		t.Errorf("OTP asked for %q, want once for the field labelled \"One-time code\"", pr.factors)
	}
	assertNoSecret(t, "log", logs.String(), "s3cret-Pa55", "424242", got[:64])
}

func TestFormOTPFailures(t *testing.T) {
	tests := []struct {
		name    string
		otp     string
		wantErr error
		inMsg   string
	}{
		{"bad code", "000000", idp.ErrAccessDenied, "Invalid authenticator code."},
		{"no code to give", "", idp.ErrMFARequired, "One-time code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := &otpIdP{}
			srv, start := startOTPIdP(t, fake)
			log, logs := debugLogger()
			f := &idp.Form{Options: idp.Options{HTTPClient: srv.Client(), Logger: log}, URL: start,
				Prompter: idp.Fixed{User: "alice", Pass: "s3cret-Pa55", OTPCode: tt.otp}}
			_, err := f.Assertion(context.Background())
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.inMsg)
			}
			if tt.otp != "" && fake.otpSeen != 1 {
				t.Errorf("code posted %d times, want once", fake.otpSeen)
			}
			assertNoSecret(t, "error", err.Error(), "s3cret-Pa55", tt.otp)
			assertNoSecret(t, "log", logs.String(), "s3cret-Pa55", tt.otp)
		})
	}
}

func TestFormBoundedSteps(t *testing.T) {
	srv, start := startOTPIdP(t, &otpIdP{loop: true})
	f := &idp.Form{Options: idp.Options{HTTPClient: srv.Client()}, URL: start, MaxSteps: 6,
		Prompter: idp.Fixed{User: "alice", Pass: "s3cret-Pa55", OTPCode: "424242"}}
	_, err := f.Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "after 6 pages") {
		t.Fatalf("err = %v, want ErrIdP after 6 pages", err)
	}
}

func TestFormRefusesPasswordOverPlainHTTP(t *testing.T) {
	srv, start := startOTPIdP(t, &otpIdP{httpLogin: "http://127.0.0.1:9/steal"})
	f := &idp.Form{Options: idp.Options{HTTPClient: srv.Client()}, URL: start,
		Prompter: idp.Fixed{User: "alice", Pass: "s3cret-Pa55"}}
	_, err := f.Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "plain http") {
		t.Fatalf("err = %v, want ErrIdP refusing plain http", err)
	}
}
