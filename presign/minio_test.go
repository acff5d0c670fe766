package presign_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/presign"
)

const bucket = "presign-test"

// minioTemp starts MinIO, creates the test bucket with the root keys and
// returns configs with root (long-term) and MinIO-STS temporary (15 min)
// credentials.
func minioTemp(t *testing.T) (m *testpeer.MinIO, root, temp aws.Config) {
	t.Helper()
	m = testpeer.NewMinIO(t)
	root = m.Config()
	s3c := s3.NewFromConfig(root, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	temp = m.Config()
	temp.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(sts.NewFromConfig(root),
		"arn:aws:iam::123456789012:role/presign-test", func(o *stscreds.AssumeRoleOptions) {
			o.Duration = 15 * time.Minute
			o.RoleSessionName = "presign-test"
		}))
	c, err := temp.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("MinIO STS AssumeRole: %v", err)
	}
	if c.SessionToken == "" || !c.CanExpire {
		t.Fatalf("MinIO STS gave no temporary credentials: token %v, expires %v", c.SessionToken != "", c.CanExpire)
	}
	return m, root, temp
}

func do(t *testing.T, method, u string, h http.Header, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// curl is the path of curl, a peer (Debian package curl): missing, it
// fails the test under CI=true and skips it otherwise (testpeer.Missing).
func curl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("curl")
	if err != nil {
		testpeer.Missing(t, "curl is not installed (Debian package curl): %v", err)
	}
	return p
}

// tamper changes one character of query parameter name in u.
func tamper(t *testing.T, u, name string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	v := q.Get(name)
	if v == "" {
		t.Fatalf("URL has no %s", name)
	}
	i := len(v) / 2
	c := byte('a')
	if v[i] == 'a' {
		c = 'b'
	}
	q.Set(name, v[:i]+string(c)+v[i+1:])
	pu.RawQuery = q.Encode()
	return pu.String()
}

func TestAgainstMinIO(t *testing.T) {
	_, root, temp := minioTemp(t)
	opts := presign.Options{UsePathStyle: true}
	body := []byte("hello from a presigned PUT\n")

	t.Run("put and get with temporary credentials", func(t *testing.T) {
		put, err := presign.PutURL(t.Context(), temp, bucket, "dir/obj one.txt", time.Hour, opts)
		if err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(put.URL)
		q := pu.Query()
		if q.Get("X-Amz-Security-Token") == "" {
			t.Fatalf("presigned URL lacks X-Amz-Security-Token: %s", put.URL)
		}
		// The credentials live 15 minutes: a 1h request is capped, and the
		// cap is what X-Amz-Expires says.
		exp, _ := strconv.Atoi(q.Get("X-Amz-Expires"))
		if !put.Capped || put.Reason == "" || exp > 900 || exp < 800 || time.Duration(exp)*time.Second != put.Expires {
			t.Fatalf("capped=%v reason=%q X-Amz-Expires=%d Expires=%v; want capped at the credentials' ~900s",
				put.Capped, put.Reason, exp, put.Expires)
		}
		if put.Method != http.MethodPut {
			t.Fatalf("method %s", put.Method)
		}
		if code, b := do(t, put.Method, put.URL, put.Header, body); code != 200 {
			t.Fatalf("presigned PUT: %d %s", code, b)
		}
		get, err := presign.GetURL(t.Context(), temp, bucket, "dir/obj one.txt", 10*time.Minute, opts)
		if err != nil {
			t.Fatal(err)
		}
		if get.Capped {
			t.Fatalf("10m request with ~15m credentials was capped: %s", get.Reason)
		}
		if code, b := do(t, http.MethodGet, get.URL, get.Header, nil); code != 200 || !bytes.Equal(b, body) {
			t.Fatalf("presigned GET: %d %q", code, b)
		}
		t.Run("curl", func(t *testing.T) {
			c := curl(t)
			p2, err := presign.PutURL(t.Context(), temp, bucket, "curl.txt", 5*time.Minute, opts)
			if err != nil {
				t.Fatal(err)
			}
			f := filepath.Join(t.TempDir(), "up.txt")
			os.WriteFile(f, []byte("via curl"), 0o600)
			if out, err := exec.Command(c, "-sS", "-f", "-X", "PUT", "--upload-file", f, p2.URL).CombinedOutput(); err != nil {
				t.Fatalf("curl PUT: %v %s", err, out)
			}
			g2, _ := presign.GetURL(t.Context(), temp, bucket, "curl.txt", 5*time.Minute, opts)
			out, err := exec.Command(c, "-sS", "-f", g2.URL).CombinedOutput()
			if err != nil || string(out) != "via curl" {
				t.Fatalf("curl GET: %v %q", err, out)
			}
		})
	})

	t.Run("tampering is refused", func(t *testing.T) {
		get, err := presign.GetURL(t.Context(), temp, bucket, "dir/obj one.txt", 5*time.Minute, opts)
		if err != nil {
			t.Fatal(err)
		}
		if code, _ := do(t, http.MethodGet, get.URL, nil, nil); code != 200 {
			t.Fatalf("untampered URL: %d", code)
		}
		for _, name := range []string{"X-Amz-Security-Token", "X-Amz-Signature"} {
			if code, _ := do(t, http.MethodGet, tamper(t, get.URL, name), nil, nil); code != http.StatusForbidden {
				t.Errorf("one character of %s changed: MinIO answered %d, want 403", name, code)
			}
		}
		pu, _ := url.Parse(get.URL)
		q := pu.Query()
		q.Del("X-Amz-Security-Token")
		pu.RawQuery = q.Encode()
		if code, _ := do(t, http.MethodGet, pu.String(), nil, nil); code != http.StatusForbidden {
			t.Errorf("token removed: MinIO answered %d, want 403", code)
		}
	})

	t.Run("long-term keys", func(t *testing.T) {
		get, err := presign.GetURL(t.Context(), root, bucket, "dir/obj one.txt", 7*24*time.Hour, opts)
		if err != nil {
			t.Fatal(err)
		}
		pu, _ := url.Parse(get.URL)
		if pu.Query().Has("X-Amz-Security-Token") || get.Capped || pu.Query().Get("X-Amz-Expires") != "604800" {
			t.Fatalf("long-term keys: %s capped=%v", get.URL, get.Capped)
		}
		if code, _ := do(t, http.MethodGet, get.URL, nil, nil); code != 200 {
			t.Fatalf("GET: %d", code)
		}
	})

	t.Run("post form", func(t *testing.T) {
		form, err := presign.PostForm(t.Context(), temp, bucket, "uploads/", 2*time.Hour, 1024, opts)
		if err != nil {
			t.Fatal(err)
		}
		if !form.Capped || form.Fields["key"] != "uploads/${filename}" || form.Fields["X-Amz-Security-Token"] == "" {
			t.Fatalf("form = %+v", form)
		}
		pol, err := base64.StdEncoding.DecodeString(form.Fields["policy"])
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Expiration string
			Conditions []any
		}
		if err := json.Unmarshal(pol, &doc); err != nil {
			t.Fatal(err)
		}
		cond, _ := json.Marshal(doc.Conditions)
		for _, want := range []string{`["starts-with","$key","uploads/"]`, `["content-length-range",0,1024]`,
			`{"bucket":"` + bucket + `"}`, `"X-Amz-Security-Token":`, `"X-Amz-Credential":`, `"X-Amz-Algorithm":"AWS4-HMAC-SHA256"`, `"X-Amz-Date":`} {
			if !strings.Contains(string(cond), want) {
				t.Errorf("policy conditions lack %s: %s", want, cond)
			}
		}
		post := func(fields map[string]string, filename string, content []byte) (int, string) {
			var b bytes.Buffer
			w := multipart.NewWriter(&b)
			for k, v := range fields {
				w.WriteField(k, v)
			}
			fw, _ := w.CreateFormFile("file", filename)
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
		if code, b := post(form.Fields, "report.txt", []byte("uploaded by a form")); code/100 != 2 {
			t.Fatalf("POST upload: %d %s", code, b)
		}
		s3c := s3.NewFromConfig(root, func(o *s3.Options) { o.UsePathStyle = true })
		obj, err := s3c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("uploads/report.txt")})
		if err != nil {
			t.Fatalf("uploaded object: %v", err)
		}
		got, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		if string(got) != "uploaded by a form" {
			t.Fatalf("uploaded content %q", got)
		}
		// Over max size: refused.
		if code, _ := post(form.Fields, "big.bin", bytes.Repeat([]byte("x"), 2048)); code/100 == 2 {
			t.Errorf("a 2048-byte file passed a 1024-byte content-length-range")
		}
		// Tampered token: refused.
		bad := map[string]string{}
		for k, v := range form.Fields {
			bad[k] = v
		}
		tok := bad["X-Amz-Security-Token"]
		bad["X-Amz-Security-Token"] = tok[:len(tok)/2] + "A" + tok[len(tok)/2+1:]
		if code, _ := post(bad, "t.txt", []byte("x")); code != http.StatusForbidden {
			t.Errorf("tampered token in a form: MinIO answered %d, want 403", code)
		}
		bad["X-Amz-Security-Token"] = tok
		sig := bad["X-Amz-Signature"]
		c := byte('0')
		if sig[0] == '0' {
			c = '1'
		}
		bad["X-Amz-Signature"] = string(c) + sig[1:]
		if code, _ := post(bad, "t.txt", []byte("x")); code != http.StatusForbidden {
			t.Errorf("one signature character changed in a form: MinIO answered %d, want 403", code)
		}
		t.Run("curl", func(t *testing.T) {
			c := curl(t)
			f := filepath.Join(t.TempDir(), "curl-upload.txt")
			os.WriteFile(f, []byte("curl -F upload"), 0o600)
			args := []string{"-sS", "-f"}
			for k, v := range form.Fields {
				args = append(args, "--form-string", k+"="+v)
			}
			args = append(args, "-F", "file=@"+f, form.URL)
			if out, err := exec.Command(c, args...).CombinedOutput(); err != nil {
				t.Fatalf("curl -F: %v %s", err, out)
			}
			if _, err := s3c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("uploads/curl-upload.txt")}); err != nil {
				t.Fatalf("curl upload not stored: %v", err)
			}
		})
	})

	t.Run("content type is signed", func(t *testing.T) {
		o := opts
		o.ContentType = "text/plain"
		put, err := presign.PutURL(t.Context(), temp, bucket, "typed.txt", 5*time.Minute, o)
		if err != nil {
			t.Fatal(err)
		}
		if put.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("signed headers %v", put.Header)
		}
		if code, b := do(t, http.MethodPut, put.URL, put.Header, []byte("typed")); code != 200 {
			t.Fatalf("PUT with the signed header: %d %s", code, b)
		}
		h := http.Header{"Content-Type": {"application/octet-stream"}}
		if code, _ := do(t, http.MethodPut, put.URL, h, []byte("typed")); code != http.StatusForbidden {
			t.Fatalf("PUT with another Content-Type: %d, want 403", code)
		}
	})
}
