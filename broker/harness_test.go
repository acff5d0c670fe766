package broker_test

// The test harness: a broker on an httptest server with a crafted-SAML IdP
// (samltest, a test key), the test STS (stsfake) and the federation
// endpoint (fedfake), and a Go "browser" (cookie jar, redirects not
// followed) to drive it. Tests with the real peers (SimpleSAMLphp,
// Chromium, Redis, MinIO) build on the same pieces.

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/beevik/etree"

	"github.com/rolehop/rolehop/broker"
	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/samltest"
	"github.com/rolehop/rolehop/internal/stsfake"
)

const (
	idpEntityID = "https://idp.example.org/metadata"
	idpSSO      = "https://idp.example.org/sso"
	account     = "111111111111"
	adminRole   = "arn:aws:iam::111111111111:role/Admin"
	devRole     = "arn:aws:iam::111111111111:role/Dev"
	// The broker's long-term keys, known to the test STS.
	brokerKeyID  = "AKIABROKEREXAMPLE"
	brokerSecret = "broker-secret-do-not-print"
)

var (
	idpOnce          sync.Once
	testIdP, foreign *samltest.IdP
)

// idps are the trusted test IdP and a foreign one (stable keys from
// testdata, so fuzz corpora stay valid).
func idps(t testing.TB) (*samltest.IdP, *samltest.IdP) {
	idpOnce.Do(func() {
		testIdP = samltest.LoadIdP(t, "testdata/test-idp.pem", idpEntityID)
		foreign = samltest.LoadIdP(t, "testdata/other-idp.pem", idpEntityID)
	})
	return testIdP, foreign
}

// idpMetadataXML is SAML metadata for a samltest IdP.
func idpMetadataXML(idp *samltest.IdP, sso string) []byte {
	return []byte(`<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + idp.EntityID + `">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` +
		base64.StdEncoding.EncodeToString(idp.Cert.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + sso + `"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>
`)
}

// lockedBuffer is a concurrency-safe log sink.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stsBridge wraps the test STS's AssumeRole so that the federation fake
// accepts the credentials it issues (as AWS's federation endpoint accepts
// any STS session) with the right kind (first hop or chained), and records
// every AssumeRole form.
type stsBridge struct {
	mu    sync.Mutex
	forms []url.Values
}

func (b *stsBridge) Forms() []url.Values {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]url.Values(nil), b.forms...)
}

type assumeRoleXML struct {
	Creds struct {
		AccessKeyID     string    `xml:"AccessKeyId"`
		SecretAccessKey string    `xml:"SecretAccessKey"`
		SessionToken    string    `xml:"SessionToken"`
		Expiration      time.Time `xml:"Expiration"`
	} `xml:"AssumeRoleResult>Credentials"`
}

func bridge(sts *stsfake.Server, fed *fedfake.Server) *stsBridge {
	b := &stsBridge{}
	inner := sts.Handler("AssumeRole")
	sts.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		rec := httptest.NewRecorder()
		inner(rec, r, form)
		if rec.Code == http.StatusOK {
			var out assumeRoleXML
			if err := xml.Unmarshal(rec.Body.Bytes(), &out); err == nil {
				c := out.Creds
				kind := fedfake.Role
				if sts.ChainDepth(c.AccessKeyID) > 1 {
					kind = fedfake.Chained
				}
				fed.Accept(aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
					SessionToken: c.SessionToken, CanExpire: true, Expires: c.Expiration}, kind)
			}
			b.mu.Lock()
			b.forms = append(b.forms, form)
			b.mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
	return b
}

type zeroBackoff struct{}

func (zeroBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

// stsConfig is an aws.Config for the test STS with the given credentials.
func stsConfig(sts *stsfake.Server, c aws.Credentials) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.StaticCredentialsProvider{Value: c},
		BaseEndpoint: aws.String(sts.URL),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) { o.Backoff = zeroBackoff{}; o.MaxAttempts = 1 })
		},
	}
}

// harness is one broker under test with its fakes.
type harness struct {
	t      *testing.T
	idp    *samltest.IdP
	sts    *stsfake.Server
	fed    *fedfake.Server
	bridge *stsBridge
	srv    *broker.Server
	ts     *httptest.Server
	url    string // external URL
	cfg    *broker.Config
	store  store.Store
	audit  *lockedBuffer
	logs   *lockedBuffer
	dir    string
}

// harnessOptions adjust a harness.
type harnessOptions struct {
	extraYAML string            // appended to the top level of the config
	targets   string            // the targets: block (default adminDevTargets)
	base      *aws.Credentials  // the broker's credentials (default long-term keys)
	store     store.Store       // default memory
	keyFile   bool              // write a session_key_file
	tls       bool              // serve https
	now       func() time.Time  // the broker's clock
	configure func(cfg *string) // edit the YAML text
	// baseCfg builds the broker's AWS configuration (default: stsConfig
	// with base).
	baseCfg func(h *harness) aws.Config
	// host replaces 127.0.0.1 in the external URL (e.g. localhost, so that
	// a browser sees the broker on another site than an IdP on 127.0.0.1).
	host string
	// idpYAML replaces the idp: block (default: the crafted-SAML test IdP).
	idpYAML string
	// newErr, when set, receives broker.New's error instead of failing
	// the test (the harness then serves nothing).
	newErr *error
}

const adminDevTargets = `targets:
  prod-admin:
    role: ` + adminRole + `
    account_alias: prod
    description: Production, full access
    duration: 2h
    groups: [admins]
    destination: ec2
    region: eu-west-1
  prod-dev:
    role: ` + devRole + `
    account_alias: prod
    groups: [dev, admins]
`

func newHarness(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	idp, _ := idps(t)
	h := &harness{t: t, idp: idp, audit: &lockedBuffer{}, logs: &lockedBuffer{}, dir: t.TempDir()}
	h.sts = stsfake.NewForTest(t, stsfake.WithKey(brokerKeyID, brokerSecret))
	h.fed = fedfake.New(t)
	h.bridge = bridge(h.sts, h.fed)
	h.ts = httptest.NewUnstartedServer(nil)
	scheme := "http"
	if o.tls {
		scheme = "https"
	}
	h.url = scheme + "://" + h.ts.Listener.Addr().String()
	if o.host != "" {
		h.url = strings.Replace(h.url, "127.0.0.1", o.host, 1)
	}
	mdFile := filepath.Join(h.dir, "idp.xml")
	if err := os.WriteFile(mdFile, idpMetadataXML(idp, idpSSO), 0o600); err != nil {
		t.Fatal(err)
	}
	targets := o.targets
	if targets == "" {
		targets = adminDevTargets
	}
	idpBlock := "idp:\n  metadata_file: " + mdFile + "\n"
	if o.idpYAML != "" {
		idpBlock = o.idpYAML
	}
	y := "external_url: " + h.url + "\n" +
		"federation_url: " + h.fed.URL + "\n" +
		"title: Example Corp AWS\n" +
		idpBlock +
		o.extraYAML + targets
	if o.keyFile {
		kf := filepath.Join(h.dir, "session.key")
		if err := os.WriteFile(kf, []byte("0123456789abcdef0123456789abcdef-shared-test-key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		y = "session_key_file: " + kf + "\n" + y
	}
	if o.configure != nil {
		o.configure(&y)
	}
	cfgFile := filepath.Join(h.dir, "broker.yaml")
	if err := os.WriteFile(cfgFile, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := broker.LoadConfig(cfgFile)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", y, err)
	}
	h.cfg = cfg
	base := aws.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret, Source: "test long-term keys"}
	if o.base != nil {
		base = *o.base
	}
	h.store = o.store
	if h.store == nil {
		h.store = store.NewMemory(o.now)
	}
	baseCfg := stsConfig(h.sts, base)
	if o.baseCfg != nil {
		baseCfg = o.baseCfg(h)
	}
	h.srv, err = broker.New(t.Context(), cfg, broker.Deps{
		Base:   baseCfg,
		Store:  h.store,
		Logger: slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Audit:  slog.New(slog.NewJSONHandler(h.audit, nil)),
		Now:    o.now,
	})
	if o.newErr != nil {
		*o.newErr = err
		if err != nil {
			return h
		}
	}
	if err != nil {
		t.Fatalf("broker.New: %v", err)
	}
	h.ts.Config.Handler = h.srv
	if o.tls {
		h.ts.StartTLS()
	} else {
		h.ts.Start()
	}
	t.Cleanup(h.ts.Close)
	t.Cleanup(func() { h.checkNoSecrets() })
	return h
}

// replica starts a second broker with the same configuration and AWS
// setup but its own store client and listener, as a second replica behind
// a load balancer (the external URL stays the first one's; cookies, being
// per host and not per port, reach both). It returns the replica's base
// URL.
func (h *harness) replica(st store.Store, base aws.Config) string {
	h.t.Helper()
	srv, err := broker.New(h.t.Context(), h.cfg, broker.Deps{
		Base: base, Store: st,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		Audit:  slog.New(slog.NewJSONHandler(h.audit, nil)),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	h.t.Cleanup(ts.Close)
	return ts.URL
}

// checkNoSecrets: no log or audit line holds a credential, a sign-in
// token or URL, or an assertion.
func (h *harness) checkNoSecrets() {
	h.t.Helper()
	all := h.logs.String() + h.audit.String()
	for _, bad := range []string{brokerSecret, "SigninToken", "Action=login", "SAMLResponse", "PHNhbWxw" /* base64 "<samlp" */, "FwoGZXIvYXdzE", "sessionToken"} {
		if strings.Contains(all, bad) {
			h.t.Errorf("a log or audit line contains %q:\n%s", bad, all)
		}
	}
}

// browser is a Go HTTP client with a cookie jar that does not follow
// redirects (each hop is inspected).
type browser struct {
	t *testing.T
	c *http.Client
}

func (h *harness) browser() *browser {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if h.ts.TLS != nil {
		c.Transport = h.ts.Client().Transport
	}
	return &browser{t: h.t, c: c}
}

// response is a fetched page.
type response struct {
	*http.Response
	body string
}

func (b *browser) do(method, u string, form url.Values, hdr map[string]string) *response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(b.t.Context(), method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	return &response{Response: resp, body: string(rb)}
}

// nav is a GET as a user's own navigation (typed, bookmarked or a link on
// the broker's pages): Sec-Fetch-Site same-origin.
func (b *browser) nav(u string) *response {
	return b.do(http.MethodGet, u, nil, map[string]string{"Sec-Fetch-Site": "same-origin"})
}

// authnRequest is what the broker sent to the IdP.
type authnRequest struct {
	ID, ACS, Relay, Issuer string
}

// startLogin follows the broker to the IdP and returns the AuthnRequest.
func (h *harness) startLogin(b *browser, next string) authnRequest {
	h.t.Helper()
	r := b.nav(h.url + "/saml/login?next=" + url.QueryEscape(next))
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), idpSSO+"?") {
		h.t.Fatalf("login start: %d Location %q", r.StatusCode, r.Header.Get("Location"))
	}
	return decodeAuthnRequest(h.t, r.Header.Get("Location"))
}

func decodeAuthnRequest(t testing.TB, location string) authnRequest {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	deflated, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	x, err := io.ReadAll(flate.NewReader(bytes.NewReader(deflated)))
	if err != nil {
		t.Fatal(err)
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(x); err != nil {
		t.Fatal(err)
	}
	root := d.Root()
	iss := ""
	if e := root.SelectElement("Issuer"); e != nil {
		iss = e.Text()
	}
	return authnRequest{ID: root.SelectAttrValue("ID", ""), ACS: root.SelectAttrValue("AssertionConsumerServiceURL", ""),
		Relay: q.Get("RelayState"), Issuer: iss}
}

var idSeq atomic.Int64

// shape is a valid answer to req for user in groups; tests alter it.
func (h *harness) shape(req authnRequest, user string, groups ...string) samltest.Response {
	return samltest.Response{
		Audience:     h.cfg.EntityID,
		Recipient:    h.url + "/saml/acs",
		NameID:       user,
		InResponseTo: req.ID,
		Attributes:   []samltest.Attribute{{Name: "groups", Values: groups}, {Name: "mail", Values: []string{user + "@example.org"}}},
	}
}

// craft signs r as samltest.XML does, but with unique IDs (the broker's
// replay cache refuses a second assertion with the same ID).
func craft(t testing.TB, idp *samltest.IdP, r samltest.Response) []byte {
	t.Helper()
	n := idSeq.Add(1)
	signer := r.Signer
	if signer == nil {
		signer = idp
	}
	if r.Status == "" {
		r.Status = "urn:oasis:names:tc:SAML:2.0:status:Success"
	}
	if r.Issuer == "" {
		r.Issuer = idp.EntityID
	}
	dest := r.Destination
	if dest == "" {
		dest = r.Recipient
	}
	attrs := ""
	if dest != samltest.NoDestination {
		attrs += ` Destination="` + html.EscapeString(dest) + `"`
	}
	if r.InResponseTo != "" {
		attrs += ` InResponseTo="` + html.EscapeString(r.InResponseTo) + `"`
	}
	issue := r.IssueInstant
	if issue.IsZero() {
		issue = time.Now().UTC().Truncate(time.Second)
	}
	resp := parseEl(t, fmt.Sprintf(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp%d" Version="2.0" IssueInstant="%s"%s><saml:Issuer>%s</saml:Issuer><samlp:Status><samlp:StatusCode Value="%s"/></samlp:Status></samlp:Response>`,
		n, issue.UTC().Format(time.RFC3339), attrs, html.EscapeString(r.Issuer), html.EscapeString(r.Status)))
	count := r.Assertions
	if count == 0 {
		count = 1
	}
	for i := 1; i <= count; i++ {
		a := parseEl(t, idp.AssertionXML(r, fmt.Sprintf("_assert%d_%d", n, i)))
		if !r.UnsignedAssertion {
			a = samltest.Sign(t, a, signer, r.SHA1)
		}
		resp.AddChild(a)
	}
	if !r.UnsignedResponse {
		resp = samltest.Sign(t, resp, signer, r.SHA1)
	}
	d := etree.NewDocument()
	d.SetRoot(resp)
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func parseEl(t testing.TB, s string) *etree.Element {
	t.Helper()
	d := etree.NewDocument()
	if err := d.ReadFromString(s); err != nil {
		t.Fatal(err)
	}
	return d.Root()
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// postACS posts a SAMLResponse as the IdP's auto-submitted form does.
func (h *harness) postACS(b *browser, samlResponse, relay string) *response {
	h.t.Helper()
	return b.do(http.MethodPost, h.url+"/saml/acs", url.Values{"SAMLResponse": {samlResponse}, "RelayState": {relay}},
		map[string]string{"Origin": "https://idp.example.org", "Sec-Fetch-Site": "cross-site"})
}

// login signs user in with groups through a crafted, genuinely signed
// answer to a real AuthnRequest, and checks the broker accepted it.
func (h *harness) login(b *browser, user string, groups ...string) {
	h.t.Helper()
	req := h.startLogin(b, h.cfg.URLPrefix)
	r := h.postACS(b, b64(craft(h.t, h.idp, h.shape(req, user, groups...))), req.Relay)
	if r.StatusCode != http.StatusSeeOther {
		h.t.Fatalf("login as %s: %d\n%s\nlogs:\n%s", user, r.StatusCode, r.body, h.logs.String())
	}
}

// signedInAs returns who the broker thinks b is ("" when nobody).
func (h *harness) signedInAs(b *browser) string {
	h.t.Helper()
	r := b.nav(h.url + h.cfg.URLPrefix)
	if r.StatusCode != http.StatusOK {
		return ""
	}
	_, rest, ok := strings.Cut(r.body, "Signed in as <strong>")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "</strong>")
	return html.UnescapeString(name)
}

// auditLines returns the audit log's records.
func (h *harness) auditLines(msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(h.audit.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			h.t.Fatalf("audit line is not JSON: %q", l)
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
