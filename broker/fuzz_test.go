package broker_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rolehop/rolehop/broker"
	"github.com/rolehop/rolehop/internal/samltest"
)

// captured keeps the audit records of a fuzzed broker.
type captured struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *captured) Enabled(context.Context, slog.Level) bool { return true }
func (c *captured) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}
func (c *captured) WithAttrs([]slog.Attr) slog.Handler { return c }
func (c *captured) WithGroup(string) slog.Handler      { return c }

func (c *captured) take() []slog.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.recs
	c.recs = nil
	return r
}

// FuzzACS posts arbitrary SAMLResponse documents and RelayStates to the
// ACS of a broker that trusts the test IdP and accepts IdP-initiated
// logins. No input may panic it, and a session is only ever made for what
// the test key signed: user alice with groups dev and admins, and then
// only to a local path.
//
//	go test -run '^$' -fuzz FuzzACS -fuzztime 60s ./broker/
func FuzzACS(f *testing.F) {
	idp, foreignKey := idps(f)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dir := f.TempDir()
	md := filepath.Join(dir, "idp.xml")
	if err := os.WriteFile(md, idpMetadataXML(idp, idpSSO), 0o600); err != nil {
		f.Fatal(err)
	}
	const ext = "https://broker.example.org"
	cfg, err := broker.ParseConfig([]byte("external_url: "+ext+"\nidp:\n  metadata_file: "+md+"\n  allow_idp_initiated: true\n"+adminDevTargets), "fuzz.yaml")
	if err != nil {
		f.Fatal(err)
	}
	audit := &captured{}
	srv, err := broker.New(f.Context(), cfg, broker.Deps{
		Base:  aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(brokerKeyID, brokerSecret, "")},
		Audit: slog.New(audit),
		Now:   func() time.Time { return t0.Add(30 * time.Second) },
	})
	if err != nil {
		f.Fatal(err)
	}
	shape := samltest.Response{
		IssueInstant: t0, Audience: cfg.EntityID, Recipient: ext + "/saml/acs", NameID: "alice",
		Attributes: []samltest.Attribute{{Name: "groups", Values: []string{"dev", "admins"}}},
	}
	for _, mod := range []func(*samltest.Response){
		func(*samltest.Response) {},
		func(s *samltest.Response) { s.UnsignedResponse = true },
		func(s *samltest.Response) { s.UnsignedAssertion = true },
		func(s *samltest.Response) { s.Assertions = 2 },
		func(s *samltest.Response) { s.Signer = foreignKey },
		func(s *samltest.Response) { s.InResponseTo = "id-123" },
	} {
		s := shape
		mod(&s)
		f.Add(craft(f, idp, s), "/prod-admin")
	}
	f.Add([]byte("<x/>"), "https://evil.example/")
	post := func(doc []byte, relay string) *httptest.ResponseRecorder {
		form := url.Values{"SAMLResponse": {b64(doc)}, "RelayState": {relay}}
		req := httptest.NewRequest(http.MethodPost, ext+"/saml/acs", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		return rec
	}
	// The fixture is valid: a fresh signed response is accepted.
	if rec := post(craft(f, idp, shape), "/"); rec.Code != http.StatusSeeOther {
		f.Fatalf("a valid response was refused: %d", rec.Code)
	}
	audit.take()
	f.Fuzz(func(t *testing.T, doc []byte, relay string) {
		rec := post(doc, relay)
		recs := audit.take()
		made := setsSession(rec.Result())
		if rec.Code == http.StatusSeeOther != made {
			t.Fatalf("status %d but session cookie set = %v", rec.Code, made)
		}
		if !made {
			return
		}
		loc := rec.Header().Get("Location")
		if loc != ext+"/" && loc != ext+"/prod-admin" && loc != ext+"/prod-dev" {
			t.Fatalf("redirected to %q", loc)
		}
		var user string
		var groups []string
		for _, r := range recs {
			if r.Message != "login" {
				continue
			}
			r.Attrs(func(a slog.Attr) bool {
				switch a.Key {
				case "user":
					user = a.Value.String()
				case "groups":
					groups, _ = a.Value.Any().([]string)
				}
				return true
			})
		}
		if user != "alice" || !slices.Equal(groups, []string{"dev", "admins"}) {
			t.Fatalf("a session for %q %v: not what was signed", user, groups)
		}
	})
}
