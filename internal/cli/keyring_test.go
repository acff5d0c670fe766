package cli

import (
	"context"
	"errors"
	"path/filepath"
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

// TestLoginWithKeyring: rolehop login --keyring against the real IdP saves a
// piped password once it worked, logs in from the keyring next time with
// nothing on stdin, and removes a password the IdP rejects (so the next run
// asks instead of failing again). The OS keyring is go-keyring's in-memory
// mock (no Secret Service runs here).
func TestLoginWithKeyring(t *testing.T) {
	gokeyring.MockInit()
	p := newLoginPeers(t, []string{acctProd}, false)
	awsEnv(t, p.sts, "", "")
	dir := t.TempDir()
	settingsFile := filepath.Join(dir, "config.yaml")
	writeFileT(t, settingsFile, "logins:\n  corp:\n    url: "+p.idp.AWSLoginURL+"\n    username: alice\n    keyring: true\n")
	login := func(stdin string) error {
		ios, in, _, _ := Test()
		in.WriteString(stdin)
		f := &Factory{IO: ios, SettingsPath: settingsFile}
		return runLogin(t.Context(), &LoginOptions{F: f, CredentialsFile: filepath.Join(dir, "credentials"), ConfigFile: filepath.Join(dir, "config"),
			idpOptions: idpOptions{Login: "corp", PasswordStdin: stdin != ""}, Account: acctProd, Role: "Admin", Profile: "k"})
	}
	const item = "login:corp:alice"
	if err := login("alicepass\n"); err != nil {
		t.Fatalf("first login with --keyring: %v", err)
	}
	if pw, err := gokeyring.Get(keyringService, item); err != nil || pw != "alicepass" {
		t.Fatalf("the keyring holds %q, %v after a successful login", pw, err)
	}
	if err := login(""); err != nil {
		t.Fatalf("login from the keyring, nothing on stdin: %v", err)
	}
	if err := gokeyring.Set(keyringService, item, "stale-password"); err != nil {
		t.Fatal(err)
	}
	if err := login(""); ExitCode(err) != ExitIdPRejected {
		t.Fatalf("login with a stale keyring password: %v (exit %d), want exit 3", err, ExitCode(err))
	}
	if _, err := gokeyring.Get(keyringService, item); !errors.Is(err, gokeyring.ErrNotFound) {
		t.Errorf("the rejected password is still in the keyring: %v", err)
	}
}
