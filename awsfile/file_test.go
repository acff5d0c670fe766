package awsfile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gofrs/flock"
)

func writeFile(t testing.TB, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func modeOf(t testing.TB, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

var sessionCreds = map[string]string{
	KeyAccessKeyID:     "ASIAEXAMPLEWXYZ",
	KeySecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
	KeySessionToken:    "IQoJb3JpZ2luX2VjEXAMPLETOKEN==",
	KeyExpiration:      "2026-11-22T16:00:00Z",
}

func TestPathsHonourEnvironment(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "")
	t.Setenv("AWS_CONFIG_FILE", "")
	if p, _ := CredentialsPath(); p != filepath.Join(home, ".aws", "credentials") {
		t.Fatalf("CredentialsPath = %s", p)
	}
	if p, _ := ConfigPath(); p != filepath.Join(home, ".aws", "config") {
		t.Fatalf("ConfigPath = %s", p)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "~/elsewhere/creds")
	t.Setenv("AWS_CONFIG_FILE", "/etc/aws-config")
	if p, _ := CredentialsPath(); p != filepath.Join(home, "elsewhere", "creds") {
		t.Fatalf("CredentialsPath = %s", p)
	}
	if p, _ := ConfigPath(); p != "/etc/aws-config" {
		t.Fatalf("ConfigPath = %s", p)
	}
	// A zero File writes where the environment points.
	f := File{Kind: Credentials}
	if err := f.Apply(context.Background(), Update{Profile: "p", Set: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(home, "elsewhere", "creds")); got != "[p]\nk = v\n" {
		t.Fatalf("got %q", got)
	}
}

func TestNewFileAndFolderModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "home", ".aws")
	path := filepath.Join(dir, "credentials")
	if err := UpdateCredentials(context.Background(), path, "dev", sessionCreds); err != nil {
		t.Fatal(err)
	}
	if m := modeOf(t, dir); m != 0o700 {
		t.Errorf("folder mode %v, want 0700", m)
	}
	if m := modeOf(t, filepath.Dir(dir)); m != 0o700 {
		t.Errorf("parent folder mode %v, want 0700", m)
	}
	if m := modeOf(t, path); m != 0o600 {
		t.Errorf("file mode %v, want 0600", m)
	}
	if m := modeOf(t, path+".lock"); m != 0o600 {
		t.Errorf("lock file mode %v, want 0600", m)
	}
	got, err := ReadProfile(path, Credentials, "dev")
	if err != nil || !maps.Equal(got, sessionCreds) {
		t.Fatalf("ReadProfile = %v, %v", got, err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestExistingModeIsTightenedNeverLoosened(t *testing.T) {
	for _, c := range []struct{ before, after fs.FileMode }{
		{0o644, 0o600},
		{0o666, 0o600},
		{0o600, 0o600},
		{0o400, 0o400},
	} {
		path := filepath.Join(t.TempDir(), "credentials")
		writeFile(t, path, "[a]\nx = 1\n", c.before)
		if err := UpdateCredentials(context.Background(), path, "a", map[string]string{"x": "2"}); err != nil {
			t.Fatal(err)
		}
		if m := modeOf(t, path); m != c.after {
			t.Errorf("mode %v became %v, want %v", c.before, m, c.after)
		}
		if got := readFile(t, path); got != "[a]\nx = 2\n" {
			t.Errorf("got %q", got)
		}
	}
	// An unchanged file with a loose mode is still tightened.
	path := filepath.Join(t.TempDir(), "credentials")
	writeFile(t, path, "[a]\nx = 1\n", 0o644)
	if err := UpdateCredentials(context.Background(), path, "a", map[string]string{"x": "1"}); err != nil {
		t.Fatal(err)
	}
	if m := modeOf(t, path); m != 0o600 {
		t.Errorf("mode %v, want 0600", m)
	}
}

func TestSymlinkTargetIsWritten(t *testing.T) {
	dir := t.TempDir()
	realDir := filepath.Join(dir, "dotfiles", "aws")
	target := filepath.Join(realDir, "credentials")
	writeFile(t, target, fixture, 0o600)
	link := filepath.Join(dir, ".aws", "credentials")
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		t.Fatal(err)
	}
	// A relative link, through a second link, as dotfile managers make them.
	if err := os.Symlink("../dotfiles/aws/credentials", link+".real"); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("credentials.real", link); err != nil {
		t.Fatal(err)
	}
	if err := UpdateCredentials(context.Background(), link, "work", map[string]string{"aws_access_key_id": "ASIANEW"}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link is no longer a link: %v %v", fi.Mode(), err)
	}
	if got := values(t, readFile(t, target), Credentials, "work")["aws_access_key_id"]; got != "ASIANEW" {
		t.Fatalf("target not updated: %q", got)
	}
	if _, err := os.Stat(target + ".lock"); err != nil {
		t.Fatalf("the lock file is not next to the target: %v", err)
	}
	// A dangling link is written through: its target is created.
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "created-later"), dangling); err != nil {
		t.Fatal(err)
	}
	if err := UpdateCredentials(context.Background(), dangling, "p", map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "created-later")); got != "[p]\nk = v\n" {
		t.Fatalf("got %q", got)
	}
	// A link loop is an error naming the path.
	loop := filepath.Join(dir, "loop")
	if err := os.Symlink(loop, loop); err != nil {
		t.Fatal(err)
	}
	if err := UpdateCredentials(context.Background(), loop, "p", map[string]string{"k": "v"}); err == nil || !strings.Contains(err.Error(), loop) {
		t.Fatalf("err = %v", err)
	}
}

func TestMalformedFileIsNeverRewritten(t *testing.T) {
	for _, c := range malformedCases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "credentials")
			writeFile(t, path, c.data, 0o644)
			before, _ := os.Stat(path)
			err := UpdateCredentials(context.Background(), path, "p", sessionCreds)
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if pe.Path != path || pe.Line != c.line {
				t.Fatalf("error names %s line %d, want %s line %d", pe.Path, pe.Line, path, c.line)
			}
			if !strings.Contains(err.Error(), path+" line ") {
				t.Fatalf("message does not name the file: %v", err)
			}
			for _, v := range sessionCreds {
				if strings.Contains(err.Error(), v) {
					t.Fatalf("message holds a value: %v", err)
				}
			}
			if got := readFile(t, path); got != c.data {
				t.Fatalf("file changed")
			}
			after, _ := os.Stat(path)
			if after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
				t.Fatalf("file touched: mode %v -> %v", before.Mode(), after.Mode())
			}
			if _, err := ReadProfile(path, Credentials, "p"); !errors.Is(err, ErrMalformed) {
				t.Fatalf("ReadProfile err = %v", err)
			}
			if _, err := Profiles(path, Credentials); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Profiles err = %v", err)
			}
		})
	}
}

func TestLockTimeoutAndContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	writeFile(t, path, fixture, 0o600)
	held := flock.New(path + ".lock")
	if err := held.Lock(); err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	f := File{Path: path, Kind: Credentials, LockTimeout: 50 * time.Millisecond}
	err := f.Apply(context.Background(), Update{Profile: "p", Set: sessionCreds})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want ErrLocked naming %s", err, path)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f.LockTimeout = time.Hour
	if err := f.Apply(ctx, Update{Profile: "p", Set: sessionCreds}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := readFile(t, path); got != fixture {
		t.Fatalf("file changed while locked")
	}
	held.Unlock()
	if err := f.Apply(context.Background(), Update{Profile: "p", Set: sessionCreds}); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
}

func TestProfilesAndReadProfile(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	writeFile(t, cfg, "[default]\nregion = us-east-1\n[profile dev]\nregion = eu-west-1\n[sso-session corp]\nsso_region = us-east-1\n[profile  ops ]\noutput = json\n", 0o600)
	got, err := Profiles(cfg, Config)
	if err != nil || !slices.Equal(got, []string{"default", "dev", "ops"}) {
		t.Fatalf("Profiles = %v, %v", got, err)
	}
	if v, err := ReadProfile(cfg, Config, "dev"); err != nil || v["region"] != "eu-west-1" {
		t.Fatalf("ReadProfile = %v, %v", v, err)
	}
	if _, err := ReadProfile(cfg, Config, "corp"); !errors.Is(err, ErrProfileNotFound) {
		t.Fatalf("an sso-session is not a profile: %v", err)
	}
	missing := filepath.Join(dir, "nope")
	if got, err := Profiles(missing, Credentials); err != nil || len(got) != 0 {
		t.Fatalf("Profiles of a missing file = %v, %v", got, err)
	}
	if _, err := ReadProfile(missing, Credentials, "p"); !errors.Is(err, ErrProfileNotFound) {
		t.Fatalf("err = %v", err)
	}
	// [DEFAULT] values apply to every profile for botocore, so they do here.
	creds := filepath.Join(dir, "credentials")
	writeFile(t, creds, "[DEFAULT]\nregion = eu-west-3\n[p]\naws_access_key_id = A\n", 0o600)
	if v, _ := ReadProfile(creds, Credentials, "p"); v["region"] != "eu-west-3" || v["aws_access_key_id"] != "A" {
		t.Fatalf("p = %v", v)
	}
	if got, _ := Profiles(creds, Credentials); !slices.Equal(got, []string{"p"}) {
		t.Fatalf("Profiles = %v", got)
	}
}

func TestApplyManyProfilesOneWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	writeFile(t, path, fixture, 0o600)
	var logs bytes.Buffer
	f := File{Path: path, Kind: Credentials, Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	var updates []Update
	for _, p := range []string{"acct1-Admin", "acct2-Admin", "work"} {
		updates = append(updates, Update{Profile: p, Set: sessionCreds})
	}
	updates = append(updates, Update{Profile: "personal", Delete: true})
	if err := f.Apply(context.Background(), updates...); err != nil {
		t.Fatal(err)
	}
	got, _ := f.Profiles()
	if !slices.Equal(got, []string{"default", "work", "acct1-Admin", "acct2-Admin"}) {
		t.Fatalf("profiles = %v", got)
	}
	if !strings.HasPrefix(readFile(t, path), fixture[:strings.Index(fixture, "[work]")]) {
		t.Fatalf("the content before [work] changed")
	}
	if !strings.Contains(logs.String(), "acct1-Admin") {
		t.Fatalf("no debug log of the write: %s", logs.String())
	}
	for _, v := range sessionCreds {
		if strings.Contains(logs.String(), v) {
			t.Fatalf("log holds a value: %s", logs.String())
		}
	}
}

func TestCredentialValues(t *testing.T) {
	exp := time.Date(2026, 11, 22, 17, 0, 0, 0, time.FixedZone("CET", 3600))
	got := CredentialValues(aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S", SessionToken: "T", CanExpire: true, Expires: exp})
	want := map[string]string{KeyAccessKeyID: "A", KeySecretAccessKey: "S", KeySessionToken: "T", KeyExpiration: "2026-11-22T16:00:00Z"}
	if !maps.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	if got := CredentialValues(aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S"}); len(got) != 2 {
		t.Fatalf("static credentials gave %v", got)
	}
}

func TestConcurrentGoroutinesKeepEveryProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	writeFile(t, path, fixture+"\n", 0o600)
	errs := make(chan error, 10)
	for i := range 10 {
		go func() {
			errs <- UpdateCredentials(context.Background(), path, fmt.Sprintf("g%d", i), helperValues("g", i))
		}()
	}
	for range 10 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := Profiles(path, Credentials)
	if err != nil || len(got) != 13 {
		t.Fatalf("profiles = %v, %v", got, err)
	}
	if !strings.HasPrefix(readFile(t, path), fixture+"\n") {
		t.Fatal("the original content changed")
	}
}

func TestCredentialsUpdateDropsStaleTokenAndExpiry(t *testing.T) {
	path := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(path, []byte("[p]\naws_access_key_id = ASIAOLD\naws_secret_access_key = old\naws_session_token = tok\nx_security_token_expires = 2020-01-01T00:00:00Z\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Apply(context.Background(), path, Credentials, CredentialsUpdate("p", aws.Credentials{AccessKeyID: "AKIANEW", SecretAccessKey: "new"})); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "[p]\naws_access_key_id = AKIANEW\naws_secret_access_key = new\n" {
		t.Errorf("long-term keys over temporary ones left:\n%s", got)
	}
	exp := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	u := CredentialsUpdate("p", aws.Credentials{AccessKeyID: "ASIA2", SecretAccessKey: "s2", SessionToken: "t2", CanExpire: true, Expires: exp})
	if len(u.Unset) != 0 || u.Set[KeyExpiration] != "2031-01-01T00:00:00Z" || u.Set[KeySessionToken] != "t2" {
		t.Errorf("temporary credentials update: %+v", u)
	}
}
