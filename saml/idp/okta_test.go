package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/saml/idp"
)

// fakeOkta follows Okta's Authentication API reference: POST /api/v1/authn
// (primary authentication), the transaction object (status, stateToken,
// expiresAt, sessionToken, _embedded.user/factors/factor, _links with
// name/href/hints), POST /api/v1/authn/factors/{factorId}/verify for
// token:software:totp (passCode) and push (MFA_CHALLENGE with factorResult
// WAITING, then poll on _links.next until SUCCESS, REJECTED or TIMEOUT),
// /api/v1/authn/skip, the error object ({errorCode, errorSummary,
// errorLink, errorId, errorCauses}); then the Sessions guide's
// /login/sessionCookieRedirect?token=&redirectUrl= and the AWS app's embed
// link, whose page is the appForm that posts SAMLResponse to AWS.
type fakeOkta struct {
	srv       *httptest.Server
	user      string
	pass      string
	status    string   // answer to the right password: SUCCESS, MFA_REQUIRED, LOCKED_OUT, PASSWORD_EXPIRED, PASSWORD_WARN, MFA_ENROLL
	factors   []string // enrolled factors: "totp", "google", "push", "sms"
	totp      string
	push      []string // factor results of the polls after the first WAITING
	number    int      // number challenge on the push, 0 for none
	evilNext  bool     // the push's _links.next leaves the org
	assertion string

	mu       sync.Mutex
	calls    []string
	verifies int
	sessions map[string]bool // issued, unused sessionTokens
	sids     map[string]bool
}

const (
	oktaStateToken   = "007ucIX7PATyn94hsHfOLVaXAmOBkKHWnOOLG43bsb"
	oktaSessionToken = "20111DpgYJ1XGIx0mXbxpjdrlGq2Jn5qyVOuVIPgkKLrS0sCXOh4bXR"
	oktaAppPath      = "/home/amazon_aws/0oa1b2c3d4e5F6g7h8/272"
	oktaTOTPID       = "ostfm3hPNYSOIOIVTQWY"
	oktaGoogleID     = "uftm3iHSGFQXHCUSDAND"
	oktaPushID       = "opf3hkfocI4JTLAju0g4"
	oktaSMSID        = "sms193zUBEROPBNZKPPE"
)

var oktaTestSecrets = []string{"Okt4-pa55word", oktaStateToken, oktaSessionToken, "654321"}

func newFakeOkta(t *testing.T, status string, factors ...string) *fakeOkta {
	f := &fakeOkta{user: "dade.murphy@example.com", pass: "Okt4-pa55word", status: status, factors: factors,
		totp: "654321", assertion: realAssertion(t), sessions: map[string]bool{}, sids: map[string]bool{}}
	f.srv = httptest.NewTLSServer(f)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOkta) client(p idp.Prompter) (*idp.Okta, *syncBuffer) {
	log, logs := debugLogger()
	return &idp.Okta{
		Options:      idp.Options{HTTPClient: f.srv.Client(), Logger: log},
		AppURL:       f.srv.URL + oktaAppPath,
		Prompter:     p,
		PushInterval: 10 * time.Millisecond,
	}, logs
}

func (f *fakeOkta) link(name, path string) map[string]any {
	return map[string]any{"name": name, "href": f.srv.URL + path, "hints": map[string]any{"allow": []string{"POST"}}}
}

func (f *fakeOkta) userObject() map[string]any {
	return map[string]any{"id": "00ub0oNGTSWTBKOLGLNR", "passwordChanged": "2015-09-08T20:14:45.000Z",
		"profile": map[string]any{"login": f.user, "firstName": "Dade", "lastName": "Murphy", "locale": "en_US", "timeZone": "America/Los_Angeles"}}
}

func (f *fakeOkta) factor(kind string) map[string]any {
	verify := func(id string) map[string]any {
		return map[string]any{"verify": map[string]any{"href": f.srv.URL + "/api/v1/authn/factors/" + id + "/verify", "hints": map[string]any{"allow": []string{"POST"}}}}
	}
	switch kind {
	case "totp":
		return map[string]any{"id": oktaTOTPID, "factorType": "token:software:totp", "provider": "OKTA", "vendorName": "OKTA",
			"profile": map[string]any{"credentialId": f.user}, "_links": verify(oktaTOTPID)}
	case "google":
		return map[string]any{"id": oktaGoogleID, "factorType": "token:software:totp", "provider": "GOOGLE", "vendorName": "GOOGLE",
			"profile": map[string]any{"credentialId": f.user}, "_links": verify(oktaGoogleID)}
	case "push":
		return map[string]any{"id": oktaPushID, "factorType": "push", "provider": "OKTA", "vendorName": "OKTA",
			"profile": map[string]any{"credentialId": f.user, "deviceType": "SmartPhone_IPhone", "keys": []any{}, "name": "Gibson", "platform": "IOS", "version": "9.0"},
			"_links":  verify(oktaPushID)}
	case "sms":
		return map[string]any{"id": oktaSMSID, "factorType": "sms", "provider": "OKTA", "vendorName": "OKTA",
			"profile": map[string]any{"phoneNumber": "+1 XXX-XXX-4601"}, "_links": verify(oktaSMSID)}
	}
	panic(kind)
}

func (f *fakeOkta) expires() string {
	return time.Now().Add(5 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
}

func (f *fakeOkta) success() map[string]any {
	f.sessions[oktaSessionToken] = true
	return map[string]any{"expiresAt": f.expires(), "status": "SUCCESS", "sessionToken": oktaSessionToken,
		"_embedded": map[string]any{"user": f.userObject()}}
}

func (f *fakeOkta) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r.Method+" "+r.URL.Path)
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(code int, errCode, summary string, causes ...string) {
		cs := []map[string]string{}
		for _, c := range causes {
			cs = append(cs, map[string]string{"errorSummary": c})
		}
		reply(code, map[string]any{"errorCode": errCode, "errorSummary": summary, "errorLink": errCode,
			"errorId": "oaeuHRrvMnuRga5UvXX4u4qNQ", "errorCauses": cs})
	}
	if strings.HasPrefix(r.URL.Path, "/api/") {
		if r.Method != http.MethodPost {
			fail(http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
			return
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			fail(http.StatusUnsupportedMediaType, "E0000003", "The request body was not well-formed.")
			return
		}
	}
	var body map[string]any
	if r.Method == http.MethodPost {
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			fail(http.StatusBadRequest, "E0000003", "The request body was not well-formed.")
			return
		}
	}
	str := func(k string) string { s, _ := body[k].(string); return s }

	switch {
	case r.URL.Path == "/api/v1/authn":
		if str("username") != f.user || str("password") != f.pass {
			fail(http.StatusUnauthorized, "E0000004", "Authentication failed")
			return
		}
		switch f.status {
		case "SUCCESS":
			reply(200, f.success())
		case "LOCKED_OUT":
			reply(200, map[string]any{"status": "LOCKED_OUT", "_links": map[string]any{"next": f.link("unlock", "/api/v1/authn/recovery/unlock")}})
		case "PASSWORD_EXPIRED":
			reply(200, map[string]any{"stateToken": oktaStateToken, "expiresAt": f.expires(), "status": "PASSWORD_EXPIRED",
				"_embedded": map[string]any{"user": f.userObject(), "policy": map[string]any{"complexity": map[string]any{"minLength": 8}}},
				"_links":    map[string]any{"next": f.link("changePassword", "/api/v1/authn/credentials/change_password"), "cancel": f.link("", "/api/v1/authn/cancel")}})
		case "PASSWORD_WARN":
			reply(200, map[string]any{"stateToken": oktaStateToken, "expiresAt": f.expires(), "status": "PASSWORD_WARN",
				"_embedded": map[string]any{"user": f.userObject(), "policy": map[string]any{"expiration": map[string]any{"passwordExpireDays": 5}}},
				"_links": map[string]any{"next": f.link("changePassword", "/api/v1/authn/credentials/change_password"),
					"skip": f.link("skip", "/api/v1/authn/skip"), "cancel": f.link("", "/api/v1/authn/cancel")}})
		case "MFA_ENROLL":
			reply(200, map[string]any{"stateToken": oktaStateToken, "expiresAt": f.expires(), "status": "MFA_ENROLL",
				"_embedded": map[string]any{"user": f.userObject(), "factors": []any{}}, "_links": map[string]any{"cancel": f.link("", "/api/v1/authn/cancel")}})
		case "MFA_REQUIRED":
			var fs []any
			for _, k := range f.factors {
				fs = append(fs, f.factor(k))
			}
			reply(200, map[string]any{"stateToken": oktaStateToken, "expiresAt": f.expires(), "status": "MFA_REQUIRED",
				"_embedded": map[string]any{"user": f.userObject(), "factors": fs,
					"policy": map[string]any{"allowRememberDevice": false, "rememberDeviceLifetimeInMinutes": 0, "rememberDeviceByDefault": false}},
				"_links": map[string]any{"cancel": f.link("", "/api/v1/authn/cancel")}})
		}
	case r.URL.Path == "/api/v1/authn/skip":
		if str("stateToken") != oktaStateToken {
			fail(http.StatusForbidden, "E0000011", "Invalid token provided")
			return
		}
		reply(200, f.success())
	case strings.HasPrefix(r.URL.Path, "/api/v1/authn/factors/") && strings.HasSuffix(r.URL.Path, "/verify"):
		if str("stateToken") != oktaStateToken {
			fail(http.StatusForbidden, "E0000011", "Invalid token provided")
			return
		}
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/api/v1/authn/factors/"), "/verify")
		switch id {
		case oktaTOTPID, oktaGoogleID:
			if str("passCode") != f.totp {
				fail(http.StatusForbidden, "E0000068", "Invalid Passcode/Answer", "Your passcode doesn't match our records. Please try again.")
				return
			}
			reply(200, f.success())
		case oktaPushID:
			result := "WAITING"
			if f.verifies > 0 && len(f.push) > 0 {
				result, f.push = f.push[0], f.push[1:]
			}
			f.verifies++
			if result == "SUCCESS" {
				reply(200, f.success())
				return
			}
			factor := f.factor("push")
			delete(factor, "_links")
			if f.number != 0 {
				factor["_embedded"] = map[string]any{"challenge": map[string]any{"correctAnswer": f.number}}
			}
			next := f.link("poll", "/api/v1/authn/factors/"+oktaPushID+"/verify")
			if f.evilNext {
				next["href"] = "https://evil.example.net/api/v1/authn/factors/" + oktaPushID + "/verify"
			}
			links := map[string]any{"next": next, "cancel": f.link("", "/api/v1/authn/cancel"), "prev": f.link("", "/api/v1/authn/previous"),
				"resend": []any{f.link("push", "/api/v1/authn/factors/"+oktaPushID+"/verify/resend")}}
			if result != "WAITING" {
				links["next"] = f.link("verify", "/api/v1/authn/factors/"+oktaPushID+"/verify")
			}
			reply(200, map[string]any{"stateToken": oktaStateToken, "expiresAt": f.expires(), "status": "MFA_CHALLENGE", "factorResult": result,
				"_embedded": map[string]any{"user": f.userObject(), "factor": factor,
					"policy": map[string]any{"allowRememberDevice": false}},
				"_links": links})
		default:
			fail(http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (UserFactor)")
		}
	case r.URL.Path == "/login/sessionCookieRedirect":
		q := r.URL.Query()
		target, err := url.Parse(q.Get("redirectUrl"))
		if err != nil || target.Host != r.Host {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, "<html><title>403</title><body>The redirect URL is not a trusted origin.</body></html>")
			return
		}
		if f.sessions[q.Get("token")] {
			delete(f.sessions, q.Get("token")) // one-time
			sid := "102Xhxaf3JxTzKbfEfYKxOFHw"
			f.sids[sid] = true
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: sid, Path: "/", Secure: true, HttpOnly: true})
		}
		http.Redirect(w, r, target.String(), http.StatusFound)
	case r.URL.Path == oktaAppPath:
		c, err := r.Cookie("sid")
		if err != nil || !f.sids[c.Value] {
			http.Redirect(w, r, "/login/login.htm?fromURI="+url.QueryEscape(r.URL.RequestURI()), http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><head><title>Signing in...</title></head><body>
<form id="appForm" action="https&#x3a;&#x2f;&#x2f;signin.aws.amazon.com&#x2f;saml" method="POST">
<input name="SAMLResponse" type="hidden" value="%s"/>
<input name="RelayState" type="hidden" value=""/>
</form>
<script>document.getElementById('appForm').submit();</script></body></html>`, html.EscapeString(f.assertion))
	case r.URL.Path == "/login/login.htm":
		w.Header().Set("Content-Type", "text/html;charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html><head><title>example - Sign In</title></head><body><div id="okta-sign-in" class="auth-container"></div><script src="/js/okta-sign-in.min.js"></script></body></html>`)
	default:
		http.NotFound(w, r)
	}
}

// notifyingPrompter is a Fixed that also records what it is told.
type notifyingPrompter struct {
	idp.Fixed
	mu   sync.Mutex
	told []string
}

func (p *notifyingPrompter) Notify(_ context.Context, msg string) {
	p.mu.Lock()
	p.told = append(p.told, msg)
	p.mu.Unlock()
}

func TestOktaPrimaryAuth(t *testing.T) {
	f := newFakeOkta(t, "SUCCESS")
	o, logs := f.client(idp.Fixed{User: f.user, Pass: f.pass})
	got, err := o.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got != f.assertion {
		t.Error("assertion differs from the app page's SAMLResponse")
	}
	want := []string{"POST /api/v1/authn", "GET /login/sessionCookieRedirect", "GET " + oktaAppPath}
	if strings.Join(f.calls, ", ") != strings.Join(want, ", ") {
		t.Errorf("requests %q, want %q", f.calls, want)
	}
	assertNoSecret(t, "log", logs.String(), oktaTestSecrets...)
}

func TestOktaWrongPassword(t *testing.T) {
	f := newFakeOkta(t, "SUCCESS")
	o, logs := f.client(idp.Fixed{User: f.user, Pass: "wrong-Pa55"})
	_, err := o.Assertion(context.Background())
	if !errors.Is(err, idp.ErrAccessDenied) || !strings.Contains(err.Error(), "Authentication failed (E0000004); check the username and password") {
		t.Fatalf("err = %v, want ErrAccessDenied with Okta's message", err)
	}
	t.Logf("user sees: %v", err)
	assertNoSecret(t, "error", err.Error(), "wrong-Pa55")
	assertNoSecret(t, "log", logs.String(), "wrong-Pa55")
}

func TestOktaMFA(t *testing.T) {
	tests := []struct {
		name         string
		factors      []string
		factorType   string
		provider     string
		code         string
		push         []string
		number       int
		wantErr      error
		inMsg        string
		wantVerifies int
		wantTold     string
	}{
		{name: "totp ok", factors: []string{"totp", "push"}, code: "654321"},
		{name: "google authenticator picked by provider", factors: []string{"totp", "google"}, factorType: "token:software:totp", provider: "google", code: "654321"},
		{name: "totp wrong code", factors: []string{"totp"}, code: "000000", wantErr: idp.ErrAccessDenied,
			inMsg: "okta rejected the Okta Verify code: Invalid Passcode/Answer (E0000068): Your passcode doesn't match our records. Please try again."},
		{name: "totp no code to give", factors: []string{"totp"}, wantErr: idp.ErrMFARequired, inMsg: "Okta Verify code"},
		{name: "push waiting then success", factors: []string{"totp", "push"}, factorType: "push", push: []string{"WAITING", "WAITING", "SUCCESS"},
			wantVerifies: 4, wantTold: "sent an Okta Verify push to Gibson; approve it on the device"},
		{name: "push with number challenge", factors: []string{"push"}, push: []string{"WAITING", "SUCCESS"}, number: 42,
			wantVerifies: 3, wantTold: "tap 42"},
		{name: "push rejected", factors: []string{"push"}, push: []string{"WAITING", "REJECTED"}, wantErr: idp.ErrAccessDenied,
			inMsg: "the Okta Verify push to Gibson was rejected on the device"},
		{name: "push timed out", factors: []string{"push"}, push: []string{"TIMEOUT"}, wantErr: idp.ErrMFARequired,
			inMsg: "was not answered in time (TIMEOUT)"},
		{name: "only sms enrolled", factors: []string{"sms"}, wantErr: idp.ErrMFARequired,
			inMsg: "cannot answer through the API (enrolled: sms/OKTA)"},
		{name: "asked factor not enrolled", factors: []string{"totp"}, factorType: "push", wantErr: idp.ErrMFARequired,
			inMsg: "no enrolled factor matches push"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOkta(t, "MFA_REQUIRED", tt.factors...)
			f.push, f.number = tt.push, tt.number
			pr := &notifyingPrompter{Fixed: idp.Fixed{User: f.user, Pass: f.pass, OTPCode: tt.code}}
			o, logs := f.client(pr)
			o.FactorType, o.FactorProvider = tt.factorType, tt.provider
			got, err := o.Assertion(context.Background())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.inMsg) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("err = %v, want %v saying %q on one line", err, tt.wantErr, tt.inMsg)
				}
				t.Logf("user sees: %v", err)
				assertNoSecret(t, "error", err.Error(), append(oktaTestSecrets, tt.code)...)
			} else {
				if err != nil {
					t.Fatalf("%v\nlog:\n%s", err, logs)
				}
				if got != f.assertion {
					t.Error("assertion differs from the app page's SAMLResponse")
				}
			}
			if tt.wantVerifies != 0 && f.verifies != tt.wantVerifies {
				t.Errorf("push verify/poll calls = %d, want %d", f.verifies, tt.wantVerifies)
			}
			if tt.wantTold != "" && !strings.Contains(strings.Join(pr.told, "\n"), tt.wantTold) {
				t.Errorf("the person was told %q, want %q", pr.told, tt.wantTold)
			}
			assertNoSecret(t, "log", logs.String(), append(oktaTestSecrets, tt.code)...)
		})
	}
}

func TestOktaStatuses(t *testing.T) {
	tests := []struct {
		status  string
		wantErr error
		inMsg   string
	}{
		{"LOCKED_OUT", idp.ErrAccessDenied, "the account is locked out (LOCKED_OUT); unlock it with Okta's self-service unlock or ask an administrator"},
		{"PASSWORD_EXPIRED", idp.ErrAccessDenied, "the password has expired (PASSWORD_EXPIRED); change it by signing in to Okta in a browser"},
		{"MFA_ENROLL", idp.ErrMFARequired, "wants a second factor enrolled first"},
		{"PASSWORD_WARN", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			f := newFakeOkta(t, tt.status)
			o, logs := f.client(idp.Fixed{User: f.user, Pass: f.pass})
			got, err := o.Assertion(context.Background())
			if tt.wantErr == nil {
				if err != nil || got != f.assertion {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.inMsg)
			}
			t.Logf("user sees: %v", err)
			assertNoSecret(t, "log", logs.String(), oktaTestSecrets...)
		})
	}
}

// TestOktaAppWithoutAssertion: a wrong embed link ends at Okta's sign-in
// page, which carries no SAMLResponse.
func TestOktaAppWithoutAssertion(t *testing.T) {
	f := newFakeOkta(t, "SUCCESS")
	o, _ := f.client(idp.Fixed{User: f.user, Pass: f.pass})
	o.AppURL = f.srv.URL + "/home/amazon_aws/0oaWRONG/272"
	_, err := o.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoAssertion) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err = %v, want ErrNoAssertion naming the page", err)
	}
	t.Logf("user sees: %v", err)

	// An embed link on another host: Okta refuses to redirect there.
	o.AppURL = "https://other.example.com" + oktaAppPath
	o.OrgURL = f.srv.URL
	_, err = o.Assertion(context.Background())
	if !errors.Is(err, idp.ErrAccessDenied) || !strings.Contains(err.Error(), "HTTP 403") || !strings.Contains(err.Error(), "embed link") {
		t.Fatalf("err = %v, want Okta's refusal", err)
	}
	t.Logf("user sees: %v", err)
	assertNoSecret(t, "error", err.Error(), oktaTestSecrets...)
}

// TestOktaStaysInTheOrg: a link in Okta's answer that leaves the org is not
// followed (the state token goes nowhere else).
func TestOktaStaysInTheOrg(t *testing.T) {
	f := newFakeOkta(t, "MFA_REQUIRED", "push")
	f.push, f.evilNext = []string{"WAITING", "SUCCESS"}, true
	o, _ := f.client(idp.Fixed{User: f.user, Pass: f.pass})
	_, err := o.Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "refusing to follow a link to evil.example.net") {
		t.Fatalf("err = %v", err)
	}
}

func TestOktaBadConfig(t *testing.T) {
	for _, o := range []*idp.Okta{
		{AppURL: "", Prompter: idp.Fixed{}},
		{AppURL: "ftp://x/y", Prompter: idp.Fixed{}},
		{AppURL: "https://example.okta.com/home/amazon_aws/1/272", OrgURL: "example.okta.com", Prompter: idp.Fixed{}},
		{AppURL: "https://example.okta.com/home/amazon_aws/1/272"},
	} {
		if _, err := o.Assertion(context.Background()); err == nil || errors.Is(err, idp.ErrIdP) {
			t.Errorf("%+v: err = %v, want a configuration error", o.AppURL, err)
		}
	}
}

// TestOktaPushCancelled: Ctrl-C while waiting for the push.
func TestOktaPushCancelled(t *testing.T) {
	f := newFakeOkta(t, "MFA_REQUIRED", "push")
	f.push = []string{"WAITING", "WAITING", "WAITING", "WAITING", "WAITING", "WAITING"}
	o, _ := f.client(idp.Fixed{User: f.user, Pass: f.pass})
	o.PushInterval = time.Second
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := o.Assertion(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for the Okta Verify push to Gibson") {
		t.Fatalf("err = %v", err)
	}
}
