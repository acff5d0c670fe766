package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/stsfake"
)

// aloneFast is a copy of rolehop-credential-process in a folder of its own,
// with a PATH that holds no rolehop: it can only serve from the cache, and
// says so in one line when it would hand over.
func aloneFast(t *testing.T, env []string) (string, []string) {
	t.Helper()
	dir := t.TempDir()
	b, err := os.ReadFile(fastBinary(t))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "rolehop-credential-process")
	if err := os.WriteFile(bin, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, append(append([]string(nil), env...), "PATH=/usr/bin:/bin")
}

// TestFastCredentialProcess: the fast program serves a fresh cache entry by
// itself, byte for byte what rolehop prints, and hands everything else to
// rolehop with the same arguments.
func TestFastCredentialProcess(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, cache := stsEnv(t, srv, fakeConfig+`
[profile static]
aws_access_key_id = AKIASTATIC
aws_secret_access_key = static-secret
`)
	fast := fastBinary(t)
	alone, aloneEnv := aloneFast(t, env)

	// Cold: nothing cached; without rolehop beside it the fast program
	// cannot serve and says what to install.
	out, stderr, code := runBinary(t, alone, aloneEnv, "--profile", "prod")
	if code != 1 || out != "" || !strings.Contains(stderr, "cannot find rolehop") || strings.Count(stderr, "\n") != 1 {
		t.Errorf("alone, cold: exit %d, %q %q", code, out, stderr)
	}
	// With rolehop beside it: handed over, one AssumeRole.
	cold, stderr, code := runBinary(t, fast, env, "--profile", "prod")
	if code != 0 || stderr != "" || srv.Calls("AssumeRole") != 1 {
		t.Fatalf("cold: exit %d, stderr %q, %d AssumeRole", code, stderr, srv.Calls("AssumeRole"))
	}

	// Warm: served from the cache without rolehop, the same bytes as
	// rolehop credential-process, for every spelling of the flags.
	full, _, code := runRolehop(t, env, "credential-process", "--profile", "prod")
	if code != 0 || full != cold {
		t.Fatalf("rolehop warm: exit %d, %q; the cold call printed %q", code, full, cold)
	}
	for _, args := range [][]string{
		{"--profile", "prod"}, {"--profile=prod"}, {"--region", "eu-central-1", "--profile", "prod"}, {"--profile", "prod", "--region=x"},
	} {
		out, stderr, code := runBinary(t, alone, aloneEnv, args...)
		if code != 0 || stderr != "" || out != full {
			t.Errorf("alone, warm %v: exit %d, %q %q; want %q", args, code, out, stderr, full)
		}
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(full), &doc); err != nil || doc["Version"] != float64(1) || doc["Expiration"] == "" {
		t.Errorf("document %q", full)
	}

	// Anything else goes to rolehop: another duration is another entry, a
	// profile that is not a source is the SDK's, flags it does not know
	// (--debug), a cache entry others could read, a cycle in the chain.
	for _, tc := range []struct {
		name string
		args []string
		env  []string
		prep func(t *testing.T)
	}{
		{name: "other duration", args: []string{"--profile", "prod", "--duration", "2h"}},
		{name: "not a source", args: []string{"--profile", "static"}},
		{name: "unknown flag", args: []string{"--debug", "--profile", "prod"}},
		{name: "profile twice", args: []string{"--profile", "prod", "--profile", "prod"}},
		{name: "in the source chain", args: []string{"--profile", "prod"}, env: []string{"ROLEHOP_SOURCE_CHAIN=prod"}},
		{name: "config is a FIFO", args: []string{"--profile", "prod"}, env: []string{"AWS_CONFIG_FILE=" + fifo(t)}},
		{name: "cache folder open to others", args: []string{"--profile", "prod"}, prep: func(t *testing.T) {
			dir := filepath.Join(cache, "rolehop", "creds")
			if err := os.Chmod(dir, 0o770); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
		}},
		{name: "entry is a symlink", args: []string{"--profile", "prod"}, prep: func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(cache, "rolehop", "creds", "*.json"))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				other := filepath.Join(t.TempDir(), "entry.json")
				if err := os.WriteFile(other, b, 0o600); err != nil {
					t.Fatal(err)
				}
				os.Remove(f)
				if err := os.Symlink(other, f); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.Remove(f); os.WriteFile(f, b, 0o600) })
			}
		}},
		{name: "entry readable by others", args: []string{"--profile", "prod"}, prep: func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(cache, "rolehop", "creds", "*.json"))
			for _, f := range files {
				if err := os.Chmod(f, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.prep != nil {
				tc.prep(t)
			}
			e := append(append([]string(nil), aloneEnv...), tc.env...)
			out, stderr, code := runBinary(t, alone, e, tc.args...)
			if code != 1 || out != "" || !strings.Contains(stderr, "cannot find rolehop") {
				t.Errorf("alone %v: exit %d, %q %q; want it handed over", tc.args, code, out, stderr)
			}
		})
	}
	// Handed over for real, the last case's entry is replaced (with
	// rolehop's warning) and the fast program serves again.
	e2 := append(append([]string(nil), env...), "ROLEHOP_SOURCE_CHAIN=")
	if out, stderr, code := runBinary(t, fast, e2, "--profile", "prod"); code != 0 || !strings.Contains(stderr, "ignoring cache file") || out == "" {
		t.Errorf("after chmod 644: exit %d, %q %q", code, out, stderr)
	}
	if out, stderr, code := runBinary(t, alone, aloneEnv, "--profile", "prod"); code != 0 || out == "" {
		t.Errorf("alone, after the refresh: exit %d, %q %q", code, out, stderr)
	}
	if out, stderr, code := runBinary(t, fast, env, "--profile", "static"); code != 0 || !strings.Contains(out, "AKIASTATIC") || strings.Contains(out, "Expiration") {
		t.Errorf("static profile through the fast program: exit %d, %q %q", code, out, stderr)
	}
}

// fifo is a named pipe nobody writes to: opening it for reading would block.
func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFastResolutionRecord: once the config file is more than a second old,
// the fast program remembers which entry the profile resolved to, and
// serves from it while the file is unchanged; a changed file is read again
// and never served from the old record.
func TestFastResolutionRecord(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, cache := stsEnv(t, srv, fakeConfig)
	var cfgPath string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			cfgPath = v
		}
	}
	alone, aloneEnv := aloneFast(t, env)
	time.Sleep(1100 * time.Millisecond) // the config file must be older than a second
	if _, stderr, code := runBinary(t, fastBinary(t), env, "--profile", "prod"); code != 0 {
		t.Fatalf("cold: %d %s", code, stderr)
	}
	warm, _, code := runBinary(t, alone, aloneEnv, "--profile", "prod")
	records, _ := filepath.Glob(filepath.Join(cache, "rolehop", "creds", "resolved-*.json"))
	if code != 0 || len(records) != 1 {
		t.Fatalf("warm: exit %d, records %v", code, records)
	}
	if fi, err := os.Lstat(records[0]); err != nil || fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
		t.Errorf("record %v %v", fi, err)
	}
	// Served from the record while the config is unchanged.
	if out, _, code := runBinary(t, alone, aloneEnv, "--profile", "prod"); code != 0 || out != warm {
		t.Errorf("from the record: exit %d %q", code, out)
	}
	// prod now names another role: the record is for the old file.
	b, _ := os.ReadFile(cfgPath)
	changed := strings.Replace(string(b), "rolehop_role_arn = arn:aws:iam::111111111111:role/Admin\nregion = eu-west-1",
		"rolehop_role_arn = arn:aws:iam::111111111111:role/Other\nregion = eu-west-1", 1)
	if err := os.WriteFile(cfgPath, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, stderr, code := runBinary(t, alone, aloneEnv, "--profile", "prod"); code != 1 || out != "" || !strings.Contains(stderr, "cannot find rolehop") {
		t.Errorf("after changing the role: exit %d, %q %q; want it handed over (a new role, no entry yet)", code, out, stderr)
	}
	out, _, code := runBinary(t, fastBinary(t), env, "--profile", "prod")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil {
		t.Fatalf("after changing the role: %d %q", code, out)
	}
	if is, ok := srv.Issued(fmt.Sprint(doc["AccessKeyId"])); !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Other" {
		t.Errorf("after changing the role, credentials of %+v", is)
	}
	// A record others could write is not used.
	for _, r := range records {
		if err := os.Chmod(r, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got, _, code := runBinary(t, alone, aloneEnv, "--profile", "prod"); code != 0 || got != out {
		t.Errorf("with a 0644 record: exit %d, %q; want %q, from a full read", code, got, out)
	}
}
