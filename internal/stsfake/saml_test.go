package stsfake_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/beevik/etree"

	"github.com/rolehop/rolehop/internal/samltest"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

const (
	samlAdmin     = "arn:aws:iam::111111111111:role/Admin"
	samlDev       = "arn:aws:iam::111111111111:role/Dev"
	samlPrincipal = "arn:aws:iam::111111111111:saml-provider/SimpleSAML"
)

// movableClock starts at the real time (SimpleSAMLphp's assertions carry
// real timestamps) and can be moved ahead.
type movableClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *movableClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *movableClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

func simpleSAML(t *testing.T) (idp *testpeer.SimpleSAML, alice, bob string) {
	t.Helper()
	idp = testpeer.NewSimpleSAML(t, testpeer.SimpleSAMLOptions{})
	ctx := context.Background()
	var err error
	if alice, err = idp.LoginAWS(ctx, "alice", "alicepass"); err != nil {
		t.Fatalf("log in as alice: %v", err)
	}
	if bob, err = idp.LoginAWS(ctx, "bob", "bobpass"); err != nil {
		t.Fatalf("log in as bob: %v", err)
	}
	return idp, alice, bob
}

func anonymous(srv *stsfake.Server) *sts.Client {
	return sts.NewFromConfig(aws.Config{
		Region:       "us-east-1",
		Credentials:  aws.AnonymousCredentials{},
		BaseEndpoint: aws.String(srv.URL),
	}, noRetry)
}

func withSAML(role, principal, assertion string, d int32) *sts.AssumeRoleWithSAMLInput {
	in := &sts.AssumeRoleWithSAMLInput{RoleArn: aws.String(role), PrincipalArn: aws.String(principal), SAMLAssertion: aws.String(assertion)}
	if d > 0 {
		in.DurationSeconds = aws.Int32(d)
	}
	return in
}

// tamper decodes a SAMLResponse, replaces old with new and re-encodes it.
func tamper(t *testing.T, b64, old, new string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), old) {
		t.Fatalf("assertion does not contain %q", old)
	}
	return base64.StdEncoding.EncodeToString([]byte(strings.ReplaceAll(string(raw), old, new)))
}

func TestAssumeRoleWithSAMLAgainstSimpleSAML(t *testing.T) {
	idp, alice, bob := simpleSAML(t)
	clock := &movableClock{}
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock.Now))
	ctx := context.Background()

	// Before the IdP is trusted, the action does not exist.
	if _, err := anonymous(srv).AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 0)); apiCode(t, err) != "InvalidAction" {
		t.Errorf("untrusted server: %v", err)
	}
	// The metadata document works as the trust anchor, as on AWS.
	resp, err := http.Get(idp.MetadataURL)
	if err != nil {
		t.Fatal(err)
	}
	metadata, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err := srv.TrustIdP(samlPrincipal, metadata); err != nil {
		t.Fatalf("trust IdP metadata: %v", err)
	}
	c := anonymous(srv)

	out, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 1800))
	if err != nil {
		t.Fatalf("AssumeRoleWithSAML as alice: %v", err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::111111111111:assumed-role/Admin/alice" {
		t.Errorf("AssumedRoleUser %s", got)
	}
	if aws.ToString(out.Subject) != "alice" || aws.ToString(out.SubjectType) != "persistent" ||
		aws.ToString(out.Issuer) != idp.EntityID || aws.ToString(out.Audience) != stsfake.SAMLRecipient || aws.ToString(out.NameQualifier) == "" {
		t.Errorf("subject %q type %q issuer %q audience %q qualifier %q", aws.ToString(out.Subject), aws.ToString(out.SubjectType),
			aws.ToString(out.Issuer), aws.ToString(out.Audience), aws.ToString(out.NameQualifier))
	}
	if exp := out.Credentials.Expiration.Sub(clock.Now()); exp < 29*time.Minute || exp > 30*time.Minute {
		t.Errorf("credentials last %v, want the 30m asked for", exp)
	}
	// The credentials are known to the server: GetCallerIdentity names the session.
	who, err := client(srv, aws.ToString(out.Credentials.AccessKeyId), aws.ToString(out.Credentials.SecretAccessKey),
		aws.ToString(out.Credentials.SessionToken)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(who.Arn) != "arn:aws:sts::111111111111:assumed-role/Admin/alice" {
		t.Errorf("GetCallerIdentity with SAML credentials: %v %v", who, err)
	}

	// bob's assertion (values in principal,role order) grants Dev only.
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlDev, samlPrincipal, bob, 0)); err != nil {
		t.Errorf("bob as Dev: %v", err)
	}
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, bob, 0)); apiCode(t, err) != "AccessDenied" {
		t.Errorf("bob as Admin: %v", err)
	}
	// A Role value edited to grant Admin breaks the signature.
	forged := tamper(t, bob, "role/Dev", "role/Admin")
	_, err = c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, forged, 0))
	if apiCode(t, err) != "InvalidIdentityToken" || !strings.Contains(err.Error(), "signature") {
		t.Errorf("tampered assertion: %v", err)
	}
	// More than SessionDuration (3600) is refused; the role maximum too.
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 7200)); apiCode(t, err) != "ValidationError" {
		t.Errorf("DurationSeconds above SessionDuration: %v", err)
	}
	srv.SetRole(samlDev, stsfake.RoleSettings{MaxSessionDuration: 20 * time.Minute})
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlDev, samlPrincipal, alice, 1800)); apiCode(t, err) != "ValidationError" {
		t.Errorf("DurationSeconds above the role maximum: %v", err)
	}
	// A principal that is not registered, and a role of another account.
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, "arn:aws:iam::111111111111:saml-provider/Other", alice, 0)); apiCode(t, err) != "InvalidIdentityToken" {
		t.Errorf("unknown provider: %v", err)
	}
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML("arn:aws:iam::222222222222:role/Admin", samlPrincipal, alice, 0)); apiCode(t, err) != "AccessDenied" {
		t.Errorf("role in an account the assertion does not name: %v", err)
	}
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, "bm90IHhtbA==", 0)); apiCode(t, err) != "InvalidIdentityToken" {
		t.Errorf("not xml: %v", err)
	}

	// The same assertion, once the IdP's certificate is replaced by another.
	if err := srv.TrustIdP(samlPrincipal, testpeer.OtherCertPEM(t)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 0)); apiCode(t, err) != "InvalidIdentityToken" {
		t.Errorf("assertion from an untrusted IdP certificate: %v", err)
	}
	if err := srv.TrustIdP(samlPrincipal, idp.CertPEM); err != nil {
		t.Fatal(err)
	}
	// Past NotOnOrAfter (5 minutes) the assertion is expired.
	clock.Advance(6 * time.Minute)
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 0)); apiCode(t, err) != "ExpiredTokenException" {
		t.Errorf("expired assertion: %v", err)
	}
}

func TestAssumeRoleWithSAMLWireFormat(t *testing.T) {
	srv := stsfake.NewForTest(t)
	if err := srv.TrustIdP(samlPrincipal, testpeer.OtherCertPEM(t)); err != nil {
		t.Fatal(err)
	}
	post := func(v url.Values) (int, string) {
		resp, err := http.PostForm(srv.URL, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	base := url.Values{"Action": {"AssumeRoleWithSAML"}, "Version": {"2011-06-15"}, "RoleArn": {samlAdmin}, "PrincipalArn": {samlPrincipal}}
	status, body := post(base)
	if status != 400 || !strings.Contains(body, "<Code>ValidationError</Code>") || !strings.Contains(body, "SAMLAssertion") {
		t.Errorf("missing SAMLAssertion: %d %s", status, body)
	}
	base.Set("SAMLAssertion", base64.StdEncoding.EncodeToString([]byte("<x/>")))
	base.Set("DurationSeconds", "60")
	status, body = post(base)
	if status != 400 || !strings.Contains(body, "greater than or equal to 900") {
		t.Errorf("DurationSeconds 60: %d %s", status, body)
	}
	base.Del("DurationSeconds")
	status, body = post(base)
	if status != 400 || !strings.Contains(body, "<Code>InvalidIdentityToken</Code>") || !strings.Contains(body, "<Type>Sender</Type>") {
		t.Errorf("unsigned document: %d %s", status, body)
	}
	if err := srv.TrustIdP("arn:aws:iam::111111111111:role/NotAProvider", testpeer.OtherCertPEM(t)); err == nil {
		t.Error("TrustIdP accepted a role ARN as principal")
	}
	if err := srv.TrustIdP(samlPrincipal, []byte("<EntityDescriptor/>")); err == nil {
		t.Error("TrustIdP accepted metadata without a certificate")
	}
}

func TestAssumeRoleWithSAMLMinIOMinter(t *testing.T) {
	m := testpeer.NewMinIO(t)
	idp, alice, _ := simpleSAML(t)
	srv := stsfake.NewForTest(t, stsfake.WithMinter(stsfake.NewMinIOMinter(m.Endpoint, m.RootUser, m.RootPassword, m.Region)))
	if err := srv.TrustIdP(samlPrincipal, idp.CertPEM); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := anonymous(srv).AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, alice, 900))
	if err != nil {
		t.Fatalf("AssumeRoleWithSAML with the MinIO minter: %v", err)
	}
	if d := time.Until(*out.Credentials.Expiration); d > 15*time.Minute || d < 14*time.Minute {
		t.Errorf("MinIO credentials last %v, want the 15m forwarded", d)
	}
	cfg := m.Config()
	cfg.Credentials = aws.NewCredentialsCache(staticCreds(out))
	s3c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("minted")}); err != nil {
		t.Fatalf("S3 with minted credentials: %v", err)
	}
	if _, err := s3c.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Errorf("list buckets: %v", err)
	}
}

func (s staticCredsProvider) Retrieve(context.Context) (aws.Credentials, error) { return s.c, nil }

type staticCredsProvider struct{ c aws.Credentials }

func staticCreds(out *sts.AssumeRoleWithSAMLOutput) staticCredsProvider {
	return staticCredsProvider{c: aws.Credentials{
		AccessKeyID: aws.ToString(out.Credentials.AccessKeyId), SecretAccessKey: aws.ToString(out.Credentials.SecretAccessKey),
		SessionToken: aws.ToString(out.Credentials.SessionToken), CanExpire: true, Expires: *out.Credentials.Expiration,
	}}
}

// stripSignatures removes the ds:Signature children of the Response and,
// when assertionToo, of the Assertion, and re-encodes the document.
func stripSignatures(t *testing.T, b64 string, assertionToo bool) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	strip := func(el *etree.Element) {
		if sig := el.SelectElement("Signature"); sig != nil {
			el.RemoveChild(sig)
		} else {
			t.Fatalf("%s has no Signature to strip", el.Tag)
		}
	}
	strip(doc.Root())
	if assertionToo {
		strip(doc.Root().SelectElement("Assertion"))
	}
	out, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(out)
}

func TestAssumeRoleWithSAMLSignatureRequired(t *testing.T) {
	idp, alice, _ := simpleSAML(t)
	srv := stsfake.NewForTest(t)
	if err := srv.TrustIdP(samlPrincipal, idp.CertPEM); err != nil {
		t.Fatal(err)
	}
	c, ctx := anonymous(srv), context.Background()
	// A signed Assertion inside an unsigned Response is enough, as on AWS.
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, stripSignatures(t, alice, false), 0)); err != nil {
		t.Errorf("signed assertion in an unsigned response: %v", err)
	}
	// Nothing signed: refused.
	_, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, stripSignatures(t, alice, true), 0))
	if apiCode(t, err) != "InvalidIdentityToken" {
		t.Errorf("unsigned assertion: %v", err)
	}
	// Unsigned Response, signed Assertion edited: refused.
	forged := tamper(t, stripSignatures(t, alice, false), "role/Dev", "role/Ops")
	if _, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, forged, 0)); apiCode(t, err) != "InvalidIdentityToken" {
		t.Errorf("edited assertion in an unsigned response: %v", err)
	}
}

// TestAssumeRoleWithSAMLConditions: what AWS checks besides the signature,
// each on an assertion signed by a trusted test key (internal/samltest)
// that is wrong in exactly one way, answered with AWS's error.
func TestAssumeRoleWithSAMLConditions(t *testing.T) {
	idp := samltest.NewIdP(t, "https://idp.example.com/metadata")
	srv := stsfake.NewForTest(t)
	if err := srv.TrustIdP(samlPrincipal, idp.CertPEM); err != nil {
		t.Fatal(err)
	}
	c, ctx := anonymous(srv), context.Background()
	now := srv.Now().UTC().Truncate(time.Second)
	good := samltest.Response{IssueInstant: now, Attributes: samltest.AWSAttributes("alice", 3600, samlAdmin+","+samlPrincipal)}
	for _, tc := range []struct {
		name, code, msg string
		mod             func(*samltest.Response)
	}{
		{"valid", "", "", func(*samltest.Response) {}},
		{"audience https://signin.aws.amazon.com/saml, as AWS accepts", "", "", func(r *samltest.Response) { r.Audience = "https://signin.aws.amazon.com/saml" }},
		{"GovCloud sign-in endpoint as recipient", "", "", func(r *samltest.Response) { r.Recipient = "https://signin.amazonaws-us-gov.com/saml" }},
		{"another audience", "InvalidIdentityToken", "audience", func(r *samltest.Response) { r.Audience = "https://other-sp.example.com/metadata" }},
		{"another recipient", "InvalidIdentityToken", "Recipient", func(r *samltest.Response) {
			r.Recipient, r.Destination = "https://evil.example.com/saml", samltest.AWSRecipient
		}},
		// Nothing else to catch it: an unsigned Response without Destination
		// around a signed assertion for another recipient.
		{"another recipient, no Destination", "InvalidIdentityToken", "Recipient", func(r *samltest.Response) {
			r.Recipient, r.Destination, r.UnsignedResponse = "https://evil.example.com/saml", samltest.NoDestination, true
		}},
		{"another destination", "InvalidIdentityToken", "Destination", func(r *samltest.Response) { r.Destination = "https://evil.example.com/saml" }},
		{"NotBefore in 10 minutes", "InvalidIdentityToken", "not yet valid", func(r *samltest.Response) { r.NotBefore = now.Add(10 * time.Minute) }},
		// The IdP's clock 2 minutes fast (within the allowed skew) and a
		// NotBefore 2 minutes after issue: valid only from now+4m.
		{"NotBefore past the skew from an IdP running fast", "InvalidIdentityToken", "not yet valid", func(r *samltest.Response) {
			r.IssueInstant, r.NotBefore = now.Add(2*time.Minute), now.Add(4*time.Minute)
			r.NotOnOrAfter = now.Add(7 * time.Minute)
		}},
		{"issued 6 minutes ago", "ExpiredTokenException", "within 5 minutes of issuance", func(r *samltest.Response) {
			r.IssueInstant, r.NotOnOrAfter = now.Add(-6*time.Minute), now.Add(time.Hour)
		}},
		{"past NotOnOrAfter", "ExpiredTokenException", "within 5 minutes", func(r *samltest.Response) {
			r.IssueInstant, r.NotOnOrAfter = now.Add(-4*time.Minute), now.Add(-4*time.Minute)
		}},
		{"SHA-1 signature", "InvalidIdentityToken", "signature", func(r *samltest.Response) { r.SHA1 = true }},
		{"two assertions", "InvalidIdentityToken", "signature", func(r *samltest.Response) { r.Assertions = 2 }},
		{"signed by a foreign key", "InvalidIdentityToken", "signature", func(r *samltest.Response) { r.Signer = samltest.NewIdP(t, idp.EntityID) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.mod(&r)
			out, err := c.AssumeRoleWithSAML(ctx, withSAML(samlAdmin, samlPrincipal, idp.Base64(t, r), 0))
			if tc.code == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := r.Recipient
				if want == "" {
					want = stsfake.SAMLRecipient
				}
				if aws.ToString(out.Subject) != "alice" || aws.ToString(out.Audience) != want {
					t.Errorf("subject %q audience %q", aws.ToString(out.Subject), aws.ToString(out.Audience))
				}
				return
			}
			if got := apiCode(t, err); got != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
}
