package idp_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func debugLogger() (*slog.Logger, *syncBuffer) {
	buf := &syncBuffer{}
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}

// assertNoSecret fails when a secret shows up in an error or the logs.
func assertNoSecret(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%q):\n%s", where, s, text)
		}
	}
}

// simpleSAML starts a SimpleSAMLphp granting roles in two accounts.
func simpleSAML(t *testing.T) *testpeer.SimpleSAML {
	t.Helper()
	return testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{Accounts: []string{"111111111111", "222222222222"}})
}

func roleSet(r *saml.Response) []string {
	var out []string
	for _, role := range r.Roles {
		out = append(out, role.RoleARN+" via "+role.PrincipalARN)
	}
	slices.Sort(out)
	return out
}

func TestFormSimpleSAMLphp(t *testing.T) {
	idpPeer := simpleSAML(t)
	ctx := context.Background()

	tests := []struct {
		user, pass string
		roles      []string
	}{
		{"alice", "alicepass", []string{
			"arn:aws:iam::111111111111:role/Admin via arn:aws:iam::111111111111:saml-provider/SimpleSAML",
			"arn:aws:iam::111111111111:role/Dev via arn:aws:iam::111111111111:saml-provider/SimpleSAML",
			"arn:aws:iam::222222222222:role/Admin via arn:aws:iam::222222222222:saml-provider/SimpleSAML",
			"arn:aws:iam::222222222222:role/Dev via arn:aws:iam::222222222222:saml-provider/SimpleSAML",
		}},
		{"bob", "bobpass", []string{
			"arn:aws:iam::111111111111:role/Dev via arn:aws:iam::111111111111:saml-provider/SimpleSAML",
			"arn:aws:iam::222222222222:role/Dev via arn:aws:iam::222222222222:saml-provider/SimpleSAML",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.user, func(t *testing.T) {
			log, logs := debugLogger()
			f := &idp.Form{
				Options:  idp.Options{Logger: log},
				URL:      idpPeer.AWSLoginURL,
				Prompter: idp.Fixed{User: tt.user, Pass: tt.pass},
			}
			b64, err := f.Assertion(ctx)
			if err != nil {
				t.Fatal(err)
			}
			r, err := saml.Parse(b64)
			if err != nil {
				t.Fatal(err)
			}
			if got := roleSet(r); !slices.Equal(got, tt.roles) {
				t.Errorf("roles:\n got %q\nwant %q", got, tt.roles)
			}
			if r.NameID != tt.user || r.RoleSessionName != tt.user || r.Issuer != idpPeer.EntityID {
				t.Errorf("NameID %q RoleSessionName %q Issuer %q", r.NameID, r.RoleSessionName, r.Issuer)
			}
			if !slices.Contains(r.Audiences, "urn:amazon:webservices") {
				t.Errorf("Audiences = %v", r.Audiences)
			}
			if !strings.Contains(logs.String(), "submitting login form") {
				t.Errorf("debug log does not show the login step:\n%s", logs)
			}
			assertNoSecret(t, "log", logs.String(), tt.pass, b64[:64])

			// The IdP session cookie is kept: a second assertion needs no password.
			f.Prompter = idp.Fixed{}
			again, err := f.Assertion(ctx)
			if err != nil {
				t.Fatalf("second assertion with the live IdP session: %v", err)
			}
			if r2, err := saml.Parse(again); err != nil || r2.NameID != tt.user {
				t.Errorf("second assertion: %v %v", r2, err)
			}
		})
	}
}

// TestFormBobPrincipalRoleOrder checks that bob's values really come in
// principal,role order from the IdP, so both orders are read from a real one.
func TestFormBobPrincipalRoleOrder(t *testing.T) {
	idpPeer := simpleSAML(t)
	f := &idp.Form{URL: idpPeer.AWSLoginURL, Prompter: idp.Fixed{User: "bob", Pass: "bobpass"}}
	b64, err := f.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	xml := decode(t, b64)
	if !strings.Contains(xml, "arn:aws:iam::111111111111:saml-provider/SimpleSAML,arn:aws:iam::111111111111:role/Dev") {
		t.Errorf("bob's Role value is not in principal,role order in the IdP's response")
	}
}

func TestFormWrongPassword(t *testing.T) {
	idpPeer := simpleSAML(t)
	log, logs := debugLogger()
	const bad = "not-alices-password-42"
	f := &idp.Form{
		Options:  idp.Options{Logger: log},
		URL:      idpPeer.AWSLoginURL,
		Prompter: idp.Fixed{User: "alice", Pass: bad},
	}
	_, err := f.Assertion(context.Background())
	if !errors.Is(err, idp.ErrAccessDenied) {
		t.Fatalf("err = %v, want ErrAccessDenied", err)
	}
	t.Logf("user sees: %v", err)
	if !strings.Contains(err.Error(), "Incorrect username or password") {
		t.Errorf("error %q does not pass on the IdP's message", err)
	}
	assertNoSecret(t, "error", err.Error(), bad)
	assertNoSecret(t, "log", logs.String(), bad)
}

func TestFormUnknownSP(t *testing.T) {
	idpPeer := simpleSAML(t)
	u, err := url.Parse(idpPeer.AWSLoginURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("spentityid", "urn:not:configured")
	u.RawQuery = q.Encode()
	log, logs := debugLogger()
	f := &idp.Form{
		Options:  idp.Options{Logger: log},
		URL:      u.String(),
		Prompter: idp.Fixed{User: "alice", Pass: "alicepass"},
	}
	_, err = f.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoAssertion) {
		t.Fatalf("err = %v, want ErrNoAssertion", err)
	}
	t.Logf("user sees: %v", err)
	if !strings.Contains(err.Error(), "HTTP ") || strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("error %q should name the HTTP status on one line", err)
	}
	assertNoSecret(t, "error", err.Error(), "alicepass")
	assertNoSecret(t, "log", logs.String(), "alicepass")
}

// TestCaptureFixture rewrites ../testdata/simplesamlphp-alice.b64 from the
// real IdP when ROLEHOP_CAPTURE_FIXTURE=1.
func TestCaptureFixture(t *testing.T) {
	if os.Getenv("ROLEHOP_CAPTURE_FIXTURE") != "1" {
		t.Skip("set ROLEHOP_CAPTURE_FIXTURE=1 to capture a fresh saml/testdata fixture")
	}
	idpPeer := testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{})
	f := &idp.Form{URL: idpPeer.AWSLoginURL, Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}}
	b64, err := f.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("../testdata/simplesamlphp-alice.b64", []byte(b64+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func decode(t *testing.T, b64 string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
