package brokercli

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/cli"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// brokerFiles writes an IdP metadata file and returns the YAML lines that
// name it.
func brokerIdP(t *testing.T, dir string) string {
	t.Helper()
	blk, _ := pem.Decode(testpeer.OtherCertPEM(t))
	md := `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example.org/metadata">
<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + base64.StdEncoding.EncodeToString(blk.Bytes) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.org/sso"/>
</md:IDPSSODescriptor></md:EntityDescriptor>`
	p := filepath.Join(dir, "idp.xml")
	if err := os.WriteFile(p, []byte(md), 0o600); err != nil {
		t.Fatal(err)
	}
	return "idp:\n  metadata_file: " + p + "\n"
}

func writeBrokerFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// brokerEnv gives the broker long-term keys through the environment, as
// the AWS SDK finds them, and nothing else from the user's AWS setup.
func brokerEnv(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIABROKEREXAMPLE", "AWS_SECRET_ACCESS_KEY": "broker-secret-do-not-print",
		"AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
}

func TestNewCmdBrokerFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"broker"}, cli.ExitUsage, "--config is required"},
		{[]string{"broker", "--config", "b.yaml", "--log-format", "xml"}, cli.ExitUsage, "--log-format"},
		{[]string{"broker", "--config", "b.yaml", "extra"}, cli.ExitUsage, "takes no arguments"},
		{[]string{"broker", "-c", "b.yaml", "--check", "--drain", "1s"}, 0, ""},
	} {
		ios, _, _, _ := cli.Test()
		var got *BrokerOptions
		cmd := NewCmd(cli.NewFactory(ios), func(o *BrokerOptions) error { got = o; return nil })
		cmd.SetArgs(c.args[1:])
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		err := cmd.Execute()
		if cli.ExitCode(err) != c.code || (c.want != "" && !strings.Contains(cli.OneLine(err), c.want)) {
			t.Errorf("%v: exit %d %v, want %d %q", c.args, cli.ExitCode(err), err, c.code, c.want)
		}
		if c.code == 0 && (got == nil || got.ConfigPath != "b.yaml" || !got.Check || got.Drain != time.Second || got.LogFormat != "json") {
			t.Errorf("%v: options %+v", c.args, got)
		}
	}
}

// TestBrokerConfigErrorsNameTheirLines: every problem, one line each, with
// the file and line; exit code 2; no secret echoed.
func TestBrokerConfigErrorsNameTheirLines(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "broker.yaml")
	writeBrokerFile(t, cfg, "external_url: http://broker.example.org\n"+
		"store: redis://:hunter2-do-not-print@127.0.0.1:6379\n"+
		brokerIdP(t, dir)+
		"targets:\n"+
		"  admin:\n"+
		"    role: arn:aws:iam::111111111111:user/Admin\n"+
		"    groups: [admins]\n"+
		"    duraton: 1h\n")
	_, stderr, err := execute(t, "--config", cfg)
	if cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("exit %d (%v), want 2", cli.ExitCode(err), err)
	}
	for _, want := range []string{
		cfg + ":1:15: external_url: must be https",
		cfg + ":2:8: session_key_file: required with a shared store",
		cfg + ":9:5: targets.admin.duraton: unknown key",
		cfg + ":7:11: targets.admin.role:",
	} {
		if !strings.Contains(stderr, "rolehop: "+want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "hunter2") {
		t.Errorf("stderr shows the Redis password:\n%s", stderr)
	}
}

// TestBrokerCheckExplainsAnImpossibleDuration: with temporary credentials
// (an instance role, SSO, an assumed role) an 8h target is refused at
// start, on its line, with why and how to fix it; --check prints the plan
// of a valid configuration.
func TestBrokerCheckExplainsAnImpossibleDuration(t *testing.T) {
	brokerEnv(t)
	t.Setenv("AWS_SESSION_TOKEN", "FwoGZXIvYXdzEtemporary-token-do-not-print")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "broker.yaml")
	body := "external_url: https://broker.example.org\n" + brokerIdP(t, dir) +
		"targets:\n  admin:\n    role: arn:aws:iam::111111111111:role/Admin\n    groups: [admins]\n    duration: 8h\n"
	writeBrokerFile(t, cfg, body)
	_, stderr, err := execute(t, "--config", cfg, "--check")
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(stderr, cfg+":8:15: targets.admin.duration: 8h0m0s cannot be granted") ||
		!strings.Contains(stderr, "role chaining") || !strings.Contains(stderr, "set duration: 1h or less") {
		t.Fatalf("exit %d, stderr:\n%s", cli.ExitCode(err), stderr)
	}
	if strings.Contains(stderr, "do-not-print") {
		t.Errorf("stderr shows a secret:\n%s", stderr)
	}
	writeBrokerFile(t, cfg, strings.Replace(body, "duration: 8h", "duration: 45m", 1))
	stdout, stderr, err := execute(t, "--config", cfg, "--check")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, want := range []string{"is valid", "temporary credentials", "role sessions up to 1h0m0s",
		"target /admin: arn:aws:iam::111111111111:role/Admin, role session 45m0s (chained), console SessionDuration not sent; groups: admins"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--check output lacks %q:\n%s", want, stdout)
		}
	}
	stdout, _, err = execute(t, "--config", cfg, "--print-metadata")
	if err != nil || !strings.Contains(stdout, `entityID="https://broker.example.org/saml/metadata"`) ||
		!strings.Contains(stdout, `Location="https://broker.example.org/saml/acs"`) {
		t.Fatalf("--print-metadata: %v\n%s", err, stdout)
	}
}

// TestBrokerServesReloadsAndDrains runs the command in-process: it serves,
// a reload with a valid file takes effect, one with an invalid file is
// refused and the running configuration kept, and cancelling drains
// (/readyz 503) before stopping.
func TestBrokerServesReloadsAndDrains(t *testing.T) {
	brokerEnv(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "broker.yaml")
	conf := func(title, duration string) string {
		return "listen: 127.0.0.1:0\nexternal_url: http://127.0.0.1:8080\ntitle: " + title + "\nurl_prefix: /aws/\n" + brokerIdP(t, dir) +
			"targets:\n  admin:\n    role: arn:aws:iam::111111111111:role/Admin\n    groups: [admins]\n    duration: " + duration + "\n"
	}
	writeBrokerFile(t, cfg, conf("Before", "1h"))
	ios, _, _, _ := cli.Test()
	errOut := &brokerLog{}
	ios.ErrOut = errOut
	f := cli.NewFactory(ios)
	reload := make(chan os.Signal, 1)
	addrs := make(chan string, 1)
	opts := &BrokerOptions{F: f, ConfigPath: cfg, LogFormat: "json", Drain: 300 * time.Millisecond, reload: reload,
		listening: func(a, _ string) { addrs <- a }}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runBroker(ctx, opts) }()
	var base string
	select {
	case a := <-addrs:
		base = "http://" + a
	case err := <-done:
		t.Fatalf("broker stopped: %v\n%s", err, errOut)
	case <-time.After(20 * time.Second):
		t.Fatal("broker did not start")
	}
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if c, _ := get("/readyz"); c != 200 {
		t.Fatalf("/readyz %d", c)
	}
	if c, body := get("/healthz"); c != 200 || body != "ok\n" {
		t.Fatalf("/healthz %d %q", c, body)
	}
	if _, body := get("/elsewhere"); !strings.Contains(body, "Before") {
		t.Fatalf("404 page lacks the title:\n%s", body)
	}
	writeBrokerFile(t, cfg, conf("After", "2h"))
	reload <- syscall.SIGHUP
	waitBroker(t, func() bool { _, b := get("/elsewhere"); return strings.Contains(b, "After") }, "the reloaded title")
	writeBrokerFile(t, cfg, conf("Broken", "13h"))
	reload <- syscall.SIGHUP
	waitBroker(t, func() bool {
		_, b := get("/metrics")
		return strings.Contains(b, `rolehop_broker_config_reloads_total{outcome="error"} 1`)
	}, "a refused reload")
	if _, body := get("/elsewhere"); !strings.Contains(body, "After") {
		t.Errorf("a refused reload changed the configuration")
	}
	if !strings.Contains(errOut.String(), "reload refused") || !strings.Contains(errOut.String(), cfg+":11:15: targets.admin.duration") {
		t.Errorf("the refused reload is not logged with its line:\n%s", errOut)
	}
	cancel()
	sawDraining := false
	for {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			break
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusServiceUnavailable {
			sawDraining = true
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("runBroker: %v", err)
	}
	if !sawDraining {
		t.Error("/readyz never answered 503 while draining")
	}
}

// brokerLog is a buffer the broker's goroutines write while the test
// reads it.
type brokerLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *brokerLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *brokerLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func waitBroker(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestBrokerProcessSignals: the real binary reloads on SIGHUP (refusing a
// bad file, keeping its configuration) and exits 0 on SIGTERM.
func TestBrokerProcessSignals(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "broker.yaml")
	good := "listen: 127.0.0.1:0\nexternal_url: http://127.0.0.1:8080\n" + brokerIdP(t, dir) +
		"targets:\n  admin:\n    role: arn:aws:iam::111111111111:role/Admin\n    groups: [admins]\n"
	writeBrokerFile(t, cfg, good)
	cmd := exec.Command(brokerBinary(t), "--config", cfg, "--drain", "0")
	cmd.Env = testpeer.ProcEnv(t, "AWS_ACCESS_KEY_ID=AKIABROKEREXAMPLE", "AWS_SECRET_ACCESS_KEY=broker-secret-do-not-print", "AWS_REGION=us-east-1")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	await := func(sub string) string {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stderr closed before %q", sub)
				}
				if strings.Contains(l, sub) {
					return l
				}
			case <-timeout:
				t.Fatalf("no %q on stderr", sub)
			}
		}
	}
	serving := await(`"msg":"broker: serving"`)
	addr := regexp.MustCompile(`"listen":"([^"]+)"`).FindStringSubmatch(serving)
	if addr == nil {
		t.Fatalf("no address in %s", serving)
	}
	writeBrokerFile(t, cfg, "external_url: [")
	_ = cmd.Process.Signal(syscall.SIGHUP)
	await("reload refused")
	resp, err := http.Get("http://" + addr[1] + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after a refused reload: %v %v", err, resp)
	}
	resp.Body.Close()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	await("broker: stopped")
	err = cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	if code := cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d after SIGTERM, want 0", code)
	}
}

// selfSigned writes a fresh self-signed certificate for 127.0.0.1 and its
// key (0600) and returns the certificate's serial number.
func selfSigned(t *testing.T, certFile, keyFile string) *big.Int {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "broker"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalPKCS8PrivateKey(key)
	writeBrokerFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeBrokerFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})))
	return serial
}

// TestBrokerTLSReloadsItsCertificate: the broker serves TLS 1.2+ itself and
// a SIGHUP picks up a renewed certificate; a key file others can read is
// refused at start.
func TestBrokerTLSReloadsItsCertificate(t *testing.T) {
	brokerEnv(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	first := selfSigned(t, certFile, keyFile)
	cfg := filepath.Join(dir, "broker.yaml")
	writeBrokerFile(t, cfg, "listen: 127.0.0.1:0\nexternal_url: https://127.0.0.1:8443\ntls_cert_file: "+certFile+"\ntls_key_file: "+keyFile+"\n"+
		brokerIdP(t, dir)+"targets:\n  admin:\n    role: arn:aws:iam::111111111111:role/Admin\n    groups: [admins]\n")
	ios, _, _, _ := cli.Test()
	ios.ErrOut = &brokerLog{}
	reload := make(chan os.Signal, 1)
	addrs := make(chan string, 1)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- runBroker(ctx, &BrokerOptions{F: cli.NewFactory(ios), ConfigPath: cfg, LogFormat: "json", reload: reload,
			listening: func(a, _ string) { addrs <- a }})
	}()
	var addr string
	select {
	case addr = <-addrs:
	case err := <-done:
		t.Fatalf("broker stopped: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("broker did not start")
	}
	served := func(maxVersion uint16) (*big.Int, error) {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: maxVersion})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber, nil
	}
	if got, err := served(0); err != nil || got.Cmp(first) != 0 {
		t.Fatalf("served certificate %v, %v; want serial %v", got, err, first)
	}
	if _, err := served(tls.VersionTLS11); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	second := selfSigned(t, certFile, keyFile)
	reload <- syscall.SIGHUP
	waitBroker(t, func() bool { got, err := served(0); return err == nil && got.Cmp(second) == 0 }, "the renewed certificate")
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := execute(t, "--config", cfg)
	if cli.ExitCode(err) != cli.ExitUsage || !strings.Contains(cli.OneLine(err), "readable by others") {
		t.Errorf("a world-readable key: exit %d %v", cli.ExitCode(err), err)
	}
}
