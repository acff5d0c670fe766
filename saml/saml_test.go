package saml

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"
)

// doc builds a SAML Response around the given attribute values and extra
// assertion children, in the shape real IdPs send.
func doc(roleValues []string, extra string) string {
	var vals strings.Builder
	for _, v := range roleValues {
		fmt.Fprintf(&vals, `<saml:AttributeValue xsi:type="xs:string">%s</saml:AttributeValue>`, v)
	}
	return `<?xml version="1.0"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r" Version="2.0">
 <saml:Issuer>https://idp.example.com/meta</saml:Issuer>
 <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
 <saml:Assertion xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" ID="_a" Version="2.0">
  <saml:Issuer>https://idp.example.com/meta</saml:Issuer>
  <saml:Subject>
   <saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">alice</saml:NameID>
   <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
    <saml:SubjectConfirmationData NotOnOrAfter="2026-01-02T03:09:00Z" Recipient="https://signin.aws.amazon.com/saml"/>
   </saml:SubjectConfirmation>
  </saml:Subject>
  <saml:Conditions NotBefore="2026-01-02T03:03:30Z" NotOnOrAfter="2026-01-02T03:10:00.5Z">
   <saml:AudienceRestriction><saml:Audience>urn:amazon:webservices</saml:Audience></saml:AudienceRestriction>
  </saml:Conditions>
  <saml:AttributeStatement>
   <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/Role">` + vals.String() + `</saml:Attribute>
   <saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/RoleSessionName"><saml:AttributeValue>alice</saml:AttributeValue></saml:Attribute>
   ` + extra + `
  </saml:AttributeStatement>
 </saml:Assertion>
</samlp:Response>`
}

func enc(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

const (
	adminRole = "arn:aws:iam::111111111111:role/Admin"
	devRole   = "arn:aws:iam::222222222222:role/team/Dev"
	prov1     = "arn:aws:iam::111111111111:saml-provider/Corp"
	prov2     = "arn:aws:iam::222222222222:saml-provider/Corp"
)

func TestParseBothOrdersAndWhitespace(t *testing.T) {
	in := doc([]string{
		adminRole + "," + prov1,           // role,principal
		"\n  " + prov2 + " ,\t" + devRole, // principal,role with stray whitespace
	}, `<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"><saml:AttributeValue> 3600 </saml:AttributeValue></saml:Attribute>`)
	// Wrapped at 76 columns as IdPs and mail tools do.
	b64 := enc(in)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))] + "\r\n")
	}
	r, err := Parse(wrapped.String())
	if err != nil {
		t.Fatal(err)
	}
	want := []Role{{adminRole, prov1}, {devRole, prov2}}
	if len(r.Roles) != 2 || r.Roles[0] != want[0] || r.Roles[1] != want[1] {
		t.Fatalf("Roles = %v, want %v", r.Roles, want)
	}
	if r.Roles[1].AccountID() != "222222222222" || r.Roles[1].Name() != "Dev" {
		t.Errorf("Dev role: account %q name %q", r.Roles[1].AccountID(), r.Roles[1].Name())
	}
	if r.Issuer != "https://idp.example.com/meta" || r.NameID != "alice" ||
		r.NameIDFormat != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" || r.RoleSessionName != "alice" {
		t.Errorf("identity fields: %+v", r)
	}
	if r.SessionDuration != time.Hour {
		t.Errorf("SessionDuration = %v, want 1h", r.SessionDuration)
	}
	// Subject confirmation (03:09) is earlier than Conditions (03:10:00.5).
	if want := time.Date(2026, 1, 2, 3, 9, 0, 0, time.UTC); !r.NotOnOrAfter.Equal(want) {
		t.Errorf("NotOnOrAfter = %v, want %v", r.NotOnOrAfter, want)
	}
	if want := time.Date(2026, 1, 2, 3, 3, 30, 0, time.UTC); !r.NotBefore.Equal(want) {
		t.Errorf("NotBefore = %v, want %v", r.NotBefore, want)
	}
	if len(r.Audiences) != 1 || r.Audiences[0] != "urn:amazon:webservices" {
		t.Errorf("Audiences = %v", r.Audiences)
	}
	if r.Raw != b64 {
		t.Errorf("Raw is not the input without whitespace")
	}
	var logged strings.Builder
	slog.New(slog.NewTextHandler(&logged, nil)).Info("parsed", "response", r, "value", *r)
	if strings.Contains(r.String(), r.Raw) || strings.Contains(fmt.Sprintf("%v %+v", r, *r), r.Raw) || strings.Contains(logged.String(), r.Raw[:40]) {
		t.Errorf("String() leaks the raw assertion")
	}
	if r.Expired(time.Date(2026, 1, 2, 3, 8, 59, 0, time.UTC)) {
		t.Errorf("expired a second before NotOnOrAfter")
	}
	if !r.Expired(r.NotOnOrAfter) {
		t.Errorf("not expired at NotOnOrAfter")
	}
	if got := r.RolesFor("222222222222", "dev"); len(got) != 1 || got[0].RoleARN != devRole {
		t.Errorf("RolesFor(222..., dev) = %v", got)
	}
	if got := r.RolesFor("222222222222", "team/Dev"); len(got) != 1 {
		t.Errorf("RolesFor with path = %v", got)
	}
	if got := r.RolesFor("111111111111", "Dev"); len(got) != 0 {
		t.Errorf("RolesFor(111..., Dev) = %v, want none", got)
	}
	if got := r.RolesFor("", "Admin"); len(got) != 1 {
		t.Errorf("RolesFor(any, Admin) = %v", got)
	}
}

func TestParseAbsentFields(t *testing.T) {
	// No SessionDuration, no roles at all (a user without groups): not an error.
	r, err := Parse(enc(doc(nil, "")))
	if err != nil {
		t.Fatal(err)
	}
	if r.SessionDuration != 0 || len(r.Roles) != 0 {
		t.Errorf("SessionDuration %v roles %v, want 0 and none", r.SessionDuration, r.Roles)
	}
	// Unpadded base64 is tolerated.
	if _, err := Parse(strings.TrimRight(enc(doc(nil, "")+" "), "=")); err != nil {
		t.Errorf("unpadded: %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	good := adminRole + "," + prov1
	withAssertion := func(a string) string {
		return enc(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` + a + `</samlp:Response>`)
	}
	tests := []struct {
		name, in string
		kind     error
		inMsg    string
	}{
		{"empty", "  \n", ErrNotBase64, "empty"},
		{"not base64", "this is not base64!", ErrNotBase64, "base64"},
		{"not xml", enc("hello, world"), ErrNotXML, "not xml"},
		{"binary", enc("\x00\x01\x02<<"), ErrNotXML, "not xml"},
		{"truncated xml", enc(doc([]string{good}, "")[:400]), ErrNotXML, "not xml"},
		{"other root", enc(`<html><body>Sign in</body></html>`), ErrNoAssertion, "<html>"},
		{"no assertion", withAssertion(`<saml:Issuer>x</saml:Issuer>`), ErrNoAssertion, "no Assertion"},
		{"failed status", withAssertion(`<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"/></samlp:StatusCode><samlp:StatusMessage>bad user</samlp:StatusMessage></samlp:Status>`), ErrNoAssertion, "Responder/AuthnFailed: bad user"},
		{"encrypted", withAssertion(`<saml:EncryptedAssertion><xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"/></saml:EncryptedAssertion>`), ErrEncryptedAssertion, "not supported"},
		{"two assertions", withAssertion(`<saml:Assertion/><saml:Assertion/>`), ErrMultipleAssertions, "found 2"},
		{"no comma", enc(doc([]string{adminRole + " " + prov1}, "")), ErrBadRoleValue, "no comma"},
		{"three parts", enc(doc([]string{good + "," + prov1}, "")), ErrBadRoleValue, "2 commas"},
		{"two roles", enc(doc([]string{adminRole + "," + adminRole}, "")), ErrBadRoleValue, "one role ARN and one saml-provider"},
		{"not an arn", enc(doc([]string{"Admin," + prov1}, "")), ErrNotARN, `"Admin" is not an IAM ARN`},
		{"not iam", enc(doc([]string{"arn:aws:s3:::bucket," + prov1}, "")), ErrNotARN, "not an IAM ARN"},
		{"bad account", enc(doc([]string{"arn:aws:iam::1234:role/A," + prov1}, "")), ErrNotARN, "not an IAM ARN"},
		{"bad duration", enc(doc([]string{good}, `<saml:Attribute Name="https://aws.amazon.com/SAML/Attributes/SessionDuration"><saml:AttributeValue>1h</saml:AttributeValue></saml:Attribute>`)), ErrBadValue, "SessionDuration"},
		{"bad time", enc(strings.Replace(doc([]string{good}, ""), "2026-01-02T03:09:00Z", "tomorrow", 1)), ErrBadValue, "xs:dateTime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse = %v, want error %v", r, tt.kind)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("error %q is not %v", err, tt.kind)
			}
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Kind != tt.kind {
				t.Errorf("error %q is not a *ParseError of kind %v", err, tt.kind)
			}
			if !strings.Contains(err.Error(), tt.inMsg) {
				t.Errorf("error %q does not say %q", err, tt.inMsg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q spans lines", err)
			}
		})
	}
}

// fixture is one real SimpleSAMLphp response (signed, long expired), captured
// by TestCaptureFixture in package idp; see testdata/README.
func fixture(t testing.TB) string {
	b, err := os.ReadFile("testdata/simplesamlphp-alice.b64")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseRealSimpleSAMLphpResponse(t *testing.T) {
	r, err := Parse(fixture(t))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, role := range r.Roles {
		got[role.RoleARN] = role.PrincipalARN
	}
	want := map[string]string{
		"arn:aws:iam::111111111111:role/Admin": "arn:aws:iam::111111111111:saml-provider/SimpleSAML",
		"arn:aws:iam::111111111111:role/Dev":   "arn:aws:iam::111111111111:saml-provider/SimpleSAML",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("roles = %v, want %v", got, want)
	}
	if r.NameID != "alice" || r.RoleSessionName != "alice" || r.SessionDuration != time.Hour {
		t.Errorf("NameID %q RoleSessionName %q SessionDuration %v", r.NameID, r.RoleSessionName, r.SessionDuration)
	}
	// SimpleSAMLphp grants 5 minutes (NotBefore is 30 s in the past).
	if w := r.NotOnOrAfter.Sub(r.NotBefore); w <= 0 || w > 10*time.Minute || !r.Expired(r.NotOnOrAfter) || r.Expired(r.NotBefore) {
		t.Errorf("validity window %v..%v", r.NotBefore, r.NotOnOrAfter)
	}
	if len(r.Audiences) != 1 || r.Audiences[0] != "urn:amazon:webservices" {
		t.Errorf("Audiences = %v", r.Audiences)
	}
	if !strings.HasSuffix(r.Issuer, "/saml2/idp/metadata.php") {
		t.Errorf("Issuer = %q", r.Issuer)
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/simplesamlphp-alice.b64"); err == nil {
		f.Add(string(b))
	}
	f.Add(enc(doc([]string{adminRole + "," + prov1, prov2 + "," + devRole}, "")))
	f.Add(enc(doc([]string{"a,b,c"}, "")))
	f.Add(enc(`<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"/>`))
	f.Add("not base64")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse(in)
		if err == nil {
			_ = r.String()
			for _, role := range r.Roles {
				if role.AccountID() == "" || role.Name() == "" || role.PrincipalARN == "" {
					t.Fatalf("accepted an incomplete role %v", role)
				}
			}
			_ = r.RolesFor("111111111111", "Admin")
			return
		}
		var pe *ParseError
		if !errors.As(err, &pe) {
			t.Fatalf("error %v is not a *ParseError", err)
		}
	})
}

func BenchmarkParse200Roles(b *testing.B) {
	var vals []string
	for i := range 200 {
		acct := fmt.Sprintf("%012d", 100000000000+i)
		vals = append(vals, fmt.Sprintf("arn:aws:iam::%s:role/Admin,arn:aws:iam::%s:saml-provider/Corp", acct, acct))
	}
	in := enc(doc(vals, ""))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(in); err != nil {
			b.Fatal(err)
		}
	}
}
