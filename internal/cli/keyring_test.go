package cli

import (
	"context"
	"strings"
	"testing"

	gokeyring "github.com/zalando/go-keyring"
)

// TestKeyringPasswordLifecycle: with --keyring, a piped password is saved
// only after a successful login, a saved one is used without reading stdin,
// and a password the IdP rejected is removed from the keyring. The OS
// keyring is go-keyring's in-memory mock (no Secret Service runs here).
func TestKeyringPasswordLifecycle(t *testing.T) {
	gokeyring.MockInit()
	ks, err := openKeyring("corp")
	if err != nil {
		t.Fatal(err)
	}
	newPrompter := func(stdin string) *terminalPrompter {
		ios, _, _, _ := Test()
		ios.In = strings.NewReader(stdin)
		return &terminalPrompter{io: ios, username: "alice", passwordStdin: true, keyring: ks}
	}
	ctx := context.Background()

	// First login: typed (piped) password, saved once the login succeeded.
	p := newPrompter("s3cret\n")
	if pw, err := p.Password(ctx); err != nil || pw != "s3cret" {
		t.Fatalf("piped password = %q, %v", pw, err)
	}
	if _, ok := ks.get("alice"); ok {
		t.Fatal("password saved before the login succeeded")
	}
	if err := p.rememberPassword(); err != nil {
		t.Fatal(err)
	}
	if pw, ok := ks.get("alice"); !ok || pw != "s3cret" {
		t.Fatalf("keyring holds %q, %v after a successful login", pw, ok)
	}
	if got, _ := gokeyring.Get(keyringService, "login:corp:alice"); got != "s3cret" {
		t.Errorf("item key: got %q under login:corp:alice", got)
	}

	// Next run: the keyring answers, stdin is not read.
	p = newPrompter("")
	if pw, err := p.Password(ctx); err != nil || pw != "s3cret" {
		t.Fatalf("keyring password = %q, %v", pw, err)
	}

	// The IdP rejects it (changed password): it leaves the keyring.
	p.forgetPassword()
	if _, ok := ks.get("alice"); ok {
		t.Error("a rejected keyring password stayed in the keyring")
	}

	// Another login profile never sees alice's corp password.
	other, err := openKeyring("other")
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.set("alice", "x1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := other.get("alice"); ok {
		t.Error("login profiles share keyring items")
	}
}
