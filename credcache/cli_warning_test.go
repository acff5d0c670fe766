package credcache_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
)

func TestMain(m *testing.M) { testpeer.RunMain(m) }

// TestCLIWarnsOnceWhenItReplacesACorruptCacheFile proves the README's
// warning: `rolehop credential-process` finding a corrupt cache entry prints
// one "rolehop: warning: ..." line on stderr (no secret, no content of the
// file), still prints the credentials, and replaces the entry, so the next
// run is silent. STS is a real MinIO.
func TestCLIWarnsOnceWhenItReplacesACorruptCacheFile(t *testing.T) {
	m := testpeer.NewMinIO(t)
	bin := testpeer.Program(t, "rolehop")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`[profile base]
aws_access_key_id = %s
aws_secret_access_key = %s
region = us-east-1

[profile prod]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Any
region = us-east-1
`, m.RootUser, m.RootPassword)), 0o600); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(dir, "xdg-cache")
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "AWS_CONFIG_FILE=" + cfg, "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"),
		"AWS_ENDPOINT_URL_STS=" + m.Endpoint, "XDG_CACHE_HOME=" + cache, "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}
	run := func() (map[string]string, string) {
		t.Helper()
		cmd := exec.Command(bin, "credential-process", "--profile", "prod")
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() }) // a hang guard
		out, err := cmd.Output()
		timer.Stop()
		if err != nil {
			t.Fatalf("credential-process: %v\n%s", err, stderr.String())
		}
		var v struct{ AccessKeyId, SecretAccessKey, SessionToken string }
		if err := json.Unmarshal(out, &v); err != nil || v.AccessKeyId == "" {
			t.Fatalf("credential-process printed %d bytes that are not credentials: %v", len(out), err)
		}
		return map[string]string{"AccessKeyId": v.AccessKeyId, "SecretAccessKey": v.SecretAccessKey, "SessionToken": v.SessionToken}, stderr.String()
	}

	first, stderr := run()
	if stderr != "" {
		t.Fatalf("a clean run printed on stderr: %q", stderr)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "rolehop", "creds", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries: %v", entries)
	}
	whole, _ := os.ReadFile(entries[0])
	if err := os.WriteFile(entries[0], whole[:len(whole)/2], 0o600); err != nil { // a torn write, as another tool might leave
		t.Fatal(err)
	}

	second, stderr := run()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "rolehop: warning: credcache: ignoring cache file; it will be replaced") ||
		!strings.Contains(lines[0], entries[0]) {
		t.Fatalf("stderr %q, want one warning line naming the file", stderr)
	}
	t.Logf("warning: %s", lines[0])
	for _, secret := range []string{first["SecretAccessKey"], first["SessionToken"], second["SecretAccessKey"], second["SessionToken"], m.RootPassword} {
		if strings.Contains(stderr, secret) {
			t.Fatalf("the warning holds a secret: %s", stderr)
		}
	}
	if second["AccessKeyId"] == first["AccessKeyId"] {
		t.Error("the corrupt entry's credentials were used")
	}
	// Replaced: the third run reads the new entry, silently.
	third, stderr := run()
	if stderr != "" || third["AccessKeyId"] != second["AccessKeyId"] {
		t.Fatalf("after replacement: %s, stderr %q", third["AccessKeyId"], stderr)
	}
}
