package testpeer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/redis/go-redis/v9"
)

func s3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = true })
}

func TestMinIOS3WithRootCredentials(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMinIO(t)
	if !strings.HasPrefix(m.Endpoint, "http://127.0.0.1:") || m.Region != "us-east-1" || len(m.RootPassword) < 8 {
		t.Fatalf("MinIO fields: endpoint %q region %q password length %d", m.Endpoint, m.Region, len(m.RootPassword))
	}
	c := s3Client(m.Config())
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("peer-check")}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("peer-check"), Key: aws.String("hello.txt"), Body: strings.NewReader("hello minio")}); err != nil {
		t.Fatalf("PutObject: %v", err)
	}
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("peer-check"), Key: aws.String("hello.txt")})
	if err != nil {
		t.Fatalf("GetObject: %v", err)
	}
	body, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(body) != "hello minio" {
		t.Fatalf("GetObject body = %q, want %q", body, "hello minio")
	}

	// Wrong credentials are refused: MinIO really checks SigV4.
	bad := m.Config()
	bad.Credentials = credentials.NewStaticCredentialsProvider(m.RootUser, "not-the-password", "")
	_, err = s3Client(bad).ListBuckets(ctx, &s3.ListBucketsInput{})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("ListBuckets with a wrong secret: err = %v, want SignatureDoesNotMatch", err)
	}

	if err := m.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := m.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if c, err := net.Dial("tcp", strings.TrimPrefix(m.Endpoint, "http://")); err == nil {
		c.Close()
		t.Fatalf("MinIO still accepts connections on %s after Stop", m.Endpoint)
	}
}

func TestMinIOAddUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	m := NewMinIO(t)
	root := s3Client(m.Config())
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatalf("CreateBucket as root: %v", err)
	}
	m.AddUser(t, "reader", "reader-secret-1", "readonly")
	m.AddUser(t, "writer", "writer-secret-1", "readwrite")

	as := func(ak, sk string) *s3.Client {
		cfg := m.Config()
		cfg.Credentials = credentials.NewStaticCredentialsProvider(ak, sk, "")
		return s3Client(cfg)
	}
	put := func(c *s3.Client) error {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("k"), Body: strings.NewReader("v")})
		return err
	}
	if err := put(as("writer", "writer-secret-1")); err != nil {
		t.Fatalf("PutObject as readwrite user: %v", err)
	}
	reader := as("reader", "reader-secret-1")
	if _, err := reader.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("k")}); err != nil {
		t.Fatalf("GetObject as readonly user: %v", err)
	}
	err := put(reader)
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
		t.Fatalf("PutObject as readonly user: err = %v, want AccessDenied", err)
	}
}

// samlAttrs decodes a base64 SAMLResponse and returns its NameID (format and
// value) and attribute values by name.
type samlDoc struct {
	NameID struct {
		Format string `xml:"Format,attr"`
		Value  string `xml:",chardata"`
	} `xml:"Assertion>Subject>NameID"`
	Attributes []struct {
		Name   string   `xml:"Name,attr"`
		Values []string `xml:"AttributeValue"`
	} `xml:"Assertion>AttributeStatement>Attribute"`
}

func decodeSAML(t *testing.T, b64 string) ([]byte, samlDoc) {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatalf("SAMLResponse is not base64: %v", err)
	}
	var d samlDoc
	if err := xml.Unmarshal(raw, &d); err != nil {
		t.Fatalf("SAMLResponse is not XML: %v", err)
	}
	return raw, d
}

func (d samlDoc) attr(name string) []string {
	for _, a := range d.Attributes {
		if a.Name == name {
			return a.Values
		}
	}
	return nil
}

const roleAttr = "https://aws.amazon.com/SAML/Attributes/Role"

func TestSimpleSAMLLoginAndSignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := NewSimpleSAML(t, SimpleSAMLOptions{Accounts: []string{"111111111111", "222222222222"}, ProviderName: "CorpIdP"})
	if s.EntityID != s.MetadataURL || !strings.HasPrefix(s.BaseURL, "http://127.0.0.1:") {
		t.Fatalf("SimpleSAML fields: %+v", s)
	}

	b64, err := s.LoginAWS(ctx, "alice", "alicepass")
	if err != nil {
		t.Fatalf("LoginAWS alice: %v", err)
	}
	raw, d := decodeSAML(t, b64)
	var want []string
	for _, acct := range []string{"111111111111", "222222222222"} {
		for _, role := range []string{"Admin", "Dev"} {
			want = append(want, fmt.Sprintf("arn:aws:iam::%s:role/%s,arn:aws:iam::%s:saml-provider/CorpIdP", acct, role, acct))
		}
	}
	if got := d.attr(roleAttr); !slices.Equal(got, want) {
		t.Errorf("alice Role values = %q, want %q", got, want)
	}
	if got := d.attr("https://aws.amazon.com/SAML/Attributes/RoleSessionName"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("alice RoleSessionName = %q, want [alice]", got)
	}
	if got := d.attr("https://aws.amazon.com/SAML/Attributes/SessionDuration"); !slices.Equal(got, []string{"3600"}) {
		t.Errorf("alice SessionDuration = %q, want [3600]", got)
	}
	if d.NameID.Value != "alice" || d.NameID.Format != "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" {
		t.Errorf("alice NameID = %q (%s), want persistent alice", d.NameID.Value, d.NameID.Format)
	}
	if len(d.Attributes) != 3 {
		t.Errorf("alice got %d attributes, want only the 3 AWS ones (core:AttributeLimit)", len(d.Attributes))
	}
	verifyWithXmlsec(t, s, raw)

	b64, err = s.LoginAWS(ctx, "bob", "bobpass")
	if err != nil {
		t.Fatalf("LoginAWS bob: %v", err)
	}
	_, d = decodeSAML(t, b64)
	want = []string{
		"arn:aws:iam::111111111111:saml-provider/CorpIdP,arn:aws:iam::111111111111:role/Dev",
		"arn:aws:iam::222222222222:saml-provider/CorpIdP,arn:aws:iam::222222222222:role/Dev",
	}
	if got := d.attr(roleAttr); !slices.Equal(got, want) {
		t.Errorf("bob Role values = %q, want %q", got, want)
	}

	b64, err = s.LoginAWS(ctx, "carol", "carolpass")
	if err != nil {
		t.Fatalf("LoginAWS carol: %v", err)
	}
	if _, d = decodeSAML(t, b64); d.attr(roleAttr) != nil {
		t.Errorf("carol Role values = %q, want none", d.attr(roleAttr))
	}

	if _, err := s.LoginAWS(ctx, "alice", "wrong"); !errors.Is(err, ErrLoginRejected) {
		t.Errorf("LoginAWS with a wrong password: err = %v, want ErrLoginRejected", err)
	}
}

// verifyWithXmlsec checks the Response signature with xmlsec1 against the
// IdP certificate, and that a tampered copy fails.
func verifyWithXmlsec(t *testing.T, s *SimpleSAML, raw []byte) {
	t.Helper()
	xmlsec, err := exec.LookPath("xmlsec1")
	if err != nil {
		Missing(t, "xmlsec1 not found on PATH (Debian package xmlsec1)")
	}
	dir := t.TempDir()
	cert := filepath.Join(dir, "idp.crt")
	if err := os.WriteFile(cert, s.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(doc []byte) ([]byte, error) {
		f := filepath.Join(dir, "resp.xml")
		if err := os.WriteFile(f, doc, 0o600); err != nil {
			t.Fatal(err)
		}
		return exec.Command(xmlsec, "--verify", "--trusted-pem", cert,
			"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", f).CombinedOutput()
	}
	if out, err := verify(raw); err != nil {
		t.Fatalf("xmlsec1 --verify of alice's SAMLResponse: %v: %s", err, out)
	}
	if !bytes.Contains(raw, []byte("role/Admin")) {
		t.Fatal("SAMLResponse has no role/Admin to tamper with")
	}
	if out, err := verify(bytes.Replace(raw, []byte("role/Admin"), []byte("role/Owner"), 1)); err == nil {
		t.Fatalf("xmlsec1 --verify accepted a tampered SAMLResponse: %s", out)
	}
}

func TestSimpleSAMLBrokerSP(t *testing.T) {
	t.Parallel()
	const broker = "http://127.0.0.1:8090/saml/metadata"
	s := NewSimpleSAML(t, SimpleSAMLOptions{BrokerEntityID: broker, BrokerACS: "http://127.0.0.1:8090/saml/acs"})
	b64, err := s.LoginSP(context.Background(), broker, "alice", "alicepass")
	if err != nil {
		t.Fatalf("LoginSP broker alice: %v", err)
	}
	_, d := decodeSAML(t, b64)
	if got := d.attr("groups"); !slices.Equal(got, []string{"admins", "dev"}) {
		t.Errorf("broker groups = %q, want [admins dev]", got)
	}
	if got := d.attr("uid"); !slices.Equal(got, []string{"alice"}) {
		t.Errorf("broker uid = %q, want [alice]", got)
	}
	if d.attr(roleAttr) != nil || len(d.Attributes) != 3 {
		t.Errorf("broker got %d attributes (AWS Role %q), want only uid, mail, groups", len(d.Attributes), d.attr(roleAttr))
	}
	if d.NameID.Format != "urn:oasis:names:tc:SAML:2.0:nameid-format:transient" || d.NameID.Value == "alice" {
		t.Errorf("broker NameID = %q (%s), want a transient one", d.NameID.Value, d.NameID.Format)
	}
	if _, err := s.LoginSP(context.Background(), "urn:unknown:sp", "alice", "alicepass"); err == nil {
		t.Error("LoginSP for an SP the IdP does not know: no error")
	}
}

func TestRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := NewRedis(t)
	c := redis.NewClient(&redis.Options{Addr: r.Addr})
	defer c.Close()
	if got, err := c.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", got, err)
	}
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "v" {
		t.Fatalf("GET = %q, %v; want v", got, err)
	}
}

// recordingTB records how Missing ended a test.
type recordingTB struct {
	testing.TB
	fatal, skip string
}

func (r *recordingTB) Helper()                      {}
func (r *recordingTB) Fatalf(f string, args ...any) { r.fatal = fmt.Sprintf(f, args...) }
func (r *recordingTB) Skipf(f string, args ...any)  { r.skip = fmt.Sprintf(f, args...) }

func TestMissing(t *testing.T) {
	t.Setenv("CI", "true")
	r := &recordingTB{TB: t}
	Missing(r, "minio not found")
	if !strings.Contains(r.fatal, "minio not found") || !strings.Contains(r.fatal, "make peers") || r.skip != "" {
		t.Errorf("with CI=true: fatal %q skip %q; want a failure naming `make peers`", r.fatal, r.skip)
	}
	t.Setenv("CI", "")
	r = &recordingTB{TB: t}
	Missing(r, "minio not found")
	if !strings.Contains(r.skip, "make peers") || r.fatal != "" {
		t.Errorf("without CI: fatal %q skip %q; want a skip naming `make peers`", r.fatal, r.skip)
	}
}

func TestMissingBinaryIsErrMissing(t *testing.T) {
	t.Setenv("ROLEHOP_PEERS_DIR", t.TempDir())
	t.Setenv("PATH", t.TempDir())
	if _, err := StartMinIO(context.Background(), t.TempDir()); !errors.Is(err, ErrMissing) {
		t.Errorf("StartMinIO without a minio binary: err = %v, want ErrMissing", err)
	}
	if _, err := StartRedis(context.Background(), t.TempDir()); !errors.Is(err, ErrMissing) {
		t.Errorf("StartRedis without redis-server: err = %v, want ErrMissing", err)
	}
}

func TestStartFailureShowsLog(t *testing.T) {
	dir := t.TempDir()
	p, err := startProc("sh", "/bin/sh", []string{"-c", "echo listen failed: address in use >&2; exit 3"}, nil, dir, filepath.Join(dir, "sh.log"))
	if err != nil {
		t.Fatal(err)
	}
	err = p.waitReady(context.Background(), func(context.Context) error { return errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "listen failed: address in use") {
		t.Errorf("err = %v, want it to say the process exited, with the log's last lines", err)
	}
}
