package presign_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/presign"
)

var t0 = time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)

func tempConfig(expires time.Time) aws.Config {
	return aws.Config{
		Region: "eu-west-1",
		Credentials: credentials.StaticCredentialsProvider{Value: aws.Credentials{
			AccessKeyID: "ASIAEXAMPLE", SecretAccessKey: "secretSECRET", SessionToken: "tokenTOKEN",
			CanExpire: true, Expires: expires,
		}},
	}
}

func TestParseS3URL(t *testing.T) {
	for in, want := range map[string][2]string{
		"s3://my-bucket/key":             {"my-bucket", "key"},
		"s3://my.bucket.1/a/b/c d.txt":   {"my.bucket.1", "a/b/c d.txt"},
		"s3://abc/dir/":                  {"abc", "dir/"},
		"s3://abc/?x=1#frag is the key?": {"abc", "?x=1#frag is the key?"},
	} {
		b, k, err := presign.ParseS3URL(in)
		if err != nil || b != want[0] || k != want[1] {
			t.Errorf("ParseS3URL(%q) = %q, %q, %v", in, b, k, err)
		}
	}
	for _, in := range []string{
		"", "my-bucket/key", "s3:/my-bucket/key", "S3://my-bucket/key", "https://my-bucket/key", "s3://",
		"s3://my-bucket", "s3://my-bucket/", "s3:///key", "s3://ab/key", "s3://My-Bucket/key", "s3://-bucket/key",
		"s3://bucket-/key", "s3://bu..cket/key", "s3://bucket_x/key", "s3://" + strings.Repeat("a", 64) + "/k",
	} {
		if _, _, err := presign.ParseS3URL(in); !errors.Is(err, presign.ErrS3URL) {
			t.Errorf("ParseS3URL(%q) err = %v, want ErrS3URL", in, err)
		}
	}
	if b, p, err := presign.ParseS3Prefix("s3://bucket"); err != nil || b != "bucket" || p != "" {
		t.Errorf("ParseS3Prefix(s3://bucket) = %q %q %v", b, p, err)
	}
	if b, p, err := presign.ParseS3Prefix("s3://bucket/up/"); err != nil || b != "bucket" || p != "up/" {
		t.Errorf("ParseS3Prefix = %q %q %v", b, p, err)
	}
	if _, _, err := presign.ParseS3Prefix("bucket/up/"); !errors.Is(err, presign.ErrS3URL) {
		t.Errorf("ParseS3Prefix without scheme: %v", err)
	}
}

func TestExpiryRules(t *testing.T) {
	now := func() time.Time { return t0 }
	var logb bytes.Buffer
	opts := presign.Options{Now: now, Logger: slog.New(slog.NewTextHandler(&logb, nil))}
	cfg := tempConfig(t0.Add(time.Hour))

	r, err := presign.GetURL(t.Context(), cfg, "bucket", "k", 30*time.Minute, opts)
	if err != nil || r.Capped || r.Expires != 30*time.Minute || xAmzExpires(t, r.URL) != "1800" {
		t.Fatalf("30m within 1h credentials: %+v %v", r, err)
	}
	r, err = presign.GetURL(t.Context(), cfg, "bucket", "k", 0, opts)
	if err != nil || r.Expires != presign.DefaultExpires || xAmzExpires(t, r.URL) != "900" {
		t.Fatalf("default expiry: %+v %v", r, err)
	}
	r, err = presign.PutURL(t.Context(), cfg, "bucket", "k", 6*24*time.Hour, opts)
	if err != nil || !r.Capped || r.Expires != time.Hour || xAmzExpires(t, r.URL) != "3600" ||
		!strings.Contains(r.Reason, "2026-11-22T16:00:00Z") {
		t.Fatalf("6 days with 1h credentials: %+v %v", r, err)
	}
	if !strings.Contains(logb.String(), "capped") || strings.Contains(logb.String(), "SECRET") || strings.Contains(logb.String(), "TOKEN") {
		t.Fatalf("log: %s", logb.String())
	}
	f, err := presign.PostForm(t.Context(), cfg, "bucket", "up/", 2*time.Hour, 10, opts)
	if err != nil || !f.Capped || f.Expires != time.Hour {
		t.Fatalf("form with 1h credentials: %+v %v", f, err)
	}
	if _, err := presign.GetURL(t.Context(), cfg, "bucket", "k", 7*24*time.Hour+time.Second, opts); !errors.Is(err, presign.ErrExpires) {
		t.Fatalf("over 7 days: %v", err)
	}
	if _, err := presign.GetURL(t.Context(), cfg, "bucket", "k", -time.Second, opts); !errors.Is(err, presign.ErrExpires) {
		t.Fatalf("negative: %v", err)
	}
	if _, err := presign.GetURL(t.Context(), tempConfig(t0.Add(-time.Minute)), "bucket", "k", time.Minute, opts); !errors.Is(err, presign.ErrCredentialsExpired) {
		t.Fatalf("expired credentials: %v", err)
	}
	if _, err := presign.GetURL(t.Context(), cfg, "BAD", "k", time.Minute, opts); !errors.Is(err, presign.ErrInput) {
		t.Fatalf("bad bucket: %v", err)
	}
	if _, err := presign.PostForm(t.Context(), cfg, "bucket", "", time.Minute, 0, opts); !errors.Is(err, presign.ErrInput) {
		t.Fatalf("zero max size: %v", err)
	}
}

// TestSignsWithTheCheckedCredentials: a provider that rotates on every
// Retrieve must not make rolehop check one credential and sign with another.
func TestSignsWithTheCheckedCredentials(t *testing.T) {
	n := 0
	cfg := aws.Config{Region: "us-east-1", Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		n++
		exp := t0.Add(time.Duration(n) * time.Hour) // first: 1h, later: more
		return aws.Credentials{AccessKeyID: "ASIAKEY" + string(rune('0'+n)), SecretAccessKey: "s", SessionToken: "t",
			CanExpire: true, Expires: exp}, nil
	})}
	r, err := presign.GetURL(t.Context(), cfg, "bucket", "k", 2*time.Hour, presign.Options{Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("credentials retrieved %d times, want 1", n)
	}
	u, _ := url.Parse(r.URL)
	if !strings.HasPrefix(u.Query().Get("X-Amz-Credential"), "ASIAKEY1/") || !r.Capped || r.Expires != time.Hour {
		t.Fatalf("signed with %s, capped %v to %v", u.Query().Get("X-Amz-Credential"), r.Capped, r.Expires)
	}
}

func xAmzExpires(t *testing.T, u string) string {
	t.Helper()
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query().Get("X-Amz-Expires")
}

func benchConfig() aws.Config {
	cfg := tempConfig(time.Now().Add(time.Hour))
	cfg.BaseEndpoint = aws.String("http://127.0.0.1:9000")
	return cfg
}

// BenchmarkPresignGet: rolehop's Presigner (credential check and cap
// included) on one reused client.
func BenchmarkPresignGet(b *testing.B) {
	p := presign.New(benchConfig(), presign.Options{UsePathStyle: true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.GetURL(ctx, "bucket", "some/key.txt", 10*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSDKPresignGet: the bare SDK presign client, the same request.
func BenchmarkSDKPresignGet(b *testing.B) {
	pc := s3.NewPresignClient(s3.NewFromConfig(benchConfig(), func(o *s3.Options) { o.UsePathStyle = true }))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("some/key.txt")},
			s3.WithPresignExpires(10*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPresignGetOneShot: the package function, which builds a client
// per call (what a CLI invocation does once).
func BenchmarkPresignGetOneShot(b *testing.B) {
	cfg := benchConfig()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := presign.GetURL(ctx, cfg, "bucket", "some/key.txt", 10*time.Minute, presign.Options{UsePathStyle: true}); err != nil {
			b.Fatal(err)
		}
	}
}
