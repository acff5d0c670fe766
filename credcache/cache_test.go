package credcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/gofrs/flock"

	"github.com/rolehop/rolehop/internal/testpeer"
)

const testKey = "0123456789abcdef0123456789abcdef01234567"

func creds(n int, exp time.Time) aws.Credentials {
	return aws.Credentials{
		AccessKeyID:     fmt.Sprintf("ASIATEST%04d", n),
		SecretAccessKey: fmt.Sprintf("secret-%04d-SECRETVALUE", n),
		SessionToken:    fmt.Sprintf("token-%04d-TOKENVALUE", n),
		CanExpire:       true,
		Expires:         exp.UTC().Truncate(time.Second),
	}
}

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func logCapture() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	var mu sync.Mutex
	return slog.New(slog.NewTextHandler(lockedWriter{&buf, &mu}, nil)), &buf
}

type lockedWriter struct {
	b  *bytes.Buffer
	mu *sync.Mutex
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestHelperProcess is one rolehop-like process using the cache; it is run
// by TestManyProcessesOneFetch, not by go test directly.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv("CREDCACHE_HELPER") {
	case "":
		t.Skip("helper process; run by the tests that start other processes")
	case "1":
	default:
		helperMode(os.Getenv("CREDCACHE_HELPER"))
		os.Exit(0)
	}
	dir, counter, start := os.Getenv("CREDCACHE_DIR"), os.Getenv("CREDCACHE_COUNTER"), os.Getenv("CREDCACHE_START")
	// Wait for the start signal so that all processes miss at once.
	for {
		if _, err := os.Stat(start); err == nil {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	c := &Cache{Dir: dir}
	cr, err := c.Get(context.Background(), testKey, func(ctx context.Context) (aws.Credentials, error) {
		f, err := os.OpenFile(counter, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return aws.Credentials{}, err
		}
		fmt.Fprintf(f, "%d\n", os.Getpid())
		f.Close()
		// Hold the lock a while so that the others queue on it.
		delay := 300 * time.Millisecond
		if d, err := time.ParseDuration(os.Getenv("CREDCACHE_FETCH_DELAY")); err == nil {
			delay = d
		}
		time.Sleep(delay)
		return creds(os.Getpid(), time.Now().Add(time.Hour)), nil
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	fmt.Print(cr.AccessKeyID)
	os.Exit(0)
}

func TestManyProcessesOneFetch(t *testing.T) {
	const n = 50
	dir := filepath.Join(t.TempDir(), "cache")
	counter := filepath.Join(t.TempDir(), "fetches")
	start := filepath.Join(t.TempDir(), "start")
	type result struct {
		out string
		err error
	}
	results := make(chan result, n)
	var cmds []*exec.Cmd
	var outs []*bytes.Buffer
	for i := 0; i < n; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), "CREDCACHE_HELPER=1", "CREDCACHE_DIR="+dir,
			"CREDCACHE_COUNTER="+counter, "CREDCACHE_START="+start)
		out, errb := new(bytes.Buffer), new(bytes.Buffer)
		cmd.Stdout, cmd.Stderr = out, errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		outs = append(outs, out)
	}
	if err := os.WriteFile(start, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for i, cmd := range cmds {
		err := cmd.Wait()
		if err != nil {
			err = fmt.Errorf("process %d: %w: %s", i, err, cmd.Stderr.(*bytes.Buffer).String())
		}
		results <- result{outs[i].String(), err}
	}
	close(results)
	keys := map[string]int{}
	for r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		keys[r.out]++
	}
	data, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), "\n"); got != 1 {
		t.Fatalf("%d processes on a cold cache made %d fetches, want 1", n, got)
	}
	if len(keys) != 1 {
		t.Fatalf("processes saw %d different credentials, want 1: %v", len(keys), keys)
	}
	pid := strings.TrimSpace(string(data))
	for k := range keys {
		if want := creds(atoi(t, pid), time.Time{}).AccessKeyID; k != want {
			t.Fatalf("processes got %s, the fetching process made %s", k, want)
		}
	}
}

func atoi(t *testing.T, s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestManyGoroutinesOneFetch(t *testing.T) {
	const n = 50
	c := &Cache{Dir: t.TempDir()}
	var fetches atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	got := make([]aws.Credentials, n)
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], errs[i] = c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
				fetches.Add(1)
				<-release
				return creds(7, time.Now().Add(time.Hour)), nil
			})
		}()
	}
	// Let the goroutines pile up on the lock, then release the fetch.
	time.Sleep(100 * time.Millisecond)
	close(release)
	wg.Wait()
	if f := fetches.Load(); f != 1 {
		t.Fatalf("%d goroutines made %d fetches, want 1", n, f)
	}
	for i := range got {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i].AccessKeyID != "ASIATEST0007" {
			t.Fatalf("goroutine %d got %s", i, got[i].AccessKeyID)
		}
	}
}

func TestModesAndLayout(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "a", "creds")
	clk := &clock{now: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	c := &Cache{Dir: dir, Now: clk.Now}
	want := creds(1, clk.now.Add(time.Hour))
	_, err := c.GetEntry(t.Context(), testKey, func(ctx context.Context) (Entry, error) {
		return Entry{Credentials: want, AssumedRoleUser: &AssumedRoleUser{AssumedRoleId: "AROA:alice", Arn: "arn:aws:sts::1:assumed-role/R/alice"}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Errorf("cache folder mode %v, want 0700", st.Mode().Perm())
	}
	for _, name := range []string{testKey + ".json", testKey + ".lock"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("cache folder holds %d files, want the entry and its lock (no temporary files left)", len(entries))
	}
	data, err := os.ReadFile(filepath.Join(dir, testKey+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]map[string]any
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	cr := doc["Credentials"]
	if cr["AccessKeyId"] != want.AccessKeyID || cr["SecretAccessKey"] != want.SecretAccessKey ||
		cr["SessionToken"] != want.SessionToken || cr["Expiration"] != "2026-11-22T16:00:00Z" {
		t.Errorf("Credentials = %v", cr)
	}
	if doc["AssumedRoleUser"]["Arn"] != "arn:aws:sts::1:assumed-role/R/alice" {
		t.Errorf("AssumedRoleUser = %v", doc["AssumedRoleUser"])
	}
	if _, ok := doc["ResponseMetadata"]; !ok {
		t.Error("no ResponseMetadata")
	}
}

func TestRefreshWindow(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	c := &Cache{Dir: t.TempDir(), Now: clk.Now}
	n := 0
	fetch := func(ctx context.Context) (aws.Credentials, error) {
		n++
		return creds(n, clk.Now().Add(time.Hour)), nil
	}
	get := func() string {
		t.Helper()
		cr, err := c.Get(t.Context(), testKey, fetch)
		if err != nil {
			t.Fatal(err)
		}
		return cr.AccessKeyID
	}
	if k := get(); k != "ASIATEST0001" {
		t.Fatalf("first Get = %s", k)
	}
	clk.Add(44*time.Minute + 59*time.Second) // 15m01s left: still fresh
	if k := get(); k != "ASIATEST0001" || n != 1 {
		t.Fatalf("Get with 15m01s left = %s after %d fetches, want the cached entry", k, n)
	}
	clk.Add(2 * time.Second) // 14m59s left: inside the default 15-minute window
	if k := get(); k != "ASIATEST0002" || n != 2 {
		t.Fatalf("Get inside the refresh window = %s after %d fetches, want a new fetch", k, n)
	}

	// A configured window.
	c2 := &Cache{Dir: t.TempDir(), Now: clk.Now, RefreshWindow: 50 * time.Minute}
	n2 := 0
	f2 := func(ctx context.Context) (aws.Credentials, error) {
		n2++
		return creds(100+n2, clk.Now().Add(time.Hour)), nil
	}
	if _, err := c2.Get(t.Context(), testKey, f2); err != nil {
		t.Fatal(err)
	}
	clk.Add(9 * time.Minute)
	c2.Get(t.Context(), testKey, f2)
	if n2 != 1 {
		t.Fatalf("51m left with a 50m window: %d fetches, want 1", n2)
	}
	clk.Add(2 * time.Minute)
	c2.Get(t.Context(), testKey, f2)
	if n2 != 2 {
		t.Fatalf("49m left with a 50m window: %d fetches, want 2", n2)
	}
}

func TestCorruptAndForeignFilesAreReplaced(t *testing.T) {
	for name, content := range map[string]string{
		"truncated":    `{"Credentials": {"AccessKeyId": "ASIAOLD", "SecretAccessKey": "oldSECRETVALUE"`,
		"garbage":      "\x00\x01not json at all oldSECRETVALUE",
		"sso token":    `{"accessToken": "oldSECRETVALUE", "expiresAt": "2030-01-01T00:00:00Z"}`,
		"no token":     `{"Credentials": {"AccessKeyId": "ASIAOLD", "SecretAccessKey": "oldSECRETVALUE", "Expiration": "2030-01-01T00:00:00Z"}}`,
		"bad time":     `{"Credentials": {"AccessKeyId": "ASIAOLD", "SecretAccessKey": "oldSECRETVALUE", "SessionToken": "t", "Expiration": "soon"}}`,
		"wrong types":  `{"Credentials": ["oldSECRETVALUE"]}`,
		"empty file":   ``,
		"json literal": `null`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, testKey+".json")
			if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			log, buf := logCapture()
			c := &Cache{Dir: dir, Logger: log}
			fetches := 0
			cr, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
				fetches++
				return creds(2, time.Now().Add(time.Hour)), nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if fetches != 1 || cr.AccessKeyID != "ASIATEST0002" {
				t.Fatalf("fetches=%d key=%s, want one fetch", fetches, cr.AccessKeyID)
			}
			if !strings.Contains(buf.String(), "ignoring cache file") {
				t.Errorf("no warning logged: %q", buf.String())
			}
			if strings.Contains(buf.String(), "SECRETVALUE") {
				t.Fatalf("log leaks the file's content: %s", buf.String())
			}
			// Replaced: a second cache reads the new entry without fetching.
			c2 := &Cache{Dir: dir}
			cr2, err := c2.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
				return aws.Credentials{}, errors.New("must not fetch")
			})
			if err != nil || cr2.AccessKeyID != "ASIATEST0002" {
				t.Fatalf("after replacement: %v %v", cr2.AccessKeyID, err)
			}
		})
	}
}

func TestReadsAWSCLIWrittenEntry(t *testing.T) {
	// The AWS CLI (botocore JSONFileCache) writes datetimes with
	// strftime('%Y-%m-%dT%H:%M:%S%Z') and the whole AssumeRole response.
	dir := t.TempDir()
	entry := `{"Credentials": {"AccessKeyId": "ASIACLI", "SecretAccessKey": "s", "SessionToken": "t",
	  "Expiration": "2026-11-22T16:00:00UTC"}, "AssumedRoleUser": {"AssumedRoleId": "AROA:x", "Arn": "arn"},
	  "ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}`
	if err := os.WriteFile(filepath.Join(dir, testKey+".json"), []byte(entry), 0o600); err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	c := &Cache{Dir: dir, Now: clk.Now}
	e, err := c.GetEntry(t.Context(), testKey, func(ctx context.Context) (Entry, error) {
		return Entry{}, errors.New("must not fetch")
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Credentials.AccessKeyID != "ASIACLI" || !e.Credentials.Expires.Equal(time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)) ||
		e.AssumedRoleUser == nil || e.AssumedRoleUser.AssumedRoleId != "AROA:x" {
		t.Fatalf("entry = %+v", e)
	}
}

// TestAWSCLIUsesRolehopEntry proves the key scheme and layout are the AWS
// CLI's: an entry written by rolehop under AssumeRoleKey in
// ~/.aws/cli/cache is what `aws configure export-credentials` returns, with
// no STS call (the STS endpoint is unreachable).
func TestAWSCLIUsesRolehopEntry(t *testing.T) {
	const awsCLI = "/usr/bin/aws"
	if _, err := os.Stat(awsCLI); err != nil {
		testpeer.Missing(t, "%s (Debian's AWS CLI v2) is missing; apt-get install awscli", awsCLI)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	roleArn := "arn:aws:iam::111111111111:role/Admin"
	cfg := "[profile base]\nregion = us-east-1\n\n[profile hop]\nrole_arn = " + roleArn +
		"\nsource_profile = base\nrole_session_name = alice\nduration_seconds = 1800\nexternal_id = ext-1\nregion = us-east-1\n"
	credsFile := "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\n"
	os.WriteFile(filepath.Join(home, ".aws", "config"), []byte(cfg), 0o600)
	os.WriteFile(filepath.Join(home, ".aws", "credentials"), []byte(credsFile), 0o600)

	key, err := AssumeRoleKey(AssumeRoleArgs{RoleArn: roleArn, RoleSessionName: "alice", DurationSeconds: 1800, ExternalId: "ext-1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOME", home)
	dir, err := AWSCLIDir()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: dir}
	want := creds(42, time.Now().Add(time.Hour))
	if _, err := c.Get(t.Context(), key, func(ctx context.Context) (aws.Credentials, error) { return want, nil }); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(awsCLI, "configure", "export-credentials", "--profile", "hop", "--endpoint-url", "http://127.0.0.1:9")
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "AWS_EC2_METADATA_DISABLED=true",
		"HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws configure export-credentials: %v: %s", err, out)
	}
	var got struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("aws output %q: %v", out, err)
	}
	if got.AccessKeyId != want.AccessKeyID || got.SessionToken != want.SessionToken {
		t.Fatalf("AWS CLI returned %s, want rolehop's cached %s", got.AccessKeyId, want.AccessKeyID)
	}
}

func TestReadersDoNotBlockOnLockHolder(t *testing.T) {
	dir := t.TempDir()
	c := &Cache{Dir: dir}
	if _, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
		return creds(1, time.Now().Add(time.Hour)), nil
	}); err != nil {
		t.Fatal(err)
	}
	// Another process holds the lock (e.g. refreshing): a reader of a
	// fresh entry still gets it.
	lk := flock.New(filepath.Join(dir, testKey+".lock"))
	if ok, err := lk.TryLock(); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer lk.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	cancel() // a blocking call would fail with this context
	cr, err := c.Get(ctx, testKey, func(ctx context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("must not fetch")
	})
	if err != nil || cr.AccessKeyID != "ASIATEST0001" {
		t.Fatalf("reader blocked or failed: %v %v", cr.AccessKeyID, err)
	}
}

func TestLockWaitHonoursContext(t *testing.T) {
	dir := t.TempDir()
	lk := flock.New(filepath.Join(dir, testKey+".lock"))
	if ok, err := lk.TryLock(); err != nil || !ok {
		t.Fatalf("lock: %v %v", ok, err)
	}
	defer lk.Unlock()
	ctx, cancel := context.WithCancel(t.Context())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	c := &Cache{Dir: dir}
	_, err := c.Get(ctx, testKey, func(ctx context.Context) (aws.Credentials, error) {
		return aws.Credentials{}, errors.New("must not fetch")
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestFetchErrorKeepsUnexpiredEntry(t *testing.T) {
	clk := &clock{now: time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)}
	log, buf := logCapture()
	c := &Cache{Dir: t.TempDir(), Now: clk.Now, Logger: log}
	if _, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
		return creds(1, clk.Now().Add(time.Hour)), nil
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("sts is down")
	clk.Add(50 * time.Minute) // inside the window, not expired
	cr, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) { return aws.Credentials{}, boom })
	if err != nil || cr.AccessKeyID != "ASIATEST0001" {
		t.Fatalf("inside window with failing fetch: %v %v, want the cached entry", cr.AccessKeyID, err)
	}
	if !strings.Contains(buf.String(), "refresh failed") {
		t.Errorf("no warning: %s", buf.String())
	}
	clk.Add(11 * time.Minute) // expired
	if _, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) { return aws.Credentials{}, boom }); !errors.Is(err, boom) {
		t.Fatalf("expired with failing fetch: err = %v, want the fetch error", err)
	}
	if strings.Contains(buf.String(), "SECRETVALUE") || strings.Contains(buf.String(), "TOKENVALUE") {
		t.Fatalf("log leaks a secret: %s", buf.String())
	}
}

func TestBadKeysAndNonExpiring(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	for _, k := range []string{"", "..", "a/b", "../x", "k y"} {
		if _, err := c.Get(t.Context(), k, nil); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("key %q: err = %v, want ErrInvalidKey", k, err)
		}
	}
	_, err := c.Get(t.Context(), testKey, func(ctx context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, nil
	})
	if !errors.Is(err, ErrNoExpiry) {
		t.Fatalf("err = %v, want ErrNoExpiry", err)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, testKey+".json")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("long-term credentials were written to the cache: %v", err)
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/x/cache")
	if d, _ := DefaultDir(); d != "/x/cache/rolehop/creds" {
		t.Errorf("DefaultDir with XDG_CACHE_HOME = %s", d)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	t.Setenv("HOME", "/home/u")
	if d, _ := DefaultDir(); d != "/home/u/.cache/rolehop/creds" {
		t.Errorf("DefaultDir = %s", d)
	}
}
