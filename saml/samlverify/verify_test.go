package samlverify

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/saml"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/rolehop/rolehop/internal/samltest"
)

var (
	idpOnce        sync.Once
	mainIdP, other *samltest.IdP
)

// idps are the test IdP and a foreign one, from testdata (stable keys, so
// fuzz corpora stay valid).
func idps(t testing.TB) (*samltest.IdP, *samltest.IdP) {
	idpOnce.Do(func() {
		mainIdP = samltest.LoadIdP(t, "../testdata/test-idp.pem", tIssuer)
		other = samltest.LoadIdP(t, "../testdata/other-idp.pem", tIssuer)
	})
	return mainIdP, other
}

const (
	tIssuer    = "https://idp.example.com/metadata"
	tAudience  = "urn:amazon:webservices"
	tRecipient = "https://signin.aws.amazon.com/saml"
	// secretMarker is an attribute value no error may repeat.
	secretMarker = "attribute-value-that-must-not-leak"
)

// t0 is the crafted assertions' issue instant; tNow is when they are
// verified.
var (
	t0   = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tNow = t0.Add(30 * time.Second)
)

// defaultShape is the valid response the refusal cases alter.
func defaultShape() samltest.Response {
	return samltest.Response{
		IssueInstant: t0,
		Attributes: append(samltest.AWSAttributes("alice", 3600, "arn:aws:iam::111111111111:role/Dev,arn:aws:iam::111111111111:saml-provider/Corp"),
			samltest.Attribute{Name: "groups", Values: []string{"dev", secretMarker}}),
	}
}

func craft(t testing.TB, idp *samltest.IdP, r samltest.Response) []byte {
	t.Helper()
	return idp.XML(t, r)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func testTrust(idp *samltest.IdP) Trust {
	return Trust{
		Issuer: tIssuer, Certs: []*x509.Certificate{idp.Cert},
		Audiences: []string{tAudience, "https://signin.aws.amazon.com/saml"}, Recipients: []string{tRecipient},
		AllowIdPInitiated: true,
	}
}

// checkSigned asserts r carries exactly what the crafted shapes sign.
func checkSigned(t testing.TB, r *saml.Response) {
	t.Helper()
	if r.NameID != "alice" || r.Issuer != tIssuer || r.RoleSessionName != "alice" || r.SessionDuration != time.Hour ||
		len(r.Roles) != 1 || r.Roles[0].RoleARN != "arn:aws:iam::111111111111:role/Dev" ||
		strings.Join(r.Attributes["groups"], ",") != "dev,"+secretMarker || r.ID != "_assert1" {
		t.Fatalf("verified response does not hold the signed values: %+v", r)
	}
}

func TestVerifyCraftedValid(t *testing.T) {
	idp, _ := idps(t)
	for _, c := range []struct {
		name           string
		resp, assertIt bool
	}{{"both signed", true, true}, {"response signed", true, false}, {"assertion signed", false, true}} {
		t.Run(c.name, func(t *testing.T) {
			s := defaultShape()
			s.UnsignedResponse, s.UnsignedAssertion = !c.resp, !c.assertIt
			r, err := Verify(b64(craft(t, idp, s)), testTrust(idp), tNow)
			if err != nil {
				t.Fatal(err)
			}
			checkSigned(t, r)
			if !r.NotOnOrAfter.Equal(t0.Add(5*time.Minute)) || !r.IssueInstant.Equal(t0) || r.Recipient != tRecipient {
				t.Errorf("times/recipient: %+v", r)
			}
		})
	}
}

// mutate returns the crafted document with old replaced by new.
func mutate(t testing.TB, doc []byte, old, new string) []byte {
	t.Helper()
	if !strings.Contains(string(doc), old) {
		t.Fatalf("document lacks %q", old)
	}
	return []byte(strings.Replace(string(doc), old, new, 1))
}

func TestVerifyRefuses(t *testing.T) {
	idp, foreign := idps(t)
	base := defaultShape()
	with := func(f func(*samltest.Response)) []byte { s := base; f(&s); return craft(t, idp, s) }
	signedAssertionOnly := with(func(s *samltest.Response) { s.UnsignedResponse = true })
	evilShape := base
	evilShape.NameID = "admin"

	// XSW: an unsigned evil assertion in place, the signed one hidden in
	// the Status's StatusDetail.
	wrapped := func() []byte {
		d := etree.NewDocument()
		if err := d.ReadFromBytes(signedAssertionOnly); err != nil {
			t.Fatal(err)
		}
		root := d.Root()
		orig := root.SelectElement("Assertion")
		root.RemoveChild(orig)
		detail := root.SelectElement("Status").CreateElement("samlp:StatusDetail")
		detail.AddChild(orig)
		evil := etree.NewDocument()
		if err := evil.ReadFromString(idp.AssertionXML(evilShape, "_assert1")); err != nil {
			t.Fatal(err)
		}
		root.AddChild(evil.Root())
		b, _ := d.WriteToBytes()
		return b
	}()
	// XSW: the signed assertion kept, an evil copy with the same ID put
	// before it (two assertions, first unsigned).
	cloned := func() []byte {
		evil := idp.AssertionXML(evilShape, "_assert1")
		return mutate(t, signedAssertionOnly, "<saml:Assertion ", evil+"<saml:Assertion ")
	}()

	for _, c := range []struct {
		name  string
		doc   []byte
		trust func(*Trust)
		now   time.Time
		kind  error
		also  error
	}{
		{"unsigned", with(func(s *samltest.Response) { s.UnsignedResponse, s.UnsignedAssertion = true, true }), nil, tNow, ErrSignature, nil},
		{"attribute altered after signing", mutate(t, signedAssertionOnly, "role/Dev", "role/Admin"), nil, tNow, ErrSignature, crewsaml.ErrInvalidSignature},
		{"NameID altered in a signed response", mutate(t, with(func(s *samltest.Response) { s.UnsignedAssertion = true }), ">alice<", ">admin<"), nil, tNow, ErrSignature, nil},
		{"SHA-1 signature", with(func(s *samltest.Response) { s.SHA1 = true }), nil, tNow, ErrSignature, crewsaml.ErrUnsupported},
		{"SHA-1 assertion in unsigned response", with(func(s *samltest.Response) { s.SHA1, s.UnsignedResponse = true, true }), nil, tNow, ErrSignature, crewsaml.ErrUnsupported},
		{"foreign certificate", with(func(s *samltest.Response) { s.Signer = foreign }), nil, tNow, ErrSignature, nil},
		{"foreign issuer", with(func(s *samltest.Response) { s.Issuer = "https://evil.example.com/idp" }), nil, tNow, ErrIssuer, nil},
		{"wrong audience", with(func(s *samltest.Response) { s.Audience = "https://other-sp.example.com" }), nil, tNow, ErrAudience, nil},
		{"wrong recipient", with(func(s *samltest.Response) { s.Recipient, s.Destination = "https://evil.example.com/acs", tRecipient }), nil, tNow, ErrRecipient, nil},
		{"wrong destination", with(func(s *samltest.Response) { s.Destination = "https://evil.example.com/acs" }), nil, tNow, ErrDestination, nil},
		{"expired", nil, nil, t0.Add(5*time.Minute + DefaultClockSkew), ErrExpired, nil},
		{"too old", nil, func(tr *Trust) { tr.MaxAge = time.Minute }, t0.Add(61 * time.Second), ErrExpired, nil},
		{"not yet valid", with(func(s *samltest.Response) { s.NotBefore = t0.Add(10 * time.Minute) }), nil, tNow, ErrNotYetValid, nil},
		{"issued in the future", nil, nil, t0.Add(-DefaultClockSkew - time.Second), ErrNotYetValid, nil},
		{"two assertions in a signed response", with(func(s *samltest.Response) { s.Assertions = 2 }), nil, tNow, ErrMalformed, saml.ErrMultipleAssertions},
		{"XSW: signed assertion hidden in StatusDetail", wrapped, nil, tNow, ErrSignature, nil},
		{"XSW: evil assertion before the signed one", cloned, nil, tNow, ErrMalformed, saml.ErrMultipleAssertions},
		{"IdP-initiated not allowed", nil, func(tr *Trust) { tr.AllowIdPInitiated = false; tr.RequestIDs = []string{"_req1"} }, tNow, ErrRequestID, nil},
		{"InResponseTo of another request", with(func(s *samltest.Response) { s.InResponseTo = "_other" }), func(tr *Trust) { tr.RequestIDs = []string{"_req1"} }, tNow, ErrRequestID, nil},
		{"IdP error status", with(func(s *samltest.Response) {
			s.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder"
			s.Assertions = -1
		}), nil, tNow, ErrStatus, nil},
		{"encrypted", []byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:EncryptedAssertion/></samlp:Response>`), nil, tNow, ErrMalformed, saml.ErrEncryptedAssertion},
		{"bare assertion", []byte(idp.AssertionXML(base, "_a")), nil, tNow, ErrMalformed, nil},
		{"not xml", []byte("not xml at all"), nil, tNow, ErrMalformed, saml.ErrNotXML},
		{"too large", nil, func(tr *Trust) { tr.MaxSize = 1000 }, tNow, ErrTooLarge, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := c.doc
			if doc == nil {
				doc = craft(t, idp, base)
			}
			tr := testTrust(idp)
			if c.trust != nil {
				c.trust(&tr)
			}
			raw := b64(doc)
			r, err := Verify(raw, tr, c.now)
			if err == nil {
				t.Fatalf("accepted: %+v", r)
			}
			var ve *VerifyError
			if !errors.As(err, &ve) || !errors.Is(err, c.kind) {
				t.Fatalf("err = %v, want a *VerifyError of kind %v", err, c.kind)
			}
			if c.also != nil && !errors.Is(err, c.also) {
				t.Errorf("err = %v, want it to match %v too", err, c.also)
			}
			msg := err.Error()
			if strings.Contains(msg, secretMarker) || strings.Contains(msg, raw[:min(40, len(raw))]) || strings.ContainsAny(msg, "\n\r") || len(msg) > 300 {
				t.Errorf("error leaks the assertion or is not one short line: %q", msg)
			}
			var ire *crewsaml.InvalidResponseError
			if errors.As(err, &ire) {
				t.Errorf("error chain keeps crewjam's InvalidResponseError, which holds the document")
			}
		})
	}
}

// TestVerifyCommentInjectedNameID: a comment inserted into the signed
// NameID (the classic "user@user.com<!---->.evil.com" attack) leaves the
// signature valid under exclusive c14n; the verified value must be the
// whole signed text, not its first text node.
func TestVerifyCommentInjectedNameID(t *testing.T) {
	idp, _ := idps(t)
	s := defaultShape()
	s.NameID = "alice@example.com.evil.example"
	doc := craft(t, idp, s)
	injected := []byte(strings.ReplaceAll(string(doc), "alice@example.com.evil.example", "alice@example.com<!---->.evil.example"))
	r, err := Verify(b64(injected), testTrust(idp), tNow)
	if err != nil {
		t.Fatalf("comment in a signed NameID: %v", err)
	}
	if r.NameID != "alice@example.com.evil.example" {
		t.Fatalf("NameID = %q, want the whole signed value", r.NameID)
	}
}

type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

func (m *memReplay) Consume(id string, until time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.seen[id]; ok {
		return ErrReplay
	}
	m.seen[id] = until
	return nil
}

func TestVerifyReplayAndRequestIDs(t *testing.T) {
	idp, _ := idps(t)
	s := defaultShape()
	s.InResponseTo = "_req1"
	raw := b64(craft(t, idp, s))
	cache := &memReplay{seen: map[string]time.Time{}}
	tr := testTrust(idp)
	tr.AllowIdPInitiated, tr.RequestIDs, tr.Replay = false, []string{"_req0", "_req1"}, cache
	r, err := Verify(raw, tr, tNow)
	if err != nil {
		t.Fatal(err)
	}
	if r.InResponseTo != "_req1" {
		t.Errorf("InResponseTo = %q", r.InResponseTo)
	}
	// Recorded until the earliest deadline: IssueInstant + MaxAge.
	if until := cache.seen["_assert1"]; !until.Equal(t0.Add(DefaultMaxAge)) {
		t.Errorf("replay cache keeps the ID until %v, want %v", until, t0.Add(DefaultMaxAge))
	}
	if _, err := Verify(raw, tr, tNow); !errors.Is(err, ErrReplay) {
		t.Fatalf("second use: %v, want ErrReplay", err)
	}
	broken := replayFunc(func(string, time.Time) error { return errors.New("redis: connection refused") })
	tr.Replay = broken
	if _, err := Verify(raw, tr, tNow); !errors.Is(err, ErrReplayCheck) || errors.Is(err, ErrReplay) {
		t.Fatalf("replay store down: %v, want ErrReplayCheck", err)
	}
}

type replayFunc func(string, time.Time) error

func (f replayFunc) Consume(id string, until time.Time) error { return f(id, until) }

func TestVerifyTrustConfig(t *testing.T) {
	idp, _ := idps(t)
	for name, mod := range map[string]func(*Trust){
		"no certs":        func(tr *Trust) { tr.Certs = nil },
		"no issuer":       func(tr *Trust) { tr.Issuer = "" },
		"no audience":     func(tr *Trust) { tr.Audiences = nil },
		"no recipient":    func(tr *Trust) { tr.Recipients = nil },
		"relative ACS":    func(tr *Trust) { tr.Recipients = []string{"/saml/acs"} },
		"bad destination": func(tr *Trust) { tr.Destination = "not a url" },
	} {
		tr := testTrust(idp)
		mod(&tr)
		if _, err := Verify("eA==", tr, tNow); !errors.Is(err, ErrVerifyConfig) {
			t.Errorf("%s: %v, want ErrVerifyConfig", name, err)
		}
	}
	// AnyIssuer: the certificate alone is the anchor.
	tr := testTrust(idp)
	tr.Issuer, tr.AnyIssuer = "", true
	s := defaultShape()
	s.Issuer = "https://whoever.example.com"
	if r, err := Verify(b64(craft(t, idp, s)), tr, tNow); err != nil || r.Issuer != "https://whoever.example.com" {
		t.Fatalf("AnyIssuer: %v", err)
	}
}

// TestVerifyRealSimpleSAMLphpFixture verifies the captured SimpleSAMLphp
// response (RSA-SHA256, Response and Assertion signed) at a moment it was
// valid, and gives the same values Parse reads.
func TestVerifyRealSimpleSAMLphpFixture(t *testing.T) {
	raw := fixture(t)
	pemCert, err := os.ReadFile("../testdata/simplesamlphp-idp.pem")
	if err != nil {
		t.Fatal(err)
	}
	_, certs, err := ParseIdP(pemCert)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := saml.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	tr := Trust{Issuer: parsed.Issuer, Certs: certs, Audiences: []string{"urn:amazon:webservices"},
		Recipients: []string{"https://signin.aws.amazon.com/saml"}, AllowIdPInitiated: true, MaxAge: 5 * time.Minute}
	at := parsed.IssueInstant.Add(time.Minute)
	r, err := Verify(raw, tr, at)
	if err != nil {
		t.Fatalf("genuine SimpleSAMLphp response: %v", err)
	}
	if r.NameID != "alice" || r.SessionDuration != time.Hour || r.RoleSessionName != "alice" ||
		fmt.Sprint(r.Roles) != fmt.Sprint(parsed.Roles) || !r.NotOnOrAfter.Equal(parsed.NotOnOrAfter) ||
		r.Issuer != parsed.Issuer || r.ID != parsed.ID || len(r.Roles) == 0 {
		t.Fatalf("Verify and Parse disagree:\n%+v\n%+v", r, parsed)
	}
	if _, err := Verify(raw, tr, parsed.NotOnOrAfter.Add(DefaultClockSkew)); !errors.Is(err, ErrExpired) {
		t.Errorf("after NotOnOrAfter: %v", err)
	}
	_, foreign := idps(t)
	tr.Certs = []*x509.Certificate{foreign.Cert}
	if _, err := Verify(raw, tr, at); !errors.Is(err, ErrSignature) || !errors.Is(err, crewsaml.ErrUntrustedCertificate) {
		t.Errorf("another IdP's certificate: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	idp, _ := idps(f)
	for _, mod := range []func(*samltest.Response){
		func(*samltest.Response) {},
		func(s *samltest.Response) { s.UnsignedResponse = true },
		func(s *samltest.Response) { s.UnsignedAssertion = true },
		func(s *samltest.Response) { s.Assertions = 2 },
	} {
		s := defaultShape()
		mod(&s)
		f.Add(craft(f, idp, s))
	}
	if b, err := base64.StdEncoding.DecodeString(fixture(f)); err == nil {
		f.Add(b)
	}
	tr := testTrust(idp)
	f.Fuzz(func(t *testing.T, doc []byte) {
		r, err := Verify(b64(doc), tr, tNow)
		if err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("not a *VerifyError: %v", err)
			}
			return
		}
		// Only signed content is ever read, and every seed signs the same
		// values: a result is those values or nothing.
		checkSigned(t, r)
	})
}

// BenchmarkVerifySimpleSAMLphp: one genuine SimpleSAMLphp response
// (Response and Assertion signed, RSA-2048, SHA-256) verified per op: what
// the broker's ACS and the test STS do per login.
func BenchmarkVerifySimpleSAMLphp(b *testing.B) {
	raw := fixture(b)
	pemCert, err := os.ReadFile("../testdata/simplesamlphp-idp.pem")
	if err != nil {
		b.Fatal(err)
	}
	_, certs, err := ParseIdP(pemCert)
	if err != nil {
		b.Fatal(err)
	}
	parsed, err := saml.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	tr := Trust{Issuer: parsed.Issuer, Certs: certs, Audiences: []string{"urn:amazon:webservices"},
		Recipients: []string{"https://signin.aws.amazon.com/saml"}, AllowIdPInitiated: true}
	at := parsed.IssueInstant.Add(time.Minute)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(raw, tr, at); err != nil {
			b.Fatal(err)
		}
	}
}

// fixture is the genuine SimpleSAMLphp response package saml's tests read.
func fixture(t testing.TB) string {
	b, err := os.ReadFile("../testdata/simplesamlphp-alice.b64")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
