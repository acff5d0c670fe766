package broker_test

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/internal/fedfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// teeSTS is the broker's HTTP transport to a real STS (MinIO): it passes
// every request through and, for AssumeRole answers, hands the issued
// credentials to the federation fake (AWS's federation endpoint accepts
// any STS session; the fake must be told) and keeps them for the test.
type teeSTS struct {
	fed   *fedfake.Server
	mu    sync.Mutex
	forms []url.Values
	creds []aws.Credentials
}

func (tt *teeSTS) RoundTrip(r *http.Request) (*http.Response, error) {
	var form url.Values
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		form, _ = url.ParseQuery(string(b))
	}
	resp, err := http.DefaultTransport.RoundTrip(r)
	if err != nil || form.Get("Action") != "AssumeRole" || resp.StatusCode != http.StatusOK {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	var out assumeRoleXML
	if err := xml.Unmarshal(b, &out); err == nil {
		c := aws.Credentials{AccessKeyID: out.Creds.AccessKeyID, SecretAccessKey: out.Creds.SecretAccessKey,
			SessionToken: out.Creds.SessionToken, CanExpire: true, Expires: out.Creds.Expiration}
		tt.fed.Accept(c, fedfake.Role)
		tt.mu.Lock()
		tt.forms, tt.creds = append(tt.forms, form), append(tt.creds, c)
		tt.mu.Unlock()
	}
	return resp, nil
}

// TestMinIOAssumeRole: the broker's AssumeRole against a real STS (MinIO),
// with an IAM user's long-term keys: a first-hop 2h session named after
// the user, whose credentials work on MinIO's S3, and a console session of
// the same length.
func TestMinIOAssumeRole(t *testing.T) {
	m := testpeer.NewMinIO(t)
	m.AddUser(t, "broker-user", "broker-user-secret", "readwrite")
	var tee *teeSTS
	h := newHarness(t, harnessOptions{baseCfg: func(h *harness) aws.Config {
		tee = &teeSTS{fed: h.fed}
		return aws.Config{
			Region:       m.Region,
			Credentials:  credentials.NewStaticCredentialsProvider("broker-user", "broker-user-secret", ""),
			BaseEndpoint: aws.String(m.Endpoint),
			HTTPClient:   &http.Client{Transport: tee},
		}
	}})
	b := h.browser()
	h.login(b, "alice@example.org", "admins")
	r := b.nav(h.url + "/prod-admin")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), h.fed.URL) {
		t.Fatalf("open prod-admin through MinIO: %d\n%s", r.StatusCode, lastLines(h.logs.String(), 5))
	}
	tee.mu.Lock()
	forms, creds := tee.forms, tee.creds
	tee.mu.Unlock()
	if len(forms) != 1 {
		t.Fatalf("%d AssumeRole calls reached MinIO, want 1", len(forms))
	}
	if f := forms[0]; f.Get("RoleSessionName") != "alice@example.org" || f.Get("SourceIdentity") != "alice@example.org" || f.Get("DurationSeconds") != "7200" {
		t.Errorf("AssumeRole form %v", f)
	}
	if sr := h.fed.SigninTokenRequests(); len(sr) != 1 || sr[0].SessionDuration != "7200" {
		t.Errorf("getSigninToken %+v, want SessionDuration 7200", sr)
	}
	if left := time.Until(creds[0].Expires); creds[0].SessionToken == "" || left < 110*time.Minute || left > 121*time.Minute {
		t.Fatalf("MinIO issued a session of %v left, want 2h", left)
	}
	s3c := s3.NewFromConfig(aws.Config{Region: m.Region, BaseEndpoint: aws.String(m.Endpoint),
		Credentials: credentials.StaticCredentialsProvider{Value: creds[0]}}, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.ListBuckets(t.Context(), &s3.ListBucketsInput{}); err != nil {
		t.Fatalf("the role session MinIO issued does not work on S3: %v", err)
	}
}
