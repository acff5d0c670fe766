// Package samltest crafts signed SAMLResponses for tests: what a real IdP
// (SimpleSAMLphp, see internal/testpeer) cannot be made to send — a wrong
// audience or recipient, a NotBefore in the future, SHA-1, two assertions,
// a foreign issuer — signed with a test key through goxmldsig's own
// signing context (enveloped signature, exclusive c14n, RSA-SHA256 unless
// SHA1 is asked for), in the shape SimpleSAMLphp sends: Signature right
// after the Issuer, Response and Assertion both signed by default.
//
// It is for tests only: the keys it makes or loads are throw-away.
package samltest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html"
	"math/big"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// AWS sign-in's SAML names.
const (
	AWSAudience  = "urn:amazon:webservices"
	AWSRecipient = "https://signin.aws.amazon.com/saml"
	AttrRole     = "https://aws.amazon.com/SAML/Attributes/Role"
	AttrSession  = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	AttrDuration = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
)

// IdP is a signing key, its certificate and an entity ID.
type IdP struct {
	EntityID string
	Key      crypto.Signer
	Cert     *x509.Certificate
	CertPEM  []byte
}

// NewIdP makes a fresh RSA-2048 key and a self-signed certificate.
func NewIdP(t testing.TB, entityID string) *IdP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "samltest-do-not-trust"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &IdP{EntityID: entityID, Key: key, Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// LoadIdP reads a PKCS#8 private key and a certificate from one PEM file
// (stable keys, e.g. for fuzz seeds).
func LoadIdP(t testing.TB, path, entityID string) *IdP {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	idp := &IdP{EntityID: entityID}
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		switch blk.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			idp.Key = k.(crypto.Signer)
		case "CERTIFICATE":
			if idp.Cert, err = x509.ParseCertificate(blk.Bytes); err != nil {
				t.Fatal(err)
			}
			idp.CertPEM = pem.EncodeToMemory(blk)
		}
	}
	if idp.Key == nil || idp.Cert == nil {
		t.Fatalf("%s: want a private key and a certificate", path)
	}
	return idp
}

// Attribute is one saml:Attribute.
type Attribute struct {
	Name   string
	Values []string
}

// AWSAttributes are the attributes AWS sign-in reads: one Role value per
// "roleARN,principalARN" pair, RoleSessionName and (when > 0)
// SessionDuration in seconds.
func AWSAttributes(sessionName string, duration int, roles ...string) []Attribute {
	attrs := []Attribute{{Name: AttrRole, Values: roles}, {Name: AttrSession, Values: []string{sessionName}}}
	if duration > 0 {
		attrs = append(attrs, Attribute{Name: AttrDuration, Values: []string{fmt.Sprint(duration)}})
	}
	return attrs
}

// Response describes a SAMLResponse to craft. Zero fields take the
// defaults of an IdP-initiated AWS sign-in.
type Response struct {
	Issuer       string    // default: the IdP's EntityID
	Audience     string    // default AWSAudience
	Recipient    string    // default AWSRecipient
	Destination  string    // default Recipient; NoDestination for none
	NameID       string    // default "alice"
	InResponseTo string    // on the Response and the SubjectConfirmationData
	IssueInstant time.Time // default time.Now()
	NotBefore    time.Time // default IssueInstant - 30s
	NotOnOrAfter time.Time // default IssueInstant + 5m
	Attributes   []Attribute
	Status       string // default Success
	Assertions   int    // default 1; -1 for none

	UnsignedResponse  bool
	UnsignedAssertion bool
	SHA1              bool // sign with RSA-SHA1 / SHA-1 digests
	Signer            *IdP // default: the IdP itself (another plays a foreign key)
}

// NoDestination leaves the Destination attribute out.
const NoDestination = "-"

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (r Response) withDefaults(idp *IdP) Response {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&r.Issuer, idp.EntityID)
	def(&r.Audience, AWSAudience)
	def(&r.Recipient, AWSRecipient)
	def(&r.Destination, r.Recipient)
	def(&r.NameID, "alice")
	def(&r.Status, "urn:oasis:names:tc:SAML:2.0:status:Success")
	if r.IssueInstant.IsZero() {
		r.IssueInstant = time.Now().UTC().Truncate(time.Second)
	}
	if r.NotBefore.IsZero() {
		r.NotBefore = r.IssueInstant.Add(-30 * time.Second)
	}
	if r.NotOnOrAfter.IsZero() {
		r.NotOnOrAfter = r.IssueInstant.Add(5 * time.Minute)
	}
	if r.Assertions == 0 {
		r.Assertions = 1
	}
	if r.Signer == nil {
		r.Signer = idp
	}
	return r
}

// AssertionXML is the unsigned saml:Assertion of r with the given ID.
func (idp *IdP) AssertionXML(r Response, id string) string {
	r = r.withDefaults(idp)
	x := html.EscapeString
	irt := ""
	if r.InResponseTo != "" {
		irt = ` InResponseTo="` + x(r.InResponseTo) + `"`
	}
	var attrs strings.Builder
	for _, a := range r.Attributes {
		attrs.WriteString(`<saml:Attribute Name="` + x(a.Name) + `" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">`)
		for _, v := range a.Values {
			attrs.WriteString(`<saml:AttributeValue xsi:type="xs:string">` + x(v) + `</saml:AttributeValue>`)
		}
		attrs.WriteString(`</saml:Attribute>`)
	}
	statement := ""
	if attrs.Len() > 0 {
		statement = `<saml:AttributeStatement>` + attrs.String() + `</saml:AttributeStatement>`
	}
	return `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="` + x(id) + `" Version="2.0" IssueInstant="` + stamp(r.IssueInstant) + `">` +
		`<saml:Issuer>` + x(r.Issuer) + `</saml:Issuer>` +
		`<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">` + x(r.NameID) + `</saml:NameID>` +
		`<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="` + stamp(r.NotOnOrAfter) + `" Recipient="` + x(r.Recipient) + `"` + irt + `/></saml:SubjectConfirmation></saml:Subject>` +
		`<saml:Conditions NotBefore="` + stamp(r.NotBefore) + `" NotOnOrAfter="` + stamp(r.NotOnOrAfter) + `"><saml:AudienceRestriction><saml:Audience>` + x(r.Audience) + `</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
		`<saml:AuthnStatement AuthnInstant="` + stamp(r.IssueInstant) + `" SessionIndex="_session1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>` +
		statement + `</saml:Assertion>`
}

// XML returns the SAMLResponse document r describes, signed as asked.
// Assertion IDs are _assert1, _assert2, ...; the Response's is _resp1.
func (idp *IdP) XML(t testing.TB, r Response) []byte {
	t.Helper()
	r = r.withDefaults(idp)
	x := html.EscapeString
	attrs := ""
	if r.Destination != NoDestination {
		attrs += ` Destination="` + x(r.Destination) + `"`
	}
	if r.InResponseTo != "" {
		attrs += ` InResponseTo="` + x(r.InResponseTo) + `"`
	}
	resp := parse(t, `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="`+
		stamp(r.IssueInstant)+`"`+attrs+`><saml:Issuer>`+x(r.Issuer)+`</saml:Issuer><samlp:Status><samlp:StatusCode Value="`+x(r.Status)+`"/></samlp:Status></samlp:Response>`)
	for i := 1; i <= r.Assertions; i++ {
		a := parse(t, idp.AssertionXML(r, fmt.Sprintf("_assert%d", i)))
		if !r.UnsignedAssertion {
			a = Sign(t, a, r.Signer, r.SHA1)
		}
		resp.AddChild(a)
	}
	if !r.UnsignedResponse {
		resp = Sign(t, resp, r.Signer, r.SHA1)
	}
	d := etree.NewDocument()
	d.SetRoot(resp)
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Base64 is XML encoded as an IdP posts it (the SAMLResponse form value).
func (idp *IdP) Base64(t testing.TB, r Response) string {
	t.Helper()
	return base64.StdEncoding.EncodeToString(idp.XML(t, r))
}

// Sign returns a copy of el with an enveloped signature by signer placed
// right after its Issuer, as the SAML schema orders it.
func Sign(t testing.TB, el *etree.Element, signer *IdP, sha1 bool) *etree.Element {
	t.Helper()
	ctx, err := dsig.NewSigningContext(signer.Key, [][]byte{signer.Cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if sha1 {
		if err := ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := ctx.ConstructSignature(el, true)
	if err != nil {
		t.Fatal(err)
	}
	signed := el.Copy()
	at := len(signed.Child)
	if iss := signed.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig.Copy())
	return signed
}

func parse(t testing.TB, s string) *etree.Element {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d.Root()
}
