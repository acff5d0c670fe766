package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/internal/testpeer"
)

const presignBucket = "cli-presign"

// minioPresign is a MinIO server with a bucket and MinIO-STS temporary
// credentials for the rolehop process.
type minioPresign struct {
	m     *testpeer.MinIO
	s3    *s3.Client // root keys
	creds aws.Credentials
}

func newMinioPresign(t *testing.T, life time.Duration) *minioPresign {
	t.Helper()
	m := testpeer.NewMinIO(t)
	root := m.Config()
	c := s3.NewFromConfig(root, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(presignBucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	p := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(root), "arn:aws:iam::123456789012:role/cli-presign",
		func(o *stscreds.AssumeRoleOptions) { o.Duration = life; o.RoleSessionName = "cli-presign" })
	creds, err := p.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("MinIO STS AssumeRole: %v", err)
	}
	if creds.SessionToken == "" || !creds.CanExpire {
		t.Fatal("MinIO STS gave no temporary credentials")
	}
	return &minioPresign{m: m, s3: c, creds: creds}
}

// env passes the temporary credentials as environment variables.
func (mp *minioPresign) env(t *testing.T, extra ...string) []string {
	return testpeer.ProcEnv(t, append([]string{
		"AWS_ACCESS_KEY_ID=" + mp.creds.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + mp.creds.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + mp.creds.SessionToken,
		"AWS_REGION=" + mp.m.Region,
	}, extra...)...)
}

func (mp *minioPresign) object(t *testing.T, key string) string {
	t.Helper()
	out, err := mp.s3.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(presignBucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("get s3://%s/%s with root keys: %v", presignBucket, key, err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(out.Body)
	return string(b)
}

func httpDo(t *testing.T, method, u string, body []byte) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// oneURL checks stdout is exactly one URL line and returns it parsed.
func oneURL(t *testing.T, stdout string) *url.URL {
	t.Helper()
	line, ok := strings.CutSuffix(stdout, "\n")
	if !ok || strings.Contains(line, "\n") {
		t.Fatalf("stdout is not one line: %q", stdout)
	}
	u, err := url.Parse(line)
	if err != nil {
		t.Fatalf("stdout is not a URL: %v", err)
	}
	return u
}

func TestPresignPutThenGetAgainstMinIO(t *testing.T) {
	mp := newMinioPresign(t, time.Hour)
	body := []byte("uploaded through a rolehop presigned PUT\n")

	// The endpoint from AWS_ENDPOINT_URL_S3; path style implied for 127.0.0.1.
	env := mp.env(t, "AWS_ENDPOINT_URL_S3="+mp.m.Endpoint)
	out, errOut, code := runRolehop(t, env, "presign", "s3://"+presignBucket+"/dir/report one.txt", "--method", "PUT", "--expires", "10m")
	if code != 0 || errOut != "" {
		t.Fatalf("presign PUT: exit %d, stderr %q", code, errOut)
	}
	put := oneURL(t, out)
	q := put.Query()
	if q.Get("X-Amz-Security-Token") != mp.creds.SessionToken || q.Get("X-Amz-Expires") != "600" {
		t.Fatalf("PUT URL: token present %v, X-Amz-Expires %q; want the session token and 600",
			q.Has("X-Amz-Security-Token"), q.Get("X-Amz-Expires"))
	}
	if c, b := httpDo(t, http.MethodPut, put.String(), body); c != http.StatusOK {
		t.Fatalf("PUT to the presigned URL: %d %s", c, b)
	}
	if got := mp.object(t, "dir/report one.txt"); got != string(body) {
		t.Fatalf("object after the presigned PUT = %q", got)
	}

	// The endpoint from --endpoint-url and --path-style; positional
	// profile-less form; GET is the default method.
	out, errOut, code = runRolehop(t, mp.env(t), "presign", "s3://"+presignBucket+"/dir/report one.txt",
		"--endpoint-url", mp.m.Endpoint, "--path-style")
	if code != 0 || errOut != "" {
		t.Fatalf("presign GET: exit %d, stderr %q", code, errOut)
	}
	get := oneURL(t, out)
	if get.Query().Get("X-Amz-Expires") != "900" {
		t.Errorf("default lifetime: X-Amz-Expires %q, want 900", get.Query().Get("X-Amz-Expires"))
	}
	if c, b := httpDo(t, http.MethodGet, get.String(), nil); c != http.StatusOK || b != string(body) {
		t.Fatalf("GET of the presigned URL: %d %q", c, b)
	}
	// The URL is for GET only: the same URL does not allow a PUT.
	if c, _ := httpDo(t, http.MethodPut, get.String(), []byte("overwrite")); c != http.StatusForbidden {
		t.Errorf("PUT with a GET URL: %d, want 403", c)
	}
	if strings.Contains(out+errOut, mp.creds.SecretAccessKey) {
		t.Error("the secret key appears in presign's output")
	}
}

// credentialProcessProfile writes an AWS config whose profile "minio" gets
// creds through credential_process (as a rolehop profile does), with their
// Expiration, and returns the env pointing at it.
func (mp *minioPresign) credentialProcessProfile(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	j, _ := json.Marshal(map[string]any{
		"Version": 1, "AccessKeyId": mp.creds.AccessKeyID, "SecretAccessKey": mp.creds.SecretAccessKey,
		"SessionToken": mp.creds.SessionToken, "Expiration": mp.creds.Expires.UTC().Format(time.RFC3339),
	})
	cj := filepath.Join(dir, "creds.json")
	if err := os.WriteFile(cj, j, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	conf := "[profile minio]\ncredential_process = cat " + cj + "\nregion = us-east-1\nendpoint_url = " + mp.m.Endpoint + "\n"
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return testpeer.ProcEnv(t, "AWS_CONFIG_FILE="+cfg)
}

func TestPresignCappedAtCredentialExpiry(t *testing.T) {
	mp := newMinioPresign(t, 15*time.Minute)
	if _, err := mp.s3.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(presignBucket),
		Key: aws.String("k"), Body: strings.NewReader("capped")}); err != nil {
		t.Fatal(err)
	}
	expiry := mp.creds.Expires.UTC().Truncate(time.Second)

	for _, tc := range []struct {
		name string
		env  []string
		args []string
	}{
		{"credential_process profile", mp.credentialProcessProfile(t), []string{"presign", "minio", "s3://" + presignBucket + "/k", "--expires", "2h"}},
		{"environment with AWS_CREDENTIAL_EXPIRATION", mp.env(t, "AWS_ENDPOINT_URL_S3="+mp.m.Endpoint,
			"AWS_CREDENTIAL_EXPIRATION="+mp.creds.Expires.UTC().Format(time.RFC3339)), []string{"presign", "s3://" + presignBucket + "/k", "--expires", "1d"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runRolehop(t, tc.env, tc.args...)
			if code != 0 {
				t.Fatalf("presign: exit %d, stderr %q", code, errOut)
			}
			u := oneURL(t, out)
			exp, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires"))
			if exp > 900 || exp < 600 {
				t.Errorf("X-Amz-Expires = %d, want the credentials' remaining life (<= 900)", exp)
			}
			lines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			if len(lines) != 1 || !strings.Contains(lines[0], "only until the credentials") {
				t.Errorf("stderr = %q; want one notice that the URL ends with the credentials", errOut)
			}
			// The notice names when the URL stops working: the signing time
			// plus X-Amz-Expires (whole seconds, rounded down), so at most a
			// second or two before the credentials' expiry, never after.
			m := regexp.MustCompile(`at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC`).FindStringSubmatch(errOut)
			if m == nil {
				t.Fatalf("stderr = %q; want the time the URL stops working", errOut)
			}
			until, _ := time.Parse("2006-01-02 15:04:05", m[1])
			if lag := expiry.Sub(until); lag < 0 || lag > 2*time.Second {
				t.Errorf("notice says %s; the credentials expire at %s", until, expiry)
			}
			if c, b := httpDo(t, http.MethodGet, u.String(), nil); c != http.StatusOK || b != "capped" {
				t.Fatalf("GET of the capped URL: %d %q", c, b)
			}
		})
	}
}

func TestPresignPostFormAgainstMinIO(t *testing.T) {
	mp := newMinioPresign(t, time.Hour)
	env := mp.env(t, "AWS_ENDPOINT_URL_S3="+mp.m.Endpoint)
	out, errOut, code := runRolehop(t, env, "presign", "--post", "s3://"+presignBucket+"/incoming/", "--max-size", "1024", "--expires", "30m")
	if code != 0 || errOut != "" {
		t.Fatalf("presign --post: exit %d, stderr %q", code, errOut)
	}
	var form struct {
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	}
	if err := json.Unmarshal([]byte(out), &form); err != nil {
		t.Fatalf("--post output is not JSON: %v\n%s", err, out)
	}
	if form.Fields["key"] != "incoming/${filename}" || form.Fields["X-Amz-Security-Token"] != mp.creds.SessionToken || form.Fields["policy"] == "" {
		t.Fatalf("form fields: key %q, token present %v, policy present %v", form.Fields["key"],
			form.Fields["X-Amz-Security-Token"] != "", form.Fields["policy"] != "")
	}
	post := func(name string, content []byte) (int, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for k, v := range form.Fields {
			if err := w.WriteField(k, v); err != nil {
				t.Fatal(err)
			}
		}
		fw, _ := w.CreateFormFile("file", name)
		fw.Write(content)
		w.Close()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, form.URL, &b)
		req.Header.Set("Content-Type", w.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(rb)
	}
	if c, b := post("photo.txt", []byte("posted by a browser form")); c/100 != 2 {
		t.Fatalf("multipart POST with the form: %d %s", c, b)
	}
	if got := mp.object(t, "incoming/photo.txt"); got != "posted by a browser form" {
		t.Fatalf("uploaded object = %q", got)
	}
	if c, _ := post("big.bin", bytes.Repeat([]byte("x"), 2000)); c/100 == 2 {
		t.Error("a 2000-byte file passed the form's --max-size 1024")
	}

	// --curl FILE: a command line that uploads FILE as it stands.
	if _, err := exec.LookPath("curl"); err != nil {
		testpeer.Missing(t, "curl not installed")
		return
	}
	file := filepath.Join(t.TempDir(), `it's a file; type=x.txt`)
	if err := os.WriteFile(file, []byte("uploaded by the printed curl line"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runRolehop(t, env, "presign", "--post", "s3://"+presignBucket+"/curl/", "--curl", file)
	if code != 0 || errOut != "" {
		t.Fatalf("presign --post --curl: exit %d, stderr %q", code, errOut)
	}
	if !strings.HasPrefix(out, "curl ") || strings.Count(out, "\n") != 1 {
		t.Fatalf("--curl output is not one curl command line: %q", out)
	}
	sh := exec.Command("/bin/sh", "-c", out)
	sh.Env = testpeer.ProcEnv(t)
	if b, err := sh.CombinedOutput(); err != nil {
		t.Fatalf("running the printed curl line: %v %s", err, b)
	}
	if got := mp.object(t, "curl/it's a file; type=x.txt"); got != "uploaded by the printed curl line" {
		t.Fatalf("object uploaded by curl = %q", got)
	}
}

func TestPresignBadInput(t *testing.T) {
	env := testpeer.ProcEnv(t, "AWS_ACCESS_KEY_ID=AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY=secret-do-not-print", "AWS_REGION=us-east-1")
	for _, tc := range []struct {
		name string
		args []string
		want string // in the one-line message
		code int
	}{
		{"expiry over 7 days", []string{"presign", "s3://bucket/key", "--expires", "8d"}, "7 days", 2},
		{"expiry over 7 days in hours", []string{"presign", "s3://bucket/key", "--expires", "169h"}, "7 days", 2},
		{"unparsable expiry", []string{"presign", "s3://bucket/key", "--expires", "soon"}, "15m, 12h or 7d", 2},
		{"negative expiry", []string{"presign", "s3://bucket/key", "--expires", "-5m"}, "use a positive lifetime", 2},
		{"zero expiry", []string{"presign", "s3://bucket/key", "--expires", "0"}, "use a positive lifetime", 2},
		{"non-ASCII bucket", []string{"presign", "s3://bücket/key"}, `bucket name has 'ü'`, 2},
		{"not s3 scheme", []string{"presign", "https://bucket/key"}, "s3://", 2},
		{"one slash", []string{"presign", "s3:/bucket/key"}, "s3://", 2},
		{"no key", []string{"presign", "s3://bucket"}, "no object key", 2},
		{"upper-case bucket", []string{"presign", "s3://My_Bucket/key"}, "bucket name", 2},
		{"no target", []string{"presign"}, "no S3 URL", 2},
		{"bad method", []string{"presign", "s3://bucket/key", "--method", "DELETE"}, "GET or PUT", 2},
		{"post prefix malformed", []string{"presign", "--post", "s3://x/"}, "bucket name", 2},
		{"post zero size", []string{"presign", "--post", "s3://bucket/p/", "--max-size", "0"}, "--max-size", 2},
		{"url and post", []string{"presign", "s3://bucket/key", "--post", "s3://bucket/p/"}, "not both", 2},
		{"curl without post", []string{"presign", "s3://bucket/key", "--curl", "f"}, "--post only", 2},
		{"two profiles", []string{"presign", "a", "b", "s3://bucket/key"}, "at most one profile", 2},
		{"unknown profile", []string{"presign", "nosuch", "s3://bucket/key"}, `"nosuch" not found`, 2},
		{"bad endpoint", []string{"presign", "s3://bucket/key", "--endpoint-url", "127.0.0.1:9000"}, "--endpoint-url", 2},
		{"no credentials", []string{"presign", "s3://bucket/key"}, "no AWS credentials found", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := env
			if tc.name == "no credentials" {
				env = testpeer.ProcEnv(t)
			}
			out, errOut, code := runRolehop(t, env, tc.args...)
			if code != tc.code || out != "" {
				t.Fatalf("exit %d (want %d), stdout %q (want empty), stderr %q", code, tc.code, out, errOut)
			}
			if !strings.HasPrefix(errOut, "rolehop: ") || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("stderr = %q; want one line with %q", errOut, tc.want)
			}
			if strings.Contains(errOut, "secret-do-not-print") {
				t.Error("the secret key appears on stderr")
			}
		})
	}
}

func TestLifetimeFlag(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"15m": 15 * time.Minute, "7d": 7 * 24 * time.Hour, "1.5d": 36 * time.Hour, "3600": time.Hour, "0": 0,
	} {
		var f lifetimeFlag
		if err := f.Set(in); err != nil || f.d != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, f.d, err, want)
		}
	}
	for _, in := range []string{"", "d", "-1d", "x", "99999d"} {
		var f lifetimeFlag
		if err := f.Set(in); err == nil {
			t.Errorf("Set(%q) accepted: %v", in, f.d)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"plain", "a b", "it's", "${filename}", `"$(id)"`, "", "a\nb"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) = %s; sh printed %q (%v)", s, shellQuote(s), out, err)
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1h", 14*time.Minute + 59*time.Second: "14m59s",
		150 * time.Minute: "2h30m", 168 * time.Hour: "168h", 45 * time.Second: "45s", 10 * time.Minute: "10m"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// A rolehop source profile (credential_process = rolehop credential-process)
// works through the SDK path: the base is MinIO's root user, the hop is a
// MinIO STS AssumeRole of 15 minutes, and the URL is capped at its expiry.
func TestPresignWithRolehopSourceProfile(t *testing.T) {
	m := testpeer.NewMinIO(t)
	c := s3.NewFromConfig(m.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(presignBucket)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(presignBucket), Key: aws.String("hop.txt"),
		Body: strings.NewReader("via a rolehop source")}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgFile, credFile := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	conf := "[profile base]\nregion = us-east-1\n\n[profile prod]\n" +
		"credential_process = " + rolehopBinary(t) + " credential-process --profile prod\n" +
		"rolehop_base = base\nrolehop_role_arn = arn:aws:iam::111111111111:role/Any\nrolehop_duration = 15m\nregion = us-east-1\n"
	creds := "[base]\naws_access_key_id = " + m.RootUser + "\naws_secret_access_key = " + m.RootPassword + "\n"
	if err := os.WriteFile(cfgFile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(credFile, []byte(creds), 0o600); err != nil {
		t.Fatal(err)
	}
	env := testpeer.ProcEnv(t, "AWS_CONFIG_FILE="+cfgFile, "AWS_SHARED_CREDENTIALS_FILE="+credFile,
		"AWS_ENDPOINT_URL_STS="+m.Endpoint, "AWS_ENDPOINT_URL_S3="+m.Endpoint, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"))

	out, errOut, code := runRolehop(t, env, "presign", "prod", "s3://"+presignBucket+"/hop.txt", "--expires", "1h")
	if code != 0 {
		t.Fatalf("presign prod: exit %d, stderr %q", code, errOut)
	}
	u := oneURL(t, out)
	q := u.Query()
	exp, _ := strconv.Atoi(q.Get("X-Amz-Expires"))
	if q.Get("X-Amz-Security-Token") == "" || exp > 900 || exp < 600 {
		t.Errorf("URL: token present %v, X-Amz-Expires %d; want MinIO's session token and the 15m hop's remaining life",
			q.Has("X-Amz-Security-Token"), exp)
	}
	if !strings.Contains(errOut, "only until the credentials") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("stderr = %q; want one cap notice", errOut)
	}
	if c, b := httpDo(t, http.MethodGet, u.String(), nil); c != http.StatusOK || b != "via a rolehop source" {
		t.Fatalf("GET of the URL: %d %q", c, b)
	}
}
