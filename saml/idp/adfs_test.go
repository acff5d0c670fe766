package idp_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"golang.org/x/crypto/md4" //lint:ignore SA1019 NTLM is defined over MD4; the fake ADFS must compute it

	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// realAssertion is a SAMLResponse SimpleSAMLphp issued (saml/testdata), the
// payload the fake IdPs hand out.
func realAssertion(t testing.TB) string {
	b, err := os.ReadFile("../testdata/simplesamlphp-alice.b64")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// fakeADFS plays ADFS 3.0/2016's IdpInitiatedSignOn.aspx: forms
// authentication (the loginForm page, UserName/Password/AuthMethod, the
// errorText span on failure, MSISAuth cookie, then the hiddenform with the
// SAMLResponse) and, when auth is "basic" or "ntlm", Windows HTTP
// authentication answering 401 with WWW-Authenticate.
type fakeADFS struct {
	t          testing.TB
	user, pass string // DOMAIN\user for ntlm
	auth       string // "", "basic", "ntlm"
	assertion  string

	mu         sync.Mutex
	challenges map[string][]byte // NTLM server challenge by connection
	posts      int
}

const adfsLoginPage = `<!DOCTYPE html><html lang="en-US"><head><title>Sign In</title></head><body>
<div id="loginArea"><div id="loginMessage" class="groupMargin">Sign in with your organizational account</div>
<form method="post" id="loginForm" autocomplete="off" novalidate="novalidate" onKeyPress="if (event &amp;&amp; event.keyCode == 13) Login.submitLoginRequest();" action="/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices&amp;client-request-id=5f3c1d2e-0000-4000-8000-000000000001">
<div id="error" class="fieldMargin error smallText"><span id="errorText" for="">%s</span></div>
<div id="formsAuthenticationArea">
<div id="userNameArea"><label id="userNameInputLabel" for="userNameInput" class="hidden">User Account</label>
<input id="userNameInput" name="UserName" type="email" value="%s" tabindex="1" class="text fullWidth" spellcheck="false" placeholder="someone@example.com" autocomplete="off"/></div>
<div id="passwordArea"><label id="passwordInputLabel" for="passwordInput" class="hidden">Password</label>
<input id="passwordInput" name="Password" type="password" tabindex="2" class="text fullWidth" placeholder="Password" autocomplete="off"/></div>
<div id="kmsiArea" style="display:none"><input type="checkbox" name="Kmsi" id="kmsiInput" value="true" tabindex="3" /><label for="kmsiInput">Keep me signed in</label></div>
<div id="submissionArea" class="submitMargin"><span id="submitButton" class="submit" tabindex="4" role="button" onclick="return Login.submitLoginRequest();">Sign in</span></div>
</div>
<input id="optionForms" type="hidden" name="AuthMethod" value="FormsAuthentication"/>
</form></div></body></html>`

const adfsPostPage = `<html><head><title>Working...</title></head><body><form method="POST" name="hiddenform" action="https://signin.aws.amazon.com:443/saml"><input type="hidden" name="SAMLResponse" value="%s" /><noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit" /></noscript></form><script language="javascript">window.setTimeout('document.forms[0].submit()', 0);</script></body></html>`

func (f *fakeADFS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/adfs/ls/IdpInitiatedSignOn.aspx" || r.URL.Query().Get("loginToRp") != "urn:amazon:webservices" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `<html><head><title>An error occurred</title></head><body>MSIS7007: The requested relying party trust is unspecified or unsupported.</body></html>`)
		return
	}
	if c, err := r.Cookie("MSISAuth"); err == nil && c.Value == "ok" {
		fmt.Fprintf(w, adfsPostPage, html.EscapeString(f.assertion))
		return
	}
	switch f.auth {
	case "basic":
		u, p, ok := r.BasicAuth()
		if !ok || u != f.user || p != f.pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="adfs"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprintf(w, adfsPostPage, html.EscapeString(f.assertion))
		return
	case "ntlm":
		if f.ntlm(w, r) {
			fmt.Fprintf(w, adfsPostPage, html.EscapeString(f.assertion))
		}
		return
	}
	switch r.Method {
	case http.MethodGet:
		fmt.Fprintf(w, adfsLoginPage, "", "")
	case http.MethodPost:
		f.mu.Lock()
		f.posts++
		f.mu.Unlock()
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("AuthMethod") != "FormsAuthentication" || r.URL.Query().Get("client-request-id") == "" {
			http.Error(w, "MSIS: missing AuthMethod or client-request-id", http.StatusBadRequest)
			return
		}
		if r.PostForm.Get("UserName") != f.user || r.PostForm.Get("Password") != f.pass {
			fmt.Fprintf(w, adfsLoginPage, "Incorrect user ID or password. Type the correct user ID and password, and try again.", html.EscapeString(r.PostForm.Get("UserName")))
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "MSISAuth", Value: "ok", Path: "/adfs", HttpOnly: true, Secure: true})
		http.Redirect(w, r, r.URL.Path+"?loginToRp=urn:amazon:webservices", http.StatusFound)
	}
}

// ntlm runs the server side of NTLMv2 (MS-NLMP 3.2.5.1.2, 3.3.2) and reports
// whether the client proved it knows the password. It answers the 401s.
func (f *fakeADFS) ntlm(w http.ResponseWriter, r *http.Request) bool {
	h := r.Header.Get("Authorization")
	deny := func() bool {
		w.Header().Add("WWW-Authenticate", "Negotiate")
		w.Header().Add("WWW-Authenticate", "NTLM")
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || (scheme != "NTLM" && scheme != "Negotiate") {
		return deny()
	}
	msg, err := base64.StdEncoding.DecodeString(tok)
	if err != nil || len(msg) < 12 || !bytes.Equal(msg[:8], []byte("NTLMSSP\x00")) {
		return deny()
	}
	switch binary.LittleEndian.Uint32(msg[8:12]) {
	case 1: // NEGOTIATE -> CHALLENGE
		var ch [8]byte
		_, _ = rand.Read(ch[:])
		f.mu.Lock()
		if f.challenges == nil {
			f.challenges = map[string][]byte{}
		}
		f.challenges[r.RemoteAddr] = ch[:]
		f.mu.Unlock()
		w.Header().Set("WWW-Authenticate", scheme+" "+base64.StdEncoding.EncodeToString(challengeMessage(ch)))
		w.WriteHeader(http.StatusUnauthorized)
		return false
	case 3: // AUTHENTICATE
		f.mu.Lock()
		ch := f.challenges[r.RemoteAddr]
		f.mu.Unlock()
		field := func(off int) []byte {
			if len(msg) < off+8 {
				return nil
			}
			l := int(binary.LittleEndian.Uint16(msg[off:]))
			o := int(binary.LittleEndian.Uint32(msg[off+4:]))
			if o+l > len(msg) {
				return nil
			}
			return msg[o : o+l]
		}
		nt, domain, user := field(20), fromUTF16(field(28)), fromUTF16(field(36))
		wantDomain, wantUser, _ := strings.Cut(f.user, `\`)
		if ch == nil || len(nt) < 16 || !strings.EqualFold(domain, wantDomain) || !strings.EqualFold(user, wantUser) {
			return deny()
		}
		h4 := md4.New()
		h4.Write(toUTF16(f.pass))
		key := hmacMD5(h4.Sum(nil), toUTF16(strings.ToUpper(user)+domain))
		if !hmac.Equal(nt[:16], hmacMD5(key, ch, nt[16:])) {
			return deny()
		}
		return true
	}
	return deny()
}

func challengeMessage(ch [8]byte) []byte {
	// Target info: MsvAvNbDomainName "CORP", then MsvAvEOL.
	var info bytes.Buffer
	dom := toUTF16("CORP")
	_ = binary.Write(&info, binary.LittleEndian, []uint16{2, uint16(len(dom))})
	info.Write(dom)
	info.Write([]byte{0, 0, 0, 0})
	const flags = 0x00000001 | 0x00000200 | 0x00800000 | 0x00080000 // UNICODE | NTLM | TARGET_INFO | EXTENDED_SESSIONSECURITY
	var b bytes.Buffer
	b.WriteString("NTLMSSP\x00")
	_ = binary.Write(&b, binary.LittleEndian, uint32(2))
	_ = binary.Write(&b, binary.LittleEndian, []uint16{0, 0})
	_ = binary.Write(&b, binary.LittleEndian, uint32(48)) // empty TargetName
	_ = binary.Write(&b, binary.LittleEndian, uint32(flags))
	b.Write(ch[:])
	b.Write(make([]byte, 8))
	_ = binary.Write(&b, binary.LittleEndian, []uint16{uint16(info.Len()), uint16(info.Len())})
	_ = binary.Write(&b, binary.LittleEndian, uint32(48))
	b.Write(info.Bytes())
	return b.Bytes()
}

func hmacMD5(key []byte, data ...[]byte) []byte {
	m := hmac.New(md5.New, key)
	for _, d := range data {
		m.Write(d)
	}
	return m.Sum(nil)
}

func toUTF16(s string) []byte {
	var b bytes.Buffer
	for _, u := range utf16.Encode([]rune(s)) {
		_ = binary.Write(&b, binary.LittleEndian, u)
	}
	return b.Bytes()
}

func fromUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func startADFS(t *testing.T, f *fakeADFS) (*httptest.Server, string) {
	t.Helper()
	f.t = t
	f.assertion = realAssertion(t)
	srv := httptest.NewTLSServer(f)
	t.Cleanup(srv.Close)
	return srv, strings.TrimPrefix(srv.URL, "https://")
}

func TestADFSForms(t *testing.T) {
	fake := &fakeADFS{user: "alice@corp.example", pass: "s3cret-Pa55"}
	srv, host := startADFS(t, fake)
	log, logs := debugLogger()
	a := &idp.ADFS{
		Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
		Host:     host,
		Prompter: idp.Fixed{User: "alice@corp.example", Pass: "s3cret-Pa55"},
	}
	b64, err := a.Assertion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if b64 != fake.assertion {
		t.Fatalf("assertion differs from the one ADFS posted")
	}
	if r, err := saml.Parse(b64); err != nil || len(r.Roles) != 2 {
		t.Errorf("parsed assertion: %v, %v", r, err)
	}
	assertNoSecret(t, "log", logs.String(), "s3cret-Pa55", b64[:64])
}

func TestADFSFormsWrongPassword(t *testing.T) {
	fake := &fakeADFS{user: "alice@corp.example", pass: "s3cret-Pa55"}
	srv, host := startADFS(t, fake)
	log, logs := debugLogger()
	a := &idp.ADFS{
		Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
		Host:     host,
		Mode:     "POST",
		Prompter: idp.Fixed{User: "alice@corp.example", Pass: "wrong-Pa55"},
	}
	_, err := a.Assertion(context.Background())
	if !errors.Is(err, idp.ErrAccessDenied) {
		t.Fatalf("err = %v, want ErrAccessDenied", err)
	}
	if !strings.Contains(err.Error(), "Incorrect user ID or password") {
		t.Errorf("error %q does not pass on ADFS's message", err)
	}
	if fake.posts != 1 {
		t.Errorf("posted the password %d times, want once", fake.posts)
	}
	assertNoSecret(t, "error", err.Error(), "wrong-Pa55")
	assertNoSecret(t, "log", logs.String(), "wrong-Pa55")
}

func TestADFSUnknownRelyingParty(t *testing.T) {
	srv, _ := startADFS(t, &fakeADFS{user: "u", pass: "p"})
	a := &idp.ADFS{
		Options:  idp.Options{HTTPClient: srv.Client()},
		URL:      srv.URL + "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:not:configured",
		Prompter: idp.Fixed{User: "u", Pass: "p"},
	}
	_, err := a.Assertion(context.Background())
	if !errors.Is(err, idp.ErrNoAssertion) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Fatalf("err = %v, want ErrNoAssertion naming HTTP 404", err)
	}
}

func TestADFSHTTPAuth(t *testing.T) {
	for _, tt := range []struct {
		auth, user string
	}{
		{"basic", "alice@corp.example"},
		{"ntlm", `CORP\alice`},
	} {
		t.Run(tt.auth, func(t *testing.T) {
			fake := &fakeADFS{user: tt.user, pass: "s3cret-Pa55", auth: tt.auth}
			srv, host := startADFS(t, fake)
			log, logs := debugLogger()
			a := &idp.ADFS{
				Options:  idp.Options{HTTPClient: srv.Client(), Logger: log},
				Host:     host,
				Mode:     "GET",
				HTTPAuth: tt.auth,
				Headers:  http.Header{"User-Agent": {"Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko"}},
				Prompter: idp.Fixed{User: tt.user, Pass: "s3cret-Pa55"},
			}
			b64, err := a.Assertion(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if b64 != fake.assertion {
				t.Fatalf("assertion differs from the one ADFS posted")
			}

			a.Prompter = idp.Fixed{User: tt.user, Pass: "wrong-Pa55"}
			a.Options = idp.Options{HTTPClient: srv.Client(), Logger: log} // fresh cookies
			_, err = a.Assertion(context.Background())
			if !errors.Is(err, idp.ErrAccessDenied) {
				t.Fatalf("wrong password: err = %v, want ErrAccessDenied", err)
			}
			assertNoSecret(t, "error", err.Error(), "wrong-Pa55", "s3cret-Pa55")
			assertNoSecret(t, "log", logs.String(), "wrong-Pa55", "s3cret-Pa55")
		})
	}
}

func TestADFSTLSVerified(t *testing.T) {
	srv, host := startADFS(t, &fakeADFS{user: "u", pass: "p"})
	_ = srv
	// The default client does not trust the test server's certificate.
	a := &idp.ADFS{Host: host, Prompter: idp.Fixed{User: "u", Pass: "p"}}
	_, err := a.Assertion(context.Background())
	if !errors.Is(err, idp.ErrIdP) || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("err = %v, want ErrIdP about the certificate", err)
	}
	// Opting out works, and is logged as a warning.
	log, logs := debugLogger()
	a = &idp.ADFS{Host: host, Prompter: idp.Fixed{User: "u", Pass: "p"},
		Options: idp.Options{InsecureSkipVerify: true, Logger: log}}
	if _, err := a.Assertion(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "InsecureSkipVerify") {
		t.Errorf("no warning logged for InsecureSkipVerify:\n%s", logs)
	}
}
