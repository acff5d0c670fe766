package settings

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

func TestNewIdPClient(t *testing.T) {
	pr := idp.Fixed{User: "u", Pass: "p"}
	c, err := NewIdPClient(LoginProfile{URL: "https://idp.example.com/sso"}, pr, nil)
	if f, ok := c.(*idp.Form); err != nil || !ok || f.URL != "https://idp.example.com/sso" {
		t.Errorf("form: %T %v", c, err)
	}
	c, err = NewIdPClient(LoginProfile{IdP: IdPADFS, URL: "adfs.example.com", ADFS: ADFSSettings{Auth: "ntlm"}}, pr, nil)
	if a, ok := c.(*idp.ADFS); err != nil || !ok || a.Host != "adfs.example.com" || a.Mode != idp.ADFSHTTPAuth || a.HTTPAuth != "ntlm" {
		t.Errorf("adfs: %+v %v", c, err)
	}
	c, err = NewIdPClient(LoginProfile{IdP: IdPADFS, URL: "https://adfs.example.com/x"}, pr, nil)
	if a, ok := c.(*idp.ADFS); err != nil || !ok || a.URL != "https://adfs.example.com/x" || a.Mode != idp.ADFSForms {
		t.Errorf("adfs forms: %+v %v", c, err)
	}
	ol := LoginProfile{IdP: IdPOneLogin, OneLogin: OneLoginSettings{Region: "eu", Subdomain: "acme", AppID: "1", ClientID: "cid"}}
	t.Setenv(EnvOneLoginSecret, "")
	if _, err := NewIdPClient(ol, pr, nil); err == nil || !strings.Contains(err.Error(), EnvOneLoginSecret) {
		t.Errorf("onelogin without secret: %v", err)
	}
	t.Setenv(EnvOneLoginSecret, "s3cret")
	c, err = NewIdPClient(ol, pr, nil)
	if o, ok := c.(*idp.OneLogin); err != nil || !ok || o.ClientSecret != "s3cret" || o.Region != "eu" || o.AppID != "1" {
		t.Errorf("onelogin: %v %v", c, err)
	}
	if _, err := NewIdPClient(LoginProfile{}, pr, nil); err == nil {
		t.Error("form without url: want an error")
	}
}

func TestNewSAMLProviderValidatesBeforeAnyCall(t *testing.T) {
	lp := LoginProfile{URL: "http://127.0.0.1:9/sso", Duration: time.Hour, Region: "eu-west-1", STSEndpoint: "http://127.0.0.1:9"}
	if _, err := NewSAMLProvider(context.Background(), lp, idp.Fixed{}, nil); err != nil {
		t.Errorf("valid profile: %v", err)
	}
	lp.Duration = time.Minute
	if _, err := NewSAMLProvider(context.Background(), lp, idp.Fixed{}, nil); !errors.Is(err, session.ErrInvalidParameter) {
		t.Errorf("1m duration: %v", err)
	}
}

// assertionB64 is a minimal unsigned Response whose assertion expires at exp
// (saml.Parse reads it; signatures are STS's business).
func assertionB64(exp time.Time) string {
	xml := `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">` +
		`<saml:Assertion><saml:Issuer>idp</saml:Issuer><saml:Conditions NotOnOrAfter="` + exp.UTC().Format(time.RFC3339) + `"/></saml:Assertion></samlp:Response>`
	return base64.StdEncoding.EncodeToString([]byte(xml))
}

func TestAssertionCache(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	c, err := NewAssertionCache("corp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(c.Path, filepath.Join("rolehop", "saml", "corp.b64")) {
		t.Errorf("path %s", c.Path)
	}
	if _, ok := c.Load(); ok {
		t.Error("empty cache loaded something")
	}
	now := time.Now()
	c.Now = func() time.Time { return now }
	live := assertionB64(now.Add(5 * time.Minute))
	if err := c.Save(live); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(c.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi, err)
	}
	if dfi, _ := os.Stat(filepath.Dir(c.Path)); dfi.Mode().Perm() != 0o700 {
		t.Errorf("folder mode %v", dfi.Mode())
	}
	if got, ok := c.Load(); !ok || got != live {
		t.Errorf("live assertion not loaded")
	}
	// Past its own expiry it is not used, and removed.
	now = now.Add(6 * time.Minute)
	if _, ok := c.Load(); ok {
		t.Error("expired assertion loaded")
	}
	if _, err := os.Stat(c.Path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("expired assertion file kept: %v", err)
	}
	if _, err := NewAssertionCache("../x"); err == nil {
		t.Error("a login name with a slash must not name a cache file")
	}
}
