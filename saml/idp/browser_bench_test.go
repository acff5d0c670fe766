package idp_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml/idp"
)

// BenchmarkBrowserLogin: one login as alice against the real SimpleSAMLphp,
// end to end, the way each client does it:
//
//   - form: the Form client (HTTP only), a fresh cookie jar each time;
//   - browser-cold: headless Chromium started on a new profile, the page
//     typed into, the SAMLResponse intercepted, the browser closed;
//   - browser-warm: the same with the profile of an earlier login: the
//     IdP's session makes it silent (browser start, no typing).
func BenchmarkBrowserLogin(b *testing.B) {
	chrome := testpeer.Chromium(b)
	peer := testpeer.NewSimpleSAML(b, testpeer.SimpleSAMLOptions{})
	ctx := context.Background()
	check := func(b *testing.B, sr string, err error) {
		if err != nil || sr == "" {
			b.Fatalf("login: %v", err)
		}
	}
	b.Run("form", func(b *testing.B) {
		for b.Loop() {
			f := &idp.Form{URL: peer.AWSLoginURL, Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}}
			sr, err := f.Assertion(ctx)
			check(b, sr, err)
		}
	})
	browser := func(dir string) *idp.Browser {
		return &idp.Browser{URL: peer.AWSLoginURL, BrowserPath: chrome, ProfileDir: dir, Headless: true,
			Prompter: idp.Fixed{User: "alice", Pass: "alicepass"}, LoginTimeout: time.Minute}
	}
	b.Run("browser-cold", func(b *testing.B) {
		base := b.TempDir()
		i := 0
		for b.Loop() {
			i++
			sr, err := browser(filepath.Join(base, fmt.Sprint(i))).Assertion(ctx)
			check(b, sr, err)
		}
	})
	b.Run("browser-warm", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "profile")
		sr, err := browser(dir).Assertion(ctx) // signs in once
		check(b, sr, err)
		for b.Loop() {
			br := browser(dir)
			br.Prompter = idp.Fixed{} // no password: the IdP session must do
			sr, err := br.Assertion(ctx)
			check(b, sr, err)
		}
	})
}
