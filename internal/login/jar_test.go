package login

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestSavingJarRoundTrip: cookies saved from one jar and replayed into a
// new one go where the originals went, and nowhere else.
func TestSavingJarRoundTrip(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	a := newSavingJar(clock)
	idp, _ := url.Parse("https://idp.example.com/simplesaml/saml2/idp/SSOService.php")
	a.SetCookies(idp, []*http.Cookie{
		{Name: "SimpleSAMLSessionID", Value: "s1", Path: "/", HttpOnly: true, Secure: true},
		{Name: "SimpleSAMLAuthToken", Value: "t1", Path: "/", MaxAge: 3600},
		{Name: "removed", Value: "x", Path: "/", MaxAge: -1},
	})
	a.SetCookies(idp, []*http.Cookie{{Name: "SimpleSAMLSessionID", Value: "s2", Path: "/", HttpOnly: true, Secure: true}})
	saved := a.saved()
	if len(saved) != 2 {
		t.Fatalf("saved %+v; want the last value of 2 live cookies", saved)
	}
	b := newSavingJar(clock)
	b.restore(saved)
	got := map[string]string{}
	for _, c := range b.Cookies(idp) {
		got[c.Name] = c.Value
	}
	if got["SimpleSAMLSessionID"] != "s2" || got["SimpleSAMLAuthToken"] != "t1" || len(got) != 2 {
		t.Errorf("restored %v", got)
	}
	other, _ := url.Parse("https://evil.example.net/")
	if cs := b.Cookies(other); len(cs) != 0 {
		t.Errorf("cookies sent to another host: %v", cs)
	}
	plain, _ := url.Parse("http://idp.example.com/")
	for _, c := range b.Cookies(plain) {
		if c.Name == "SimpleSAMLSessionID" {
			t.Error("a Secure cookie was restored for http")
		}
	}
	// Replaying keeps when a cookie was first set: saving again does not
	// make a session live longer.
	for _, c := range b.saved() {
		if !c.Set.Equal(now) {
			t.Errorf("%s set %v, want %v", c.Name, c.Set, now)
		}
	}
}
