package broker_test

// Load figures for BENCHMARKS.md: wrk (Debian) against the broker and, in
// the same run on the same machine, against a plain net/http handler doing
// the least the same request needs.
//
//	scripts/bench-broker.sh     (go test -run '^$' -bench BrokerWrk -benchtime 1x ./broker/)

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/broker"
	"github.com/rolehop/rolehop/broker/store"
	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/samltest"
	"github.com/rolehop/rolehop/internal/stsfake"
)

// Fixed latencies of the fakes in the redirect benchmark.
const (
	benchSTSLatency = 20 * time.Millisecond
	benchFedLatency = 10 * time.Millisecond
)

func TestMain(m *testing.M) {
	switch os.Getenv("ROLEHOP_BENCH_CHILD") {
	case "broker":
		benchChildBroker()
		return
	case "plain":
		benchChildPlain()
		return
	}
	os.Exit(m.Run())
}

// replayOff is the memory store with Claim always granted: the benchmark
// posts one signed assertion many times, and each must go the whole way
// (verification, session) rather than stop at the replay cache.
type replayOff struct{ *store.Memory }

func (replayOff) Claim(context.Context, string, time.Duration) (bool, error) { return true, nil }

// slowTransport delays every request (the federation endpoint's latency).
type slowTransport struct{ d time.Duration }

func (s slowTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	time.Sleep(s.d)
	return http.DefaultTransport.RoundTrip(r)
}

type wrkResult struct {
	rps        float64
	p50, p99   string
	non2xx3xx  int
	requests   int
	socketErrs string
}

var (
	reRPS    = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	reP50    = regexp.MustCompile(`\n\s+50%\s+(\S+)`)
	reP99    = regexp.MustCompile(`\n\s+99%\s+(\S+)`)
	reNon    = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	reReqs   = regexp.MustCompile(`(\d+) requests in`)
	reSocket = regexp.MustCompile(`Socket errors: (.*)`)
)

// wrk runs wrk for d against u with headers and an optional Lua script.
func wrk(b *testing.B, u string, d time.Duration, conns int, headers []string, script string) wrkResult {
	b.Helper()
	args := []string{"-t2", "-c" + strconv.Itoa(conns), "-d" + strconv.Itoa(int(d/time.Second)) + "s", "--latency", "--timeout", "10s"}
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	if script != "" {
		f := filepath.Join(b.TempDir(), "post.lua")
		if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
			b.Fatal(err)
		}
		args = append(args, "-s", f)
	}
	out, err := exec.Command("wrk", append(args, u)...).CombinedOutput()
	if err != nil {
		b.Fatalf("wrk: %v\n%s", err, out)
	}
	s := string(out)
	var r wrkResult
	if m := reRPS.FindStringSubmatch(s); m != nil {
		r.rps, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := reP50.FindStringSubmatch(s); m != nil {
		r.p50 = m[1]
	}
	if m := reP99.FindStringSubmatch(s); m != nil {
		r.p99 = m[1]
	}
	if m := reNon.FindStringSubmatch(s); m != nil {
		r.non2xx3xx, _ = strconv.Atoi(m[1])
	}
	if m := reReqs.FindStringSubmatch(s); m != nil {
		r.requests, _ = strconv.Atoi(m[1])
	}
	if m := reSocket.FindStringSubmatch(s); m != nil {
		r.socketErrs = m[1]
	}
	if r.rps == 0 {
		b.Fatalf("cannot read wrk's output:\n%s", s)
	}
	return r
}

// BenchmarkBrokerWrk measures, under wrk on loopback, the broker next to a
// plain net/http handler: the authenticated console redirect, ACS logins,
// and resident memory with 10,000 live sessions. It runs once whatever
// b.N is and prints a Markdown table.
func BenchmarkBrokerWrk(b *testing.B) {
	if testing.Short() {
		b.Skip("-short")
	}
	if _, err := exec.LookPath("wrk"); err != nil {
		b.Skip("wrk not installed (Debian package wrk; make peers)")
	}
	b.StopTimer()
	dur := 10 * time.Second
	if s := os.Getenv("ROLEHOP_BENCH_SECONDS"); s != "" {
		n, _ := strconv.Atoi(s)
		dur = time.Duration(n) * time.Second
	}
	var rows []string
	row := func(what string, broker, plain wrkResult) {
		rows = append(rows, fmt.Sprintf("| %s | %.0f req/s, p50 %s, p99 %s | %.0f req/s, p50 %s, p99 %s |",
			what, broker.rps, broker.p50, broker.p99, plain.rps, plain.p50, plain.p99))
		if broker.non2xx3xx != 0 || broker.socketErrs != "" {
			b.Errorf("%s: %d non-2xx/3xx answers, socket errors %q", what, broker.non2xx3xx, broker.socketErrs)
		}
	}

	// 1. The authenticated console redirect: AssumeRole (test STS, 20 ms)
	// and getSigninToken (federation fake, 10 ms) per request.
	{
		h := benchHarness(b)
		cookie := h.benchLogin(b)
		br := wrk(b, h.url+"/prod-admin", dur, 32, []string{"Cookie: " + cookie, "Sec-Fetch-Site: same-origin"}, "")
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(benchSTSLatency + benchFedLatency)
			w.Header().Set("Location", "https://signin.aws.amazon.com/federation?Action=login")
			w.WriteHeader(http.StatusFound)
		}))
		defer plain.Close()
		pl := wrk(b, plain.URL+"/", dur, 32, nil, "")
		row(fmt.Sprintf("authenticated console redirect, 32 connections (fakes: STS %v, federation %v; plain handler sleeps %v)",
			benchSTSLatency, benchFedLatency, benchSTSLatency+benchFedLatency), br, pl)
		b.ReportMetric(br.rps, "redirect-req/s")
	}

	// 2. ACS logins: one genuinely signed assertion (RSA-2048, SHA-256,
	// Response and Assertion signed) posted over and over; each is
	// verified by samlverify.Verify and makes a session.
	{
		h := benchHarness(b)
		body := url.Values{"SAMLResponse": {h.benchAssertion(b)}, "RelayState": {"/"}}.Encode()
		script := `wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "` + body + `"
`
		br := wrk(b, h.url+"/saml/acs", dur, 8, nil, script)
		plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			if err := r.ParseForm(); err != nil {
				http.Error(w, "bad", 400)
				return
			}
			if _, err := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLResponse")); err != nil {
				http.Error(w, "bad", 400)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "s", Value: "x"})
			w.Header().Set("Location", "/")
			w.WriteHeader(http.StatusSeeOther)
		}))
		defer plain.Close()
		pl := wrk(b, plain.URL+"/", dur, 8, nil, script)
		row(fmt.Sprintf("ACS login (POST of a %d-byte signed SAMLResponse), 8 connections (plain handler: parse the form, decode base64)", len(body)), br, pl)
		b.ReportMetric(br.rps, "acs-logins/s")
	}

	// 3. Resident memory with 10,000 live sessions, each made through the
	// ACS; the plain server keeps 10,000 entries of the same shape in a map.
	bIdle, bFull := childRSS(b, "broker")
	pIdle, pFull := childRSS(b, "plain")
	rows = append(rows, fmt.Sprintf("| resident memory (VmRSS), idle -> 10,000 live sessions | %.1f MiB -> %.1f MiB | %.1f MiB -> %.1f MiB |",
		bIdle, bFull, pIdle, pFull))
	b.ReportMetric(bFull, "MiB-10k-sessions")

	fmt.Println("| measure | broker | plain net/http handler |")
	fmt.Println("| --- | --- | --- |")
	for _, r := range rows {
		fmt.Println(r)
	}
}

// benchHarness is a broker on the test STS (20 ms) and federation fake
// (10 ms), with IdP-initiated logins allowed and the replay cache off.
type benchBroker struct {
	url string
	idp *samltest.IdP
	cfg *broker.Config
	srv *broker.Server
}

func benchHarness(b *testing.B) *benchBroker {
	b.Helper()
	idp, _ := idps(b)
	sts := stsfake.NewForTest(b, stsfake.WithKey(brokerKeyID, brokerSecret), stsfake.WithLatency(benchSTSLatency))
	fed := fedfake.New(b)
	bridge(sts, fed)
	ts := httptest.NewUnstartedServer(nil)
	u := "http://" + ts.Listener.Addr().String()
	dir := b.TempDir()
	md := filepath.Join(dir, "idp.xml")
	if err := os.WriteFile(md, idpMetadataXML(idp, idpSSO), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := broker.ParseConfig([]byte("external_url: "+u+"\nfederation_url: "+fed.URL+"\nsession_lifetime: 24h\n"+
		"idp:\n  metadata_file: "+md+"\n  allow_idp_initiated: true\n"+adminDevTargets), "bench.yaml")
	if err != nil {
		b.Fatal(err)
	}
	srv, err := broker.New(b.Context(), cfg, broker.Deps{
		Base:       stsConfig(sts, aws.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret}),
		Store:      replayOff{store.NewMemory(nil)},
		HTTPClient: &http.Client{Transport: slowTransport{benchFedLatency}, Timeout: 30 * time.Second},
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	b.Cleanup(ts.Close)
	return &benchBroker{url: u, idp: idp, cfg: cfg, srv: srv}
}

// benchAssertion is an IdP-initiated assertion for alice (admins), valid
// for the next hour.
func (bb *benchBroker) benchAssertion(b testing.TB) string {
	s := samltest.Response{Audience: bb.cfg.EntityID, Recipient: bb.url + "/saml/acs", NameID: "alice",
		IssueInstant: time.Now().UTC().Truncate(time.Second), NotOnOrAfter: time.Now().Add(time.Hour),
		Attributes: []samltest.Attribute{{Name: "groups", Values: []string{"admins", "dev"}}}}
	return b64(craft(b, bb.idp, s))
}

// benchLogin signs alice in and returns her Cookie header.
func (bb *benchBroker) benchLogin(b *testing.B) string {
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		PostForm(bb.url+"/saml/acs", url.Values{"SAMLResponse": {bb.benchAssertion(b)}, "RelayState": {"/"}})
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "rolehop_session" {
			return c.Name + "=" + c.Value
		}
	}
	b.Fatalf("login: %d, no session cookie", resp.StatusCode)
	return ""
}

// childRSS starts this test binary as a server (broker or plain), makes
// 10,000 sessions in it and returns its VmRSS in MiB before and after.
func childRSS(b *testing.B, mode string) (idle, full float64) {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "ROLEHOP_BENCH_CHILD="+mode)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stdout)
	var hello struct{ URL, Assertion string }
	if !sc.Scan() || json.Unmarshal(sc.Bytes(), &hello) != nil {
		b.Fatalf("%s child did not start", mode)
	}
	time.Sleep(500 * time.Millisecond)
	idle = vmRSS(b, cmd.Process.Pid)
	form := url.Values{"SAMLResponse": {hello.Assertion}, "RelayState": {"/"}}.Encode()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	var wg sync.WaitGroup
	work := make(chan struct{})
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range work {
				resp, err := client.Post(hello.URL+"/saml/acs", "application/x-www-form-urlencoded", strings.NewReader(form))
				if err != nil {
					errs <- err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusSeeOther {
					errs <- fmt.Errorf("%s child: login answered %d", mode, resp.StatusCode)
					return
				}
			}
		})
	}
	for range 10_000 {
		work <- struct{}{}
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return idle, vmRSS(b, cmd.Process.Pid)
}

func vmRSS(b *testing.B, pid int) float64 {
	s, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(s)
	if m == nil {
		b.Fatal("no VmRSS")
	}
	kb, _ := strconv.Atoi(string(m[1]))
	return float64(kb) / 1024
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func childListen() (net.Listener, string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	return ln, "http://" + ln.Addr().String()
}

func hello(u, assertion string) {
	b, _ := json.Marshal(map[string]string{"URL": u, "Assertion": assertion})
	fmt.Println(string(b))
}

// benchChildBroker serves a broker (memory store, replay cache off) until
// killed.
func benchChildBroker() {
	t := &testing.B{}
	ln, u := childListen()
	idp := samltest.LoadIdP(t, "testdata/test-idp.pem", idpEntityID)
	dir, _ := os.MkdirTemp("", "rolehop-bench-")
	defer os.RemoveAll(dir)
	md := filepath.Join(dir, "idp.xml")
	_ = os.WriteFile(md, idpMetadataXML(idp, idpSSO), 0o600)
	cfg, err := broker.ParseConfig([]byte("external_url: "+u+"\nsession_lifetime: 24h\nidp:\n  metadata_file: "+md+
		"\n  allow_idp_initiated: true\n"+adminDevTargets), "bench.yaml")
	if err != nil {
		panic(err)
	}
	srv, err := broker.New(context.Background(), cfg, broker.Deps{
		Base:  stsConfig(stsfake.New(), aws.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret}),
		Store: replayOff{store.NewMemory(nil)},
	})
	if err != nil {
		panic(err)
	}
	bb := &benchBroker{url: u, idp: idp, cfg: cfg}
	hello(u, bb.benchAssertion(t))
	_ = http.Serve(ln, srv)
}

// benchChildPlain is the plain counterpart: each POST keeps a session of
// the broker's shape (user, groups, CSRF token, times) under a random ID.
func benchChildPlain() {
	type session struct {
		User, Name, CSRF string
		Groups           []string
		Created, Expires time.Time
	}
	ln, u := childListen()
	var mu sync.Mutex
	sessions := map[string]*session{}
	hello(u, "x")
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		id := randomHex(32)
		s := &session{User: "alice", Name: "alice", CSRF: randomHex(24), Groups: []string{"admins", "dev"}, Created: time.Now(), Expires: time.Now().Add(time.Hour)}
		mu.Lock()
		sessions[id] = s
		mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "s", Value: id})
		w.Header().Set("Location", "/")
		w.WriteHeader(http.StatusSeeOther)
	}))
}

// BenchmarkACSLogin: one ACS login in-process (no network): samlverify.Verify of
// a signed response and a new session in the memory store.
func BenchmarkACSLogin(b *testing.B) {
	bb := benchHarness(b)
	srv := bb.srv
	body := url.Values{"SAMLResponse": {bb.benchAssertion(b)}, "RelayState": {"/"}}.Encode()
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, bb.url+"/saml/acs", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusSeeOther {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
