package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/settings"
)

func TestInitWritesALoginProfile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "config.yaml")
	run := func(stdin string, terminal bool, args ...string) (string, error) {
		t.Helper()
		ios, in, _, errOut := Test()
		in.WriteString(stdin)
		ios.InTerminal, ios.ErrTerminal = terminal, terminal
		f := NewFactory(ios)
		f.SettingsPath = path
		cmd := NewCmdInit(f, nil)
		cmd.SetArgs(args)
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.Execute()
		return errOut.String(), err
	}
	// Interactive: the answers, a wrong URL asked again, defaults taken.
	stderr, err := run("\n\nnot-a-url\nhttps://idp.example.com/sso/aws\nalice\neu-west-1\n", true)
	if err != nil {
		t.Fatalf("init: %v (%s)", err, stderr)
	}
	if !strings.Contains(stderr, "want the https:// sign-on URL") || !strings.Contains(stderr, "rolehop populate --login corp") {
		t.Errorf("stderr %q", stderr)
	}
	lp, err := settings.Resolve(path, func(string) string { return "" }, settings.Overrides{Login: "corp"})
	if err != nil || lp.IdP != "browser" || lp.URL != "https://idp.example.com/sso/aws" || lp.Username != "alice" || lp.Region != "eu-west-1" {
		t.Errorf("written profile: %+v %v", lp, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("settings file mode: %v %v", fi, err)
	}
	// Flags, no terminal: a second login joins the first; comments stay.
	b, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append([]byte("# my settings\n"), b...), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := run("", false, "--login", "ol", "--idp", "form", "--idp-url", "https://sso.example.org/simplesaml/x"); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	f, err := settings.Load(path)
	if err != nil || strings.Join(f.Names(), ",") != "corp,ol" || !strings.Contains(string(b), "# my settings") {
		t.Errorf("after the second init: %v %v\n%s", f.Names(), err, b)
	}
	// An existing name needs --force; no terminal and no URL is one line.
	if _, err := run("", false, "--login", "ol", "--idp-url", "https://x.example/y"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--force") {
		t.Errorf("existing login: %v", err)
	}
	if _, err := run("", false, "--login", "new"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "pass --idp-url") {
		t.Errorf("no terminal, no url: %v", err)
	}
	if _, err := run("", false, "--login", "k", "--idp", "kerberos", "--idp-url", "https://x.example/y"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("bad kind: %v", err)
	}
	// The settings error of a command without settings names the file and init.
	_, err = settings.Resolve(filepath.Join(dir, "none.yaml"), func(string) string { return "" }, settings.Overrides{})
	if err == nil || !strings.Contains(err.Error(), "none.yaml with rolehop init") {
		t.Errorf("no settings file: %v", err)
	}
}
