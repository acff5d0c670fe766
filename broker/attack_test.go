package broker_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/rolehop/rolehop/internal/samltest"
)

// attacker's genuine account: mallory, group dev. Every forgery tries to
// become alice, or to get group admins.

// genuineDoc is a genuinely signed answer to req for mallory (dev), signed
// as asked.
func (h *harness) genuineDoc(req authnRequest, signResponse, signAssertion bool) *etree.Document {
	h.t.Helper()
	s := h.shape(req, "mallory", "dev")
	s.UnsignedResponse, s.UnsignedAssertion = !signResponse, !signAssertion
	d := etree.NewDocument()
	if err := d.ReadFromBytes(craft(h.t, h.idp, s)); err != nil {
		h.t.Fatal(err)
	}
	return d
}

func docB64(t testing.TB, d *etree.Document) string {
	t.Helper()
	b, err := d.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b64(b)
}

// evilize turns an assertion into alice's, in group admins, with a new ID.
func evilize(a *etree.Element) {
	a.CreateAttr("ID", "_evil")
	if n := a.FindElement(".//NameID"); n != nil {
		n.SetText("alice")
	}
	for _, v := range a.FindElements(".//Attribute[@Name='groups']/AttributeValue") {
		v.SetText("admins")
	}
}

func withoutSignature(el *etree.Element) *etree.Element {
	c := el.Copy()
	if s := c.SelectElement("Signature"); s != nil {
		c.RemoveChild(s)
	}
	return c
}

func assertionOf(d *etree.Document) *etree.Element { return d.Root().SelectElement("Assertion") }

func child(parent *etree.Element, space, tag string) *etree.Element {
	if space != "" {
		return parent.CreateElement(space + ":" + tag)
	}
	return parent.CreateElement(tag)
}

// xsw are the eight XML Signature Wrapping shapes of "On Breaking SAML"
// (Somorovsky et al., 2012) as SAML Raider builds them: a genuine signed
// element kept where the signature's reference finds it, and an evil copy
// where a careless reader would look.
var xsw = []struct {
	name                  string
	signResp, signAssert  bool
	wrap                  func(d *etree.Document)
	acceptedReasonsDetail string
}{
	{"XSW1 (response copy inside its Signature)", true, false, func(d *etree.Document) {
		root := d.Root()
		shadow := withoutSignature(root)
		root.CreateAttr("ID", "_evilresp")
		evilize(assertionOf(d))
		root.SelectElement("Signature").AddChild(shadow)
	}, ""},
	{"XSW2 (response copy before its Signature)", true, false, func(d *etree.Document) {
		root := d.Root()
		shadow := withoutSignature(root)
		root.CreateAttr("ID", "_evilresp")
		evilize(assertionOf(d))
		root.InsertChildAt(root.SelectElement("Signature").Index(), shadow)
	}, ""},
	{"XSW3 (evil assertion before the signed one)", false, true, func(d *etree.Document) {
		orig := assertionOf(d)
		evil := withoutSignature(orig)
		evilize(evil)
		d.Root().InsertChildAt(orig.Index(), evil)
	}, ""},
	{"XSW4 (signed assertion inside the evil one)", false, true, func(d *etree.Document) {
		root := d.Root()
		orig := assertionOf(d)
		evil := withoutSignature(orig)
		evilize(evil)
		at := orig.Index()
		root.RemoveChild(orig)
		evil.AddChild(orig)
		root.InsertChildAt(at, evil)
	}, ""},
	{"XSW5 (signature in the evil assertion, original copy at the end)", false, true, func(d *etree.Document) {
		orig := assertionOf(d)
		cp := withoutSignature(orig)
		evilize(orig)
		d.Root().AddChild(cp)
	}, ""},
	{"XSW6 (original copy inside the evil assertion's Signature)", false, true, func(d *etree.Document) {
		orig := assertionOf(d)
		cp := withoutSignature(orig)
		evilize(orig)
		orig.SelectElement("Signature").AddChild(cp)
	}, ""},
	{"XSW7 (signed original in Extensions, evil assertion unsigned)", false, true, func(d *etree.Document) {
		root := d.Root()
		orig := assertionOf(d)
		ext := child(root, root.Space, "Extensions")
		root.RemoveChild(ext)
		ext.AddChild(orig.Copy())
		root.InsertChildAt(root.SelectElement("Issuer").Index()+1, ext)
		if s := orig.SelectElement("Signature"); s != nil {
			orig.RemoveChild(s)
		}
		evilize(orig)
	}, ""},
	{"XSW8 (original copy in a ds:Object of the evil assertion's Signature)", false, true, func(d *etree.Document) {
		orig := assertionOf(d)
		cp := withoutSignature(orig)
		evilize(orig)
		sig := orig.SelectElement("Signature")
		obj := child(sig, sig.Space, "Object")
		obj.AddChild(cp)
	}, ""},
}

// TestACSRefusesAttacks: every attack in the list, each a crafted POST to
// the ACS answering a real AuthnRequest of the attacker's browser. Zero
// accepted: no session cookie, nobody signed in, the refusal for the
// expected reason.
func TestACSRefusesAttacks(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	_, foreignKey := idps(t)
	now := time.Now().UTC().Truncate(time.Second)
	type attack struct {
		name    string
		build   func(req authnRequest) string
		reasons []string // acceptable refusal reasons
	}
	shaped := func(mod func(s *samltest.Response)) func(req authnRequest) string {
		return func(req authnRequest) string {
			s := h.shape(req, "alice", "admins")
			mod(&s)
			return b64(craft(t, h.idp, s))
		}
	}
	sig := []string{"signature"}
	attacks := []attack{
		{"unsigned", shaped(func(s *samltest.Response) { s.UnsignedResponse, s.UnsignedAssertion = true, true }), sig},
		{"signed by a foreign key", shaped(func(s *samltest.Response) { s.Signer = foreignKey }), sig},
		{"foreign issuer (signed by the trusted key)", shaped(func(s *samltest.Response) { s.Issuer = "https://evil-idp.example/metadata" }), []string{"issuer"}},
		{"SHA-1 signature", shaped(func(s *samltest.Response) { s.SHA1 = true }), sig},
		{"two assertions", shaped(func(s *samltest.Response) { s.Assertions = 2 }), []string{"malformed"}},
		{"expired", shaped(func(s *samltest.Response) { s.IssueInstant = now.Add(-10 * time.Minute) }), []string{"expired"}},
		{"issued long ago, NotOnOrAfter in the future", shaped(func(s *samltest.Response) {
			s.IssueInstant, s.NotBefore, s.NotOnOrAfter = now.Add(-4*time.Minute), now.Add(-5*time.Minute), now.Add(time.Hour)
		}), []string{"expired"}},
		{"not yet valid", shaped(func(s *samltest.Response) { s.IssueInstant = now.Add(10 * time.Minute) }), []string{"not_yet_valid"}},
		{"wrong audience", shaped(func(s *samltest.Response) { s.Audience = "urn:amazon:webservices" }), []string{"audience"}},
		{"wrong recipient", shaped(func(s *samltest.Response) {
			s.Destination = s.Recipient
			s.Recipient = "https://evil.example/saml/acs"
		}), []string{"recipient"}},
		{"wrong destination", shaped(func(s *samltest.Response) { s.Destination = "https://evil.example/saml/acs" }), []string{"destination"}},
		{"answer to another request", shaped(func(s *samltest.Response) { s.InResponseTo = "id-somebody-elses-request" }), []string{"request_id"}},
		{"unsolicited (IdP-initiated is off)", shaped(func(s *samltest.Response) { s.InResponseTo = "" }), []string{"request_id"}},
		{"IdP error status", shaped(func(s *samltest.Response) { s.Status = "urn:oasis:names:tc:SAML:2.0:status:Responder" }), []string{"status"}},
		{"altered groups after signing", func(req authnRequest) string {
			d := h.genuineDoc(req, true, true)
			for _, v := range assertionOf(d).FindElements(".//Attribute[@Name='groups']/AttributeValue") {
				v.SetText("admins")
			}
			return docB64(t, d)
		}, sig},
		{"altered NameID after signing", func(req authnRequest) string {
			d := h.genuineDoc(req, true, true)
			assertionOf(d).FindElement(".//NameID").SetText("alice")
			return docB64(t, d)
		}, sig},
		{"added attribute after signing", func(req authnRequest) string {
			d := h.genuineDoc(req, false, true)
			st := assertionOf(d).FindElement(".//AttributeStatement")
			a := st.Copy()
			for _, v := range a.FindElements(".//AttributeValue") {
				v.SetText("admins")
			}
			st.AddChild(a.SelectElement("Attribute"))
			return docB64(t, d)
		}, sig},
		{"not base64", func(authnRequest) string { return "<samlp:Response>%%%" }, []string{"malformed"}},
		{"empty", func(authnRequest) string { return "" }, []string{"malformed"}},
	}
	for _, w := range xsw {
		attacks = append(attacks, attack{w.name, func(req authnRequest) string {
			d := h.genuineDoc(req, w.signResp, w.signAssert)
			w.wrap(d)
			return docB64(t, d)
		}, []string{"signature", "malformed"}})
	}

	accepted := 0
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			b := h.browser()
			req := h.startLogin(b, "/prod-admin")
			before := len(h.auditLines("login"))
			r := h.postACS(b, a.build(req), req.Relay)
			if r.StatusCode < 400 {
				accepted++
				t.Fatalf("accepted: %d Location %q", r.StatusCode, r.Header.Get("Location"))
			}
			if setsSession(r.Response) {
				accepted++
				t.Fatal("a session cookie was set")
			}
			if who := h.signedInAs(b); who != "" {
				accepted++
				t.Fatalf("signed in as %q", who)
			}
			lines := h.auditLines("login")
			if len(lines) != before+1 {
				t.Fatalf("%d new login audit lines, want 1", len(lines)-before)
			}
			if reason, _ := lines[len(lines)-1]["reason"].(string); !slices.Contains(a.reasons, reason) {
				t.Errorf("refused for %q, want one of %v; log:\n%s", reason, a.reasons, lastLines(h.logs.String(), 3))
			}
			for _, leak := range []string{"alice", "admins", "mallory", "Signature"} {
				if strings.Contains(r.body, leak) {
					t.Errorf("the refusal page shows %q", leak)
				}
			}
		})
	}
	if accepted != 0 {
		t.Errorf("%d of %d attacks accepted", accepted, len(attacks))
	}
	// The genuine answer to a fresh request still works: the refusals were
	// not a broken fixture.
	b := h.browser()
	h.login(b, "mallory", "dev")
	if who := h.signedInAs(b); who != "mallory" {
		t.Fatalf("genuine login: signed in as %q", who)
	}
}

func setsSession(r *http.Response) bool {
	for _, c := range r.Cookies() {
		if strings.Contains(c.Name, "rolehop_session") && c.Value != "" {
			return true
		}
	}
	return false
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// TestACSCommentInjection: a comment inside a signed NameID or group value
// (the 2018 "duo" class) does not cut the value: exclusive c14n drops the
// comment from what is signed, and only the signed, canonical text is
// read. The user is "alice.evil.example", never "alice"; the group
// "admins-readonly" never grants "admins".
func TestACSCommentInjection(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	b := h.browser()
	req := h.startLogin(b, "/")
	x := string(craft(t, h.idp, h.shape(req, "alice.evil.example", "admins-readonly")))
	for _, r := range [][2]string{{">alice.evil.example<", ">alice<!---->.evil.example<"}, {">admins-readonly<", ">admins<!---->-readonly<"}} {
		if !strings.Contains(x, r[0]) {
			t.Fatalf("fixture lacks %s", r[0])
		}
		x = strings.ReplaceAll(x, r[0], r[1])
	}
	r := h.postACS(b, b64([]byte(x)), req.Relay)
	if r.StatusCode == http.StatusSeeOther {
		if who := h.signedInAs(b); who != "alice.evil.example" {
			t.Fatalf("accepted as %q, want the whole signed value", who)
		}
		if rr := b.nav(h.url + "/prod-admin"); rr.StatusCode != http.StatusForbidden {
			t.Fatalf("group admins<!---->-readonly opened the admins target: %d", rr.StatusCode)
		}
	} else if who := h.signedInAs(b); who != "" {
		t.Fatalf("refused yet signed in as %q", who)
	}
}

// TestACSReplay: an accepted assertion is refused the second time, even
// with the same browser state (its login cookie copied), and an attacker
// without that cookie is refused before the replay cache is even asked.
func TestACSReplay(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	victim := h.browser()
	req := h.startLogin(victim, "/")
	stolenCookies := victim.c.Jar.Cookies(mustURL(t, h.url+"/saml/acs"))
	assertion := b64(craft(t, h.idp, h.shape(req, "alice", "admins")))
	if r := h.postACS(victim, assertion, req.Relay); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d", r.StatusCode)
	}
	attacker := h.browser()
	attacker.c.Jar.SetCookies(mustURL(t, h.url+"/"), stolenCookies)
	r := h.postACS(attacker, assertion, req.Relay)
	if r.StatusCode < 400 || setsSession(r.Response) || h.signedInAs(attacker) != "" {
		t.Fatalf("replay with the login cookie accepted: %d", r.StatusCode)
	}
	lines := h.auditLines("login")
	if reason := lines[len(lines)-1]["reason"]; reason != "replay" {
		t.Errorf("refused for %v, want replay", reason)
	}
	bare := h.browser()
	if r := h.postACS(bare, assertion, req.Relay); r.StatusCode < 400 || h.signedInAs(bare) != "" {
		t.Fatalf("replay without the cookie accepted: %d", r.StatusCode)
	}
	metrics := h.browser().nav(h.url + "/metrics").body
	if !strings.Contains(metrics, `rolehop_broker_login_refusals_total{reason="replay"} 1`) {
		t.Errorf("metrics lack the replay refusal:\n%s", grep(metrics, "refusals"))
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestACSBombs: what is parsed is bounded. An entity-expansion ("billion
// laughs") document, a quadratic blow-up, deep nesting and a deflate bomb
// are refused within a memory bound, an oversized body before it is read.
func TestACSBombs(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var laughs strings.Builder
	laughs.WriteString(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY l0 "lollollollollollollollollollol">`)
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&laughs, `<!ENTITY l%d "%s">`, i, strings.Repeat(fmt.Sprintf("&l%d;", i-1), 10))
	}
	laughs.WriteString(`]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">&l9;</samlp:Response>`)
	quadratic := `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "` + strings.Repeat("x", 50000) + `">]><samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol">` +
		strings.Repeat("&a;", 20000) + `</samlp:Response>`
	deep := strings.Repeat("<a>", 25000) + strings.Repeat("</a>", 25000)
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestSpeed)
	zeros := make([]byte, 1<<20)
	for range 64 { // 64 MiB of zeros, a few hundred KB deflated
		_, _ = fw.Write(zeros)
	}
	_ = fw.Close()

	const bound = 64 << 20
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"billion laughs", b64([]byte(laughs.String())), 400},
		{"quadratic blow-up", b64([]byte(quadratic)), 400},
		{"deep nesting", b64([]byte(deep)), 400},
		{"deflate bomb", b64(deflated.Bytes()), 400},
		{"oversized body", strings.Repeat("A", 4<<20), 413},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := h.browser()
			req := h.startLogin(b, "/")
			form := url.Values{"SAMLResponse": {c.body}, "RelayState": {req.Relay}}
			hr := httptest.NewRequest(http.MethodPost, h.url+"/saml/acs", strings.NewReader(form.Encode()))
			hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, ck := range b.c.Jar.Cookies(mustURL(t, h.url+"/")) {
				hr.AddCookie(ck)
			}
			rec := httptest.NewRecorder()
			var m0, m1 runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&m0)
			h.srv.ServeHTTP(rec, hr)
			runtime.ReadMemStats(&m1)
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			if setsSession(rec.Result()) {
				t.Error("a session cookie was set")
			}
			if used := m1.TotalAlloc - m0.TotalAlloc; used > bound {
				t.Errorf("allocated %d MiB handling it, bound %d MiB", used>>20, bound>>20)
			}
		})
	}
	// The HTTP-Redirect binding (a deflated response in the query) is not
	// accepted at all.
	if r := h.browser().nav(h.url + "/saml/acs?SAMLResponse=" + url.QueryEscape(b64(deflated.Bytes()))); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /saml/acs: %d, want 405", r.StatusCode)
	}
}

// TestRelayStateNeverRedirectsAway: the place a login returns to is the
// index or a configured target, whatever the RelayState (IdP-initiated)
// or the next parameter (SP-initiated) says.
func TestRelayStateNeverRedirectsAway(t *testing.T) {
	h := newHarness(t, harnessOptions{configure: func(y *string) {
		*y = strings.Replace(*y, "idp:\n", "idp:\n  allow_idp_initiated: true\n", 1)
	}})
	evil := []string{"https://evil.example/", "//evil.example/x", "/\\evil.example", "/%2F%2Fevil.example", "\\\\evil.example",
		"javascript:alert(1)", "/prod-admin/../../evil", " https://evil.example", "https:evil.example", "/prod-admin?x=https://evil.example",
		"http://" + strings.TrimPrefix(h.url, "http://") + "@evil.example/", "/.", ""}
	for _, relay := range evil {
		b := h.browser()
		s := h.shape(authnRequest{}, "alice", "admins")
		r := h.postACS(b, b64(craft(t, h.idp, s)), relay)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != h.url+"/" {
			t.Errorf("IdP-initiated RelayState %q: %d Location %q, want 303 to %s/", relay, r.StatusCode, r.Header.Get("Location"), h.url)
		}
	}
	b := h.browser()
	r := h.postACS(b, b64(craft(t, h.idp, h.shape(authnRequest{}, "alice", "admins"))), "/prod-dev")
	if r.Header.Get("Location") != h.url+"/prod-dev" {
		t.Errorf("RelayState naming a target: Location %q", r.Header.Get("Location"))
	}
	for _, next := range evil {
		b := h.browser()
		req := h.startLogin(b, next)
		r := h.postACS(b, b64(craft(t, h.idp, h.shape(req, "alice", "admins"))), req.Relay)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != h.url+"/" {
			t.Errorf("next=%q: %d Location %q, want 303 to %s/", next, r.StatusCode, r.Header.Get("Location"), h.url)
		}
	}
}
