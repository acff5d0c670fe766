package idp_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode"

	"github.com/rolehop/rolehop/saml/idp"
)

// answerTransport answers OneLogin's three calls in process: the token call
// with a fixed token, the assertion and verify calls with the fuzzer's
// status and bodies.
type answerTransport struct {
	status             int
	assertion, verify  string
	verifyStatus       int
	contentType, token string
}

func (a answerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	status, body := http.StatusOK, `{"access_token":"`+a.token+`","expires_in":3600}`
	switch r.URL.Path {
	case "/api/2/saml_assertion":
		status, body = a.status, a.assertion
	case "/api/2/saml_assertion/verify_factor":
		status, body = a.verifyStatus, a.verify
	}
	return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {a.contentType}},
		Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
}

// FuzzOneLoginAnswers feeds arbitrary API answers to the OneLogin client:
// it must never panic, and every error must be one safe line without a
// secret (password, client secret, access token, one-time code).
func FuzzOneLoginAnswers(f *testing.F) {
	f.Add(200, `{"data":"PHNhbWw+","message":"Success"}`, 200, `{}`, "application/json")
	f.Add(401, `{"statusCode":401,"name":"Unauthorized","message":"Authentication Failed: Invalid user credentials"}`, 200, ``, "application/json")
	f.Add(200, `{"state_token":"st","message":"MFA is required","devices":[{"device_id":666666,"device_type":"OneLogin SMS"},{"device_id":"x","device_type":"Google Authenticator"}]}`,
		200, `{"data":"PHNhbWw+","message":"Success"}`, "application/json")
	f.Add(200, `{"state_token":"st","devices":[{"device_id":1,"device_type":"\u001b]0;t\u0007"}]}`, 401, `{"status":{"message":"bad s3cret-Pa55 code 123456"}}`, "text/html\x1b")
	f.Add(500, `not json`, 200, ``, "text/plain")
	f.Add(200, `{"data":123,"message":null}`, 200, ``, "")
	f.Fuzz(func(t *testing.T, status int, assertion string, verifyStatus int, verify, contentType string) {
		if status < 100 || status > 999 {
			status = 200
		}
		if verifyStatus < 100 || verifyStatus > 999 {
			verifyStatus = 200
		}
		const pass, secret, token, otp = "s3cret-Pa55", "csecret-9d8c7b", "tok-3f9a2c7e1b5d4a6f", "123456"
		o := &idp.OneLogin{
			Options: idp.Options{HTTPClient: &http.Client{Transport: answerTransport{status: status, assertion: assertion,
				verifyStatus: verifyStatus, verify: verify, contentType: contentType, token: token}}},
			BaseURL: "https://api.test.invalid", ClientID: "cid", ClientSecret: secret, Subdomain: "corp", AppID: "1",
			Prompter: idp.Fixed{User: "alice", Pass: pass, OTPCode: otp},
		}
		got, err := o.Assertion(context.Background())
		if err == nil {
			if strings.TrimSpace(got) == "" {
				t.Fatal("no error and no assertion")
			}
			return
		}
		msg := err.Error()
		for _, r := range msg {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("error carries %U: %q", r, msg)
			}
		}
		if len(msg) > 2000 {
			t.Fatalf("error is %d bytes", len(msg))
		}
		for _, s := range []string{pass, secret, token, otp} {
			if strings.Contains(msg, s) {
				t.Fatalf("error holds a secret %q: %s", s, msg)
			}
		}
	})
}
