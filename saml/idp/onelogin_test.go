package idp_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/rolehop/rolehop/saml/idp"
)

// fakeOneLogin follows OneLogin's API v2 documents: the OAuth2 token
// endpoint, Generate SAML Assertion and Verify Factor, with their JSON
// shapes and error answers ({"statusCode","name","message"}).
type fakeOneLogin struct {
	clientID, clientSecret string
	user, pass, otp        string
	mfa                    bool
	assertion              string

	mu          sync.Mutex
	tokens      int
	verifiedDev string
	hosts       []string
}

const (
	olToken = "tok-3f9a2c7e1b5d4a6f"
	olState = "st-5xx604x8xx9x694xx860173xxx3x78x3x870x56"
)

func (f *fakeOneLogin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail := func(code int, name, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(map[string]any{"statusCode": code, "name": name, "message": msg})
	}
	ok := func(v any) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		fail(http.StatusBadRequest, "Bad Request", "Content-Type must be application/json")
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		fail(http.StatusBadRequest, "Bad Request", "invalid JSON")
		return
	}
	str := func(k string) string { s, _ := body[k].(string); return s }
	if r.URL.Path != "/auth/oauth2/v2/token" && r.Header.Get("Authorization") != "Bearer "+olToken {
		fail(http.StatusUnauthorized, "Unauthorized", "Authentication Failure")
		return
	}
	switch r.URL.Path {
	case "/auth/oauth2/v2/token":
		id, secret, okAuth := r.BasicAuth()
		if !okAuth || id != f.clientID || secret != f.clientSecret {
			fail(http.StatusUnauthorized, "Unauthorized", "Authentication Failure")
			return
		}
		if str("grant_type") != "client_credentials" {
			fail(http.StatusBadRequest, "Bad Request", "grant_type is not supported")
			return
		}
		f.mu.Lock()
		f.tokens++
		f.mu.Unlock()
		ok(map[string]any{"access_token": olToken, "created_at": "2026-01-02T03:04:05.000Z", "expires_in": 36000,
			"refresh_token": "", "token_type": "bearer", "account_id": 555555})
	case "/api/2/saml_assertion":
		if str("app_id") != "123456" || str("subdomain") != "corp" {
			fail(http.StatusBadRequest, "Bad Request", "app_id or subdomain is invalid")
			return
		}
		if str("username_or_email") != f.user || str("password") != f.pass {
			fail(http.StatusUnauthorized, "Unauthorized", "Authentication Failed: Invalid user credentials")
			return
		}
		if !f.mfa {
			ok(map[string]any{"data": f.assertion, "message": "Success"})
			return
		}
		ok(map[string]any{
			"state_token": olState,
			"message":     "MFA is required for this user",
			"devices": []map[string]any{
				{"device_id": 666666, "device_type": "OneLogin SMS"},
				{"device_id": 777777, "device_type": "Google Authenticator"},
			},
			"callback_url": "https://api.us.onelogin.com/api/2/saml_assertion/verify_factor",
			"user":         map[string]any{"lastname": "Liddell", "username": f.user, "email": f.user, "firstname": "Alice", "id": 88888888},
		})
	case "/api/2/saml_assertion/verify_factor":
		if str("app_id") != "123456" || str("state_token") != olState || (str("device_id") != "666666" && str("device_id") != "777777") {
			fail(http.StatusBadRequest, "Bad Request", "state_token or device_id is invalid")
			return
		}
		if str("otp_token") != f.otp {
			fail(http.StatusUnauthorized, "Unauthorized", "Failed authentication with this factor")
			return
		}
		f.mu.Lock()
		f.verifiedDev = str("device_id")
		f.mu.Unlock()
		ok(map[string]any{"data": f.assertion, "message": "Success"})
	default:
		fail(http.StatusNotFound, "Not Found", "Not Found")
	}
}

// redirectTo sends every request to srv while recording the host asked for.
type redirectTo struct {
	srv   *httptest.Server
	fake  *fakeOneLogin
	inner http.RoundTripper
}

func (rt redirectTo) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.fake.mu.Lock()
	rt.fake.hosts = append(rt.fake.hosts, r.URL.Host)
	rt.fake.mu.Unlock()
	u, _ := url.Parse(rt.srv.URL)
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
	return rt.inner.RoundTrip(r)
}

func newOneLogin(t *testing.T, mfa bool) (*fakeOneLogin, *httptest.Server) {
	f := &fakeOneLogin{clientID: "cid-1", clientSecret: "csecret-9d8c7b", user: "alice@corp.example",
		pass: "s3cret-Pa55", otp: "424242", mfa: mfa, assertion: realAssertion(t)}
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

var olSecrets = []string{"s3cret-Pa55", "csecret-9d8c7b", "424242", olToken, olState}

func TestOneLogin(t *testing.T) {
	fake, srv := newOneLogin(t, false)
	log, logs := debugLogger()
	o := &idp.OneLogin{
		Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
		ClientID: "cid-1", ClientSecret: "csecret-9d8c7b",
		BaseURL: srv.URL, Subdomain: "corp", AppID: "123456",
		Prompter: idp.Fixed{User: "alice@corp.example", Pass: "s3cret-Pa55"},
	}
	for range 2 {
		got, err := o.Assertion(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if got != fake.assertion {
			t.Fatal("assertion differs from OneLogin's data")
		}
	}
	if fake.tokens != 1 {
		t.Errorf("asked for %d access tokens, want 1 (cached)", fake.tokens)
	}
	assertNoSecret(t, "log", logs.String(), olSecrets...)
}

func TestOneLoginRegions(t *testing.T) {
	for region, host := range map[string]string{"": "api.us.onelogin.com", "us": "api.us.onelogin.com", "eu": "api.eu.onelogin.com"} {
		fake, srv := newOneLogin(t, false)
		o := &idp.OneLogin{
			Options:  idp.Options{HTTPClient: &http.Client{Transport: redirectTo{srv, fake, srv.Client().Transport}}},
			ClientID: "cid-1", ClientSecret: "csecret-9d8c7b", Region: region,
			Subdomain: "corp", AppID: "123456",
			Prompter: idp.Fixed{User: "alice@corp.example", Pass: "s3cret-Pa55"},
		}
		if _, err := o.Assertion(context.Background()); err != nil {
			t.Fatalf("region %q: %v", region, err)
		}
		for _, h := range fake.hosts {
			if h != host {
				t.Errorf("region %q: request to %s, want %s", region, h, host)
			}
		}
	}
	o := &idp.OneLogin{Region: "ap", ClientID: "c", ClientSecret: "s", Subdomain: "x", AppID: "1", Prompter: idp.Fixed{}}
	if _, err := o.Assertion(context.Background()); err == nil || !strings.Contains(err.Error(), `"us" or "eu"`) {
		t.Errorf("unknown region: err = %v", err)
	}
}

func TestOneLoginMFA(t *testing.T) {
	tests := []struct {
		name       string
		otp        string
		deviceType string
		wantErr    error
		wantDevice string
		inMsg      string
	}{
		{name: "verified with preferred device", otp: "424242", deviceType: "google authenticator", wantDevice: "777777"},
		{name: "first device by default", otp: "424242", wantDevice: "666666"},
		{name: "bad code", otp: "000000", wantErr: idp.ErrAccessDenied, inMsg: "Failed authentication with this factor"},
		{name: "no code to give", otp: "", wantErr: idp.ErrMFARequired, inMsg: "OneLogin SMS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, srv := newOneLogin(t, true)
			log, logs := debugLogger()
			o := &idp.OneLogin{
				Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
				ClientID: "cid-1", ClientSecret: "csecret-9d8c7b",
				BaseURL: srv.URL, Subdomain: "corp", AppID: "123456", DeviceType: tt.deviceType,
				Prompter: idp.Fixed{User: "alice@corp.example", Pass: "s3cret-Pa55", OTPCode: tt.otp},
			}
			got, err := o.Assertion(context.Background())
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.inMsg) {
					t.Fatalf("err = %v, want %v saying %q", err, tt.wantErr, tt.inMsg)
				}
				assertNoSecret(t, "error", err.Error(), append(olSecrets, tt.otp)...)
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if got != fake.assertion || fake.verifiedDev != tt.wantDevice {
					t.Errorf("verified device %q, want %q", fake.verifiedDev, tt.wantDevice)
				}
			}
			assertNoSecret(t, "log", logs.String(), olSecrets...)
		})
	}
}

func TestOneLoginRejected(t *testing.T) {
	tests := []struct {
		name, secret, pass, inMsg string
	}{
		{"bad client secret", "wrong-secret", "s3cret-Pa55", "refused the API client credentials: Authentication Failure (HTTP 401)"},
		{"wrong password", "csecret-9d8c7b", "wrong-Pa55", "Authentication Failed: Invalid user credentials (HTTP 401)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, srv := newOneLogin(t, false)
			log, logs := debugLogger()
			o := &idp.OneLogin{
				Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
				ClientID: "cid-1", ClientSecret: tt.secret,
				BaseURL: srv.URL, Subdomain: "corp", AppID: "123456",
				Prompter: idp.Fixed{User: "alice@corp.example", Pass: tt.pass},
			}
			_, err := o.Assertion(context.Background())
			if !errors.Is(err, idp.ErrAccessDenied) || !strings.Contains(err.Error(), tt.inMsg) {
				t.Fatalf("err = %v, want ErrAccessDenied saying %q", err, tt.inMsg)
			}
			assertNoSecret(t, "error", err.Error(), tt.secret, tt.pass)
			assertNoSecret(t, "log", logs.String(), tt.secret, tt.pass)
		})
	}
}

// TestOneLoginConcurrent: callers share one client and one access token.
func TestOneLoginConcurrent(t *testing.T) {
	fake, srv := newOneLogin(t, false)
	o := &idp.OneLogin{
		Options:  idp.Options{HTTPClient: srv.Client()},
		ClientID: "cid-1", ClientSecret: "csecret-9d8c7b",
		BaseURL: srv.URL, Subdomain: "corp", AppID: "123456",
		Prompter: idp.Fixed{User: "alice@corp.example", Pass: "s3cret-Pa55"},
	}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			if _, err := o.Assertion(context.Background()); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if fake.tokens != 1 {
		t.Errorf("asked for %d access tokens, want 1", fake.tokens)
	}
}
