package ecsserver_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/ecsserver"
)

// A local user without the token against `rolehop serve` (issue 11,
// finding 7), and the Bearer form (issue 17). Each test of a finding failed
// on the code before the fix: see the commit that added it.

var static = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "ASIAX", SecretAccessKey: "sec", SessionToken: "tok", CanExpire: true,
		Expires: time.Now().Add(time.Hour)}, nil
})

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuf) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func hostPort(s *ecsserver.Server) string { return s.Addr().String() }

// rawRequest sends one HTTP/1.1 request on its own connection and returns
// the connection (still open on our side) and the response.
func rawRequest(t *testing.T, addr, host, auth string) (net.Conn, *http.Response, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	req := "GET /creds HTTP/1.1\r\nHost: " + host + "\r\n"
	if auth != "" {
		req += "Authorization: " + auth + "\r\n"
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second)) // a hang guard
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(resp.Body)
	return c, resp, br
}

// closedByServer reports whether the server closed c (EOF) rather than
// leaving it open until the guard deadline.
func closedByServer(br *bufio.Reader) bool {
	_, err := br.ReadByte()
	return errors.Is(err, io.EOF)
}

func TestBearerForm(t *testing.T) {
	s := start(t, static, ecsserver.Options{})
	if code, body := get(t, s.URL(), "Bearer "+s.Token()); code != http.StatusOK || !strings.Contains(string(body), "ASIAX") {
		t.Fatalf("Bearer <token>: %d %s", code, body)
	}
	for _, auth := range []string{"Bearer wrong", "Bearer " + s.Token()[:10], "Bearer  " + s.Token(), "bearer" + s.Token()} {
		if code, _ := get(t, s.URL(), auth); code != http.StatusUnauthorized {
			t.Errorf("%q: status %d, want 401", auth, code)
		}
	}
}

// TestRefusedRequestsCloseTheirConnection: a 401 used to keep its
// keep-alive connection for ever.
func TestRefusedRequestsCloseTheirConnection(t *testing.T) {
	s := start(t, static, ecsserver.Options{})
	c, resp, br := rawRequest(t, hostPort(s), hostPort(s), "wrong")
	defer c.Close()
	if resp.StatusCode != http.StatusUnauthorized || !resp.Close {
		t.Errorf("status %d, Connection: close %v; want 401 closing the connection", resp.StatusCode, resp.Close)
	}
	if !closedByServer(br) {
		t.Error("the server kept the refused connection open")
	}
}

// TestRefusalWarningIsRateLimited: every 401 used to print a warning on
// the user's terminal; its path came from the caller unsanitised.
func TestRefusalWarningIsRateLimited(t *testing.T) {
	logs := &lockedBuf{}
	s := start(t, static, ecsserver.Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	for i := range 100 {
		req, _ := http.NewRequest(http.MethodGet, s.URL()+"%1b]0;pwned%07/"+fmt.Sprint(i), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := strings.Count(logs.String(), "level=WARN"); n != 1 {
		t.Errorf("100 refused requests logged %d warnings, want 1 (then at most one a minute):\n%s", n, logs.String())
	}
	for _, r := range logs.String() {
		if r != '\n' && (unicode.IsControl(r) || unicode.Is(unicode.Cf, r)) {
			t.Fatalf("the warning carries %U: %q", r, logs.String())
		}
	}
	// Once the interval has passed, the next warning counts the others.
	restore := ecsserver.SetTimingForTest(30*time.Second, time.Nanosecond)
	defer restore()
	logs2 := &lockedBuf{}
	s2 := start(t, static, ecsserver.Options{Logger: slog.New(slog.NewTextHandler(logs2, nil))})
	for range 3 {
		get(t, s2.URL(), "wrong")
	}
	if n := strings.Count(logs2.String(), "level=WARN"); n != 3 {
		t.Errorf("with the interval passed each time: %d warnings, want 3", n)
	}
}

// TestHostHeaderIsChecked: defence in depth against DNS rebinding, on top
// of the token.
func TestHostHeaderIsChecked(t *testing.T) {
	s := start(t, static, ecsserver.Options{})
	_, port, _ := net.SplitHostPort(hostPort(s))
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port} {
		c, resp, _ := rawRequest(t, hostPort(s), host, s.Token())
		c.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %s: status %d, want 200", host, resp.StatusCode)
		}
	}
	for _, host := range []string{"evil.example:" + port, "127.0.0.1:1", "127.0.0.1", "rebind.evil.example"} {
		c, resp, _ := rawRequest(t, hostPort(s), host, s.Token())
		c.Close()
		if resp.StatusCode != http.StatusForbidden || !resp.Close {
			t.Errorf("Host %s with the right token: status %d (close %v), want 403 closing the connection", host, resp.StatusCode, resp.Close)
		}
	}
}

// TestIdleConnectionsTimeOut: a keep-alive connection left idle used to be
// kept for ever.
func TestIdleConnectionsTimeOut(t *testing.T) {
	restore := ecsserver.SetTimingForTest(200*time.Millisecond, time.Minute)
	defer restore()
	s := start(t, static, ecsserver.Options{})
	c, resp, br := rawRequest(t, hostPort(s), hostPort(s), s.Token())
	defer c.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d close %v", resp.StatusCode, resp.Close)
	}
	if !closedByServer(br) {
		t.Error("the server kept an idle connection open past its idle timeout")
	}
}

// TestManyIdleConnectionsStayBounded: connections that never send a
// request are bounded by MaxConns, and an authorized client still gets in.
func TestManyIdleConnectionsStayBounded(t *testing.T) {
	const limit = 8
	s := start(t, static, ecsserver.Options{MaxConns: limit})
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range 200 {
		c, err := net.Dial("tcp", hostPort(s))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	client := &http.Client{Timeout: 30 * time.Second} // a hang guard
	for i := range 5 {
		req, _ := http.NewRequest(http.MethodGet, s.URL(), nil)
		req.Header.Set("Authorization", s.Token())
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d behind 200 idle connections: %v", i, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		if n := ecsserver.OpenConns(s); n > limit {
			t.Fatalf("the server holds %d connections, more than its limit %d", n, limit)
		}
	}
}

// TestHelperProcess is a `rolehop serve` whose process may open only 256
// files, started by TestKeepAliveFloodDoesNotStarveTheServer.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("ECSSERVER_HELPER") != "serve" {
		t.Skip("helper process; run by TestKeepAliveFloodDoesNotStarveTheServer")
	}
	lim := syscall.Rlimit{Cur: 256, Max: 256}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	s, err := ecsserver.New(static, ecsserver.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Printf("%s %s\n", s.Addr(), s.Token())
	_ = s.Serve(context.Background())
	os.Exit(0)
}

// TestKeepAliveFloodDoesNotStarveTheServer: a local user without the token
// opens many connections, sends one request on each and keeps them. The
// server used to keep every one (401 with keep-alive, no idle timeout) until
// it ran out of file descriptors, and the tool it served got no answer.
func TestKeepAliveFloodDoesNotStarveTheServer(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ECSSERVER_HELPER=serve")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the server did not start: %v", err)
	}
	addr, token, _ := strings.Cut(strings.TrimSpace(line), " ")

	const flood = 600 // more than the server's 256 files
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	for range flood {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.DialTimeout("tcp", addr, 10*time.Second)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang guard
			_, _ = io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
			}
			// Keep the connection, as the attacker does.
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()

	client := &http.Client{Timeout: 30 * time.Second} // a hang guard
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/", nil)
	req.Header.Set("Authorization", token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("the authorized tool got no credentials after the flood: %v", err)
	}
	defer resp.Body.Close()
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "ASIAX") {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
}
