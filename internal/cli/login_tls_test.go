package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoginIdPTLS: an IdP with a certificate nobody trusts is refused unless
// the login profile opts out with insecure_skip_verify, and then every run
// says so on stderr without --debug.
func TestLoginIdPTLS(t *testing.T) {
	idpSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html><head><title>Maintenance</title></head><body>down</body></html>"))
	}))
	t.Cleanup(idpSrv.Close)
	dir := t.TempDir()
	settings := filepath.Join(dir, "config.yaml")
	write := func(insecure bool) {
		body := "logins:\n  tls:\n    url: " + idpSrv.URL + "/sso\n    username: alice\n"
		if insecure {
			body += "    insecure_skip_verify: true\n"
		}
		if err := os.WriteFile(settings, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("ROLEHOP_CONFIG", settings)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	t.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache"))

	write(false)
	_, errOut, err := execute(t, "login", "--login", "tls", "--account", "111111111111", "--role", "Admin")
	if err == nil || !strings.Contains(OneLine(err), "certificate") {
		t.Fatalf("untrusted IdP certificate: want a certificate error, got %v", err)
	}
	if strings.Contains(errOut, "warning") {
		t.Errorf("a refused certificate printed a warning: %q", errOut)
	}

	write(true)
	_, errOut, err = execute(t, "login", "--login", "tls", "--account", "111111111111", "--role", "Admin")
	if err == nil || strings.Contains(OneLine(err), "certificate") {
		t.Fatalf("with insecure_skip_verify the TLS handshake should pass (the page then has no assertion): %v", err)
	}
	if ExitCode(err) != ExitIdPRejected || !strings.Contains(OneLine(err), "Maintenance") {
		t.Errorf("exit %d, %v: want the IdP's no-assertion error naming the page", ExitCode(err), err)
	}
	if !strings.Contains(errOut, "rolehop: warning: idp: TLS certificate verification is OFF") {
		t.Errorf("stderr %q: want the TLS warning without --debug", errOut)
	}
}
