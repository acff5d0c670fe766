// Package presign makes presigned S3 requests (GET and PUT URLs, and
// browser POST upload forms) that respect temporary credentials.
//
// Everything is signed by the AWS SDK: URLs by s3.PresignClient
// (PresignGetObject, PresignPutObject, SigV4 query signing, which carries
// X-Amz-Security-Token when the credentials have a session token), forms by
// s3.PresignClient.PresignPostObject, whose policy document holds the
// bucket, x-amz-algorithm, x-amz-credential, x-amz-date and, for temporary
// credentials, x-amz-security-token conditions, and whose x-amz-signature is
// SigV4's derived-key HMAC of the base64 policy. No signing code lives in
// this package.
//
// A presigned request dies with the credentials that signed it, whatever
// its X-Amz-Expires says. So the credentials are retrieved once, the
// requested lifetime is capped at their remaining life (and must not exceed
// S3's limit of 7 days), the same credentials sign the request, and the
// Result says when and why the lifetime was capped.
package presign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxExpires is S3's limit for a SigV4 presigned request: 7 days.
const MaxExpires = 7 * 24 * time.Hour

// DefaultExpires is used when expires is 0.
const DefaultExpires = 15 * time.Minute

var (
	// ErrExpires: the requested lifetime is negative or over 7 days.
	ErrExpires = errors.New("presign: invalid expiry")
	// ErrCredentialsExpired: the credentials have (almost) expired; there
	// is nothing left to sign with.
	ErrCredentialsExpired = errors.New("presign: credentials expired")
	// ErrS3URL: a malformed s3://bucket/key URL.
	ErrS3URL = errors.New("presign: malformed s3 URL")
	// ErrInput: an empty bucket or key, or a bad size.
	ErrInput = errors.New("presign: invalid input")
)

// Options tune presigning. The zero value is virtual-hosted-style
// addressing, the wall clock and no logging.
type Options struct {
	// UsePathStyle addresses buckets as endpoint/bucket/key (MinIO, most
	// custom endpoints) instead of bucket.endpoint/key.
	UsePathStyle bool
	// ContentType, for PutURL, is signed into the URL: the uploader must
	// send the same Content-Type header.
	ContentType string
	// Now is the clock used to compute the credentials' remaining life;
	// nil means time.Now.
	Now func() time.Time
	// Logger receives a notice when a lifetime is capped; nil discards.
	Logger *slog.Logger
}

// Result is a presigned request.
type Result struct {
	URL    string
	Method string
	// Header holds the headers that were signed and must be sent with the
	// request (Host is set by HTTP clients themselves).
	Header http.Header
	// Expires is the lifetime actually signed (X-Amz-Expires).
	Expires time.Duration
	// Capped is true when Expires is shorter than requested because the
	// credentials expire sooner; Reason says so in words.
	Capped bool
	Reason string
}

// Form is a presigned browser upload (HTTP POST, multipart/form-data):
// send every field, then the file as the last part named "file".
type Form struct {
	URL    string
	Fields map[string]string
	// Expires is the policy's lifetime; Capped and Reason as in Result.
	Expires time.Duration
	Capped  bool
	Reason  string
}

// ParseS3URL splits s3://bucket/key. The bucket must follow S3's naming
// rules (3-63 characters of lower-case letters, digits, '.' and '-',
// starting and ending with a letter or digit) and the key must not be
// empty. Nothing after the key is interpreted: no query or fragment.
func ParseS3URL(s string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w %q: it must start with s3://, as in s3://bucket/key", ErrS3URL, s)
	}
	bucket, key, ok = strings.Cut(rest, "/")
	if !ok || key == "" {
		return "", "", fmt.Errorf("%w %q: no object key; use s3://bucket/key", ErrS3URL, s)
	}
	if err := checkBucket(bucket); err != nil {
		return "", "", fmt.Errorf("%w %q: %s", ErrS3URL, s, err.Error())
	}
	if len(key) > 1024 {
		return "", "", fmt.Errorf("%w: key longer than 1024 bytes", ErrS3URL)
	}
	return bucket, key, nil
}

// ParseS3Prefix splits s3://bucket/prefix for PostForm; the prefix may be
// empty (s3://bucket or s3://bucket/).
func ParseS3Prefix(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w %q: it must start with s3://, as in s3://bucket/prefix/", ErrS3URL, s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if err := checkBucket(bucket); err != nil {
		return "", "", fmt.Errorf("%w %q: %s", ErrS3URL, s, err.Error())
	}
	return bucket, prefix, nil
}

func checkBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return errors.New("bucket name must be 3 to 63 characters")
	}
	for _, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return fmt.Errorf("bucket name has %q; use lower-case letters, digits, '.' and '-'", c)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) {
		return errors.New("bucket name must start and end with a letter or digit")
	}
	if strings.Contains(b, "..") {
		return errors.New("bucket name must not contain '..'")
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// Presigner presigns requests with one aws.Config. Reuse it for many URLs:
// it holds one S3 client. It is safe for concurrent use.
type Presigner struct {
	cfg    aws.Config
	opts   Options
	s3     *s3.Client
	client *s3.PresignClient
}

// New returns a Presigner for cfg (its Credentials, Region and endpoint).
func New(cfg aws.Config, opts Options) *Presigner {
	c := s3.NewFromConfig(cfg, func(o *s3.Options) { o.UsePathStyle = opts.UsePathStyle })
	return &Presigner{cfg: cfg, opts: opts, s3: c, client: s3.NewPresignClient(c)}
}

// GetURL is New(cfg, opts).GetURL.
func GetURL(ctx context.Context, cfg aws.Config, bucket, key string, expires time.Duration, opts Options) (Result, error) {
	return New(cfg, opts).GetURL(ctx, bucket, key, expires)
}

// PutURL is New(cfg, opts).PutURL.
func PutURL(ctx context.Context, cfg aws.Config, bucket, key string, expires time.Duration, opts Options) (Result, error) {
	return New(cfg, opts).PutURL(ctx, bucket, key, expires)
}

// PostForm is New(cfg, opts).PostForm.
func PostForm(ctx context.Context, cfg aws.Config, bucket, prefix string, expires time.Duration, maxSize int64, opts Options) (Form, error) {
	return New(cfg, opts).PostForm(ctx, bucket, prefix, expires, maxSize)
}

// signing is one presign operation: the credentials retrieved once and the
// capped lifetime.
type signing struct {
	expires time.Duration
	capped  bool
	reason  string
	// useCreds makes the SDK sign with exactly the credentials whose
	// expiry was checked.
	useCreds func(*s3.Options)
}

func (p *Presigner) prepare(ctx context.Context, expires time.Duration) (*signing, error) {
	switch {
	case expires < 0:
		return nil, fmt.Errorf("%w: %v is negative; use a duration up to 7 days", ErrExpires, expires)
	case expires > MaxExpires:
		return nil, fmt.Errorf("%w: %v is over S3's limit of 7 days (168h); use a shorter one", ErrExpires, expires)
	case expires == 0:
		expires = DefaultExpires
	}
	if p.cfg.Credentials == nil {
		return nil, fmt.Errorf("presign: the AWS config has no credentials; load a profile first")
	}
	creds, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, fmt.Errorf("presign: retrieving credentials: %w", err)
	}
	s := &signing{expires: expires}
	if creds.CanExpire {
		now := time.Now
		if p.opts.Now != nil {
			now = p.opts.Now
		}
		left := creds.Expires.Sub(now()).Truncate(time.Second)
		if left < time.Second {
			return nil, fmt.Errorf("%w at %s; refresh them (log in again) and retry",
				ErrCredentialsExpired, creds.Expires.UTC().Format(time.RFC3339))
		}
		if left < expires {
			s.reason = fmt.Sprintf("lifetime capped from %v to %v: the credentials that sign it expire at %s",
				expires, left, creds.Expires.UTC().Format(time.RFC3339))
			s.expires, s.capped = left, true
			if p.opts.Logger != nil {
				p.opts.Logger.Info("presign: "+s.reason, "requested", expires.String(), "signed", left.String())
			}
		}
	}
	static := credentials.StaticCredentialsProvider{Value: creds}
	s.useCreds = func(o *s3.Options) { o.Credentials = static }
	return s, nil
}

func checkObject(bucket, key string) error {
	if err := checkBucket(bucket); err != nil {
		return fmt.Errorf("%w: bucket %q: %s", ErrInput, bucket, err.Error())
	}
	if key == "" {
		return fmt.Errorf("%w: empty object key", ErrInput)
	}
	return nil
}

// GetURL presigns a GET of s3://bucket/key valid for expires (0 = 15
// minutes), capped at the credentials' remaining life.
func (p *Presigner) GetURL(ctx context.Context, bucket, key string, expires time.Duration) (Result, error) {
	if err := checkObject(bucket, key); err != nil {
		return Result{}, err
	}
	s, err := p.prepare(ctx, expires)
	if err != nil {
		return Result{}, err
	}
	req, err := p.client.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)},
		s3.WithPresignExpires(s.expires), s3.WithPresignClientFromClientOptions(s.useCreds))
	if err != nil {
		return Result{}, fmt.Errorf("presign: GET s3://%s/%s: %w", bucket, key, err)
	}
	return s.result(req.URL, req.Method, req.SignedHeader), nil
}

// PutURL presigns a PUT to s3://bucket/key valid for expires (0 = 15
// minutes), capped at the credentials' remaining life.
func (p *Presigner) PutURL(ctx context.Context, bucket, key string, expires time.Duration) (Result, error) {
	if err := checkObject(bucket, key); err != nil {
		return Result{}, err
	}
	s, err := p.prepare(ctx, expires)
	if err != nil {
		return Result{}, err
	}
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if p.opts.ContentType != "" {
		in.ContentType = aws.String(p.opts.ContentType)
	}
	req, err := p.client.PresignPutObject(ctx, in, s3.WithPresignExpires(s.expires), s3.WithPresignClientFromClientOptions(s.useCreds))
	if err != nil {
		return Result{}, fmt.Errorf("presign: PUT s3://%s/%s: %w", bucket, key, err)
	}
	return s.result(req.URL, req.Method, req.SignedHeader), nil
}

func (s *signing) result(u, method string, signed http.Header) Result {
	h := http.Header{}
	for k, v := range signed {
		if !strings.EqualFold(k, "Host") {
			h[k] = append([]string(nil), v...)
		}
	}
	return Result{URL: u, Method: method, Header: h, Expires: s.expires, Capped: s.capped, Reason: s.reason}
}

// PostForm presigns a browser upload form for any file name under
// s3://bucket/prefix: the key field is prefix + "${filename}" (S3 puts the
// uploaded file's name there), and the signed policy allows keys starting
// with prefix and sizes from 0 to maxSize bytes (maxSize > 0), for expires
// (0 = 15 minutes) capped at the credentials' remaining life.
func (p *Presigner) PostForm(ctx context.Context, bucket, prefix string, expires time.Duration, maxSize int64) (Form, error) {
	if err := checkBucket(bucket); err != nil {
		return Form{}, fmt.Errorf("%w: bucket %q: %s", ErrInput, bucket, err.Error())
	}
	if maxSize <= 0 {
		return Form{}, fmt.Errorf("%w: max size %d; use a positive number of bytes", ErrInput, maxSize)
	}
	s, err := p.prepare(ctx, expires)
	if err != nil {
		return Form{}, err
	}
	// PresignPostObject ignores PresignPostOptions.ClientOptions (it uses
	// the presign client's), so the credentials go on a per-call client.
	pc := s3.NewPresignClient(p.s3, func(o *s3.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, s.useCreds)
	})
	req, err := pc.PresignPostObject(ctx,
		&s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(prefix + "${filename}")},
		func(o *s3.PresignPostOptions) {
			o.Expires = s.expires
			o.Conditions = []any{
				[]any{"starts-with", "$key", prefix},
				[]any{"content-length-range", 0, maxSize},
			}
		})
	if err != nil {
		return Form{}, fmt.Errorf("presign: POST form for s3://%s/%s: %w", bucket, prefix, err)
	}
	fields := make(map[string]string, len(req.Values))
	for k, v := range req.Values {
		fields[k] = v
	}
	return Form{URL: req.URL, Fields: fields, Expires: s.expires, Capped: s.capped, Reason: s.reason}, nil
}
