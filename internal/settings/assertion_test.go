package settings

import (
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

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
