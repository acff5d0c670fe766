package stsfake_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

const role = "arn:aws:iam::111111111111:role/Admin"

func client(srv *stsfake.Server, akid, secret, token string, fns ...func(*sts.Options)) *sts.Client {
	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(akid, secret, token),
		BaseEndpoint: aws.String(srv.URL),
	}
	return sts.NewFromConfig(cfg, fns...)
}

func noRetry(o *sts.Options) { o.RetryMaxAttempts = 1 }

func apiCode(t *testing.T, err error) string {
	t.Helper()
	var api smithy.APIError
	if !errors.As(err, &api) {
		t.Fatalf("want an STS API error, got %v", err)
	}
	return api.ErrorCode()
}

// signedPost sends body to srv signed (by the SDK's signer) with
// akid/secret/token for service and region; auth replaces the
// Authorization header when not empty ("-" sends none).
func signedPost(t *testing.T, srv *stsfake.Server, body, akid, secret, token, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if akid != "" {
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token},
			req, hex.EncodeToString(sum[:]), "sts", "us-east-1", time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	switch auth {
	case "":
	case "-":
		req.Header.Del("Authorization")
	default:
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const (
	msgInvalidToken = "The security token included in the request is invalid."
	msgSigMismatch  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

func TestWireFormat(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithoutTestKeys(), stsfake.WithKey("AKIAWIRE", "wire-secret"))
	post := func(body, auth string) (int, string) {
		return signedPost(t, srv, body, "AKIAWIRE", "wire-secret", "", auth)
	}
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {role}, "RoleSessionName": {"wire"}}.Encode()

	status, body := post(form, "-")
	if status != 403 || !strings.Contains(body, "<Code>MissingAuthenticationToken</Code>") {
		t.Errorf("no Authorization: got %d %s", status, body)
	}
	status, body = post(form, "AWS4-HMAC-SHA256 Credential=broken")
	if status != 400 || !strings.Contains(body, "<Code>IncompleteSignature</Code>") || !strings.Contains(body, "<Type>Sender</Type>") {
		t.Errorf("malformed Authorization: got %d %s", status, body)
	}
	status, body = post(form, "")
	for _, want := range []string{
		`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">`,
		"<AssumeRoleResult>", "<AccessKeyId>ASIA", "<SessionToken>", "<Expiration>",
		"<Arn>arn:aws:sts::111111111111:assumed-role/Admin/wire</Arn>", "<ResponseMetadata><RequestId>",
	} {
		if status != 200 || !strings.Contains(body, want) {
			t.Errorf("AssumeRole response %d lacks %q: %s", status, want, body)
		}
	}
	// A well-formed header whose signature was not made with the secret.
	status, body = post(form, "AWS4-HMAC-SHA256 Credential=AKIAWIRE/20260101/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("a", 64))
	if status != 403 || !strings.Contains(body, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(body, "<Message>"+msgSigMismatch+"</Message>") {
		t.Errorf("forged signature: got %d %s", status, body)
	}
	status, body = signedPost(t, srv, form, "AKIAUNKNOWN", "wire-secret", "", "")
	if status != 403 || !strings.Contains(body, "<Code>InvalidClientTokenId</Code>") || !strings.Contains(body, "<Message>"+msgInvalidToken+"</Message>") {
		t.Errorf("unknown key: got %d %s", status, body)
	}
	status, body = post(url.Values{"Action": {"AssumeRole"}, "Version": {"2010-01-01"}}.Encode(), "")
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("wrong Version: got %d %s", status, body)
	}
	srv.FailNext("GetCallerIdentity", 1, "ServiceUnavailable")
	status, body = post(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}.Encode(), "")
	if status != 503 || !strings.Contains(body, "<Type>Receiver</Type>") || !strings.Contains(body, "<ErrorResponse") {
		t.Errorf("ServiceUnavailable: got %d %s", status, body)
	}
}

// TestSignatureVerified: every signing path the library uses is refused
// with a wrong secret (AWS's SignatureDoesNotMatch, 403), and with an
// unknown key or a foreign session token (InvalidClientTokenId).
func TestSignatureVerified(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t, stsfake.WithoutTestKeys(), stsfake.WithKey("AKIAREAL", "real-secret"))
	assume := &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1")}
	check := func(name string, err error, code, msg string) {
		t.Helper()
		var re interface{ HTTPStatusCode() int }
		if err == nil {
			t.Errorf("%s: accepted", name)
			return
		}
		if got := apiCode(t, err); got != code || !strings.Contains(err.Error(), msg) || !errors.As(err, &re) || re.HTTPStatusCode() != 403 {
			t.Errorf("%s: got %v, want 403 %s", name, err, code)
		}
	}

	// AssumeRole with long-term keys.
	good := client(srv, "AKIAREAL", "real-secret", "", noRetry)
	out, err := good.AssumeRole(ctx, assume)
	if err != nil {
		t.Fatalf("right secret: %v", err)
	}
	_, err = client(srv, "AKIAREAL", "wrong-secret", "", noRetry).AssumeRole(ctx, assume)
	check("AssumeRole, base keys, wrong secret", err, "SignatureDoesNotMatch", msgSigMismatch)
	_, err = client(srv, "AKIANOBODY", "real-secret", "", noRetry).AssumeRole(ctx, assume)
	check("AssumeRole, unknown key", err, "InvalidClientTokenId", msgInvalidToken)
	_, err = client(srv, "AKIAREAL", "real-secret", "some-token", noRetry).AssumeRole(ctx, assume)
	check("long-term key with a session token", err, "InvalidClientTokenId", msgInvalidToken)

	// GetCallerIdentity.
	if _, err := good.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity: %v", err)
	}
	_, err = client(srv, "AKIAREAL", "wrong-secret", "", noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	check("GetCallerIdentity, wrong secret", err, "SignatureDoesNotMatch", msgSigMismatch)

	// AssumeRole chained with the issued temporary credentials.
	c := out.Credentials
	chained := &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::222222222222:role/Next"), RoleSessionName: aws.String("s2")}
	if _, err := client(srv, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken, noRetry).AssumeRole(ctx, chained); err != nil {
		t.Fatalf("chained with the issued credentials: %v", err)
	}
	_, err = client(srv, *c.AccessKeyId, *c.SecretAccessKey+"x", *c.SessionToken, noRetry).AssumeRole(ctx, chained)
	check("AssumeRole chained, wrong secret", err, "SignatureDoesNotMatch", msgSigMismatch)
	_, err = client(srv, *c.AccessKeyId, *c.SecretAccessKey, "", noRetry).AssumeRole(ctx, chained)
	check("issued key without its token", err, "InvalidClientTokenId", msgInvalidToken)
	other := srv.IssueCredentials(role, "other", time.Hour, 1)
	_, err = client(srv, *c.AccessKeyId, *c.SecretAccessKey, other.SessionToken, noRetry).AssumeRole(ctx, chained)
	check("issued key with another session's token", err, "InvalidClientTokenId", msgInvalidToken)

	// The body is covered: a request altered after signing is refused.
	form := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {role}, "RoleSessionName": {"s1"}}.Encode()
	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	sum := sha256.Sum256([]byte(form))
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: "AKIAREAL", SecretAccessKey: "real-secret"}, req,
		hex.EncodeToString(sum[:]), "sts", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	altered := strings.Replace(form, "role%2FAdmin", "role%2FRoot", 1)
	req.Body, req.ContentLength = io.NopCloser(strings.NewReader(altered)), int64(len(altered))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") {
		t.Errorf("body altered after signing: %d %s", resp.StatusCode, b)
	}
}

// TestTestKeysAccepted: the documented default key pairs sign; a default
// key with another secret does not.
func TestTestKeysAccepted(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t)
	for _, k := range stsfake.TestKeys {
		if _, err := client(srv, k.AccessKeyID, k.SecretAccessKey, "", noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
			t.Errorf("%s: %v", k.AccessKeyID, err)
		}
	}
	_, err := client(srv, "AKIABASE", "not-one-of-its-secrets", "", noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if apiCode(t, err) != "SignatureDoesNotMatch" {
		t.Errorf("default key, wrong secret: %v", err)
	}
	srv.AddKey("AKIALATER", "later-secret")
	if _, err := client(srv, "AKIALATER", "later-secret", "", noRetry).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("AddKey: %v", err)
	}
}

func TestAssumeRoleAndCallerIdentityThroughSDK(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t, stsfake.WithKey("AKIASTSFAKE", "stsfake-secret"))
	base := client(srv, "AKIASTSFAKE", "stsfake-secret", "")
	id, err := base.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(id.Account) != stsfake.DefaultAccount {
		t.Errorf("base account = %s", aws.ToString(id.Account))
	}
	out, err := base.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("s1"),
		SourceIdentity: aws.String("alice"), DurationSeconds: aws.Int32(7200)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || aws.ToString(c.SessionToken) == "" {
		t.Errorf("credentials look wrong: %s", aws.ToString(c.AccessKeyId))
	}
	if d := time.Until(*c.Expiration); d < 119*time.Minute || d > 121*time.Minute {
		t.Errorf("expiration in %v, want 2h", d)
	}
	if aws.ToString(out.SourceIdentity) != "alice" {
		t.Errorf("SourceIdentity = %q", aws.ToString(out.SourceIdentity))
	}
	if got := srv.ChainDepth(aws.ToString(c.AccessKeyId)); got != 1 {
		t.Errorf("ChainDepth = %d, want 1", got)
	}
	child := client(srv, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	id, err = child.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Arn); got != "arn:aws:sts::111111111111:assumed-role/Admin/s1" {
		t.Errorf("assumed role Arn = %s", got)
	}
	if aws.ToString(id.Account) != "111111111111" {
		t.Errorf("Account = %s", aws.ToString(id.Account))
	}

	// Role chaining: over 1h is refused, 1h works and the depth grows.
	role2 := "arn:aws:iam::222222222222:role/Next"
	_, err = child.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role2), RoleSessionName: aws.String("s2"), DurationSeconds: aws.Int32(3601)})
	if apiCode(t, err) != "ValidationError" || !strings.Contains(err.Error(), "1 hour session limit for roles assumed by role chaining") {
		t.Errorf("chained 3601s: %v", err)
	}
	out2, err := child.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(role2), RoleSessionName: aws.String("s2"), DurationSeconds: aws.Int32(3600)})
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.ChainDepth(aws.ToString(out2.Credentials.AccessKeyId)); got != 2 {
		t.Errorf("ChainDepth = %d, want 2", got)
	}
	if srv.Calls("AssumeRole") != 3 || srv.RoleCalls(role2) != 2 || srv.Calls("GetCallerIdentity") != 2 {
		t.Errorf("calls: AssumeRole %d, role2 %d, GetCallerIdentity %d", srv.Calls("AssumeRole"), srv.RoleCalls(role2), srv.Calls("GetCallerIdentity"))
	}

	// A wrong session token is refused.
	bad := client(srv, *c.AccessKeyId, *c.SecretAccessKey, "forged")
	if _, err := bad.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); apiCode(t, err) != "InvalidClientTokenId" {
		t.Errorf("forged token: %v", err)
	}
}

func TestExpiredCredentialsRejected(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := stsfake.NewForTest(t, stsfake.WithClock(clock))
	is := srv.IssueCredentials(role, "old", 15*time.Minute, 1)
	c := client(srv, is.AccessKeyID, is.SecretAccessKey, is.SessionToken, noRetry)
	if _, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(16 * time.Minute)
	mu.Unlock()
	_, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if apiCode(t, err) != "ExpiredToken" {
		t.Errorf("expired: %v", err)
	}
}

func TestAssumeRoleValidation(t *testing.T) {
	ctx := context.Background()
	srv := stsfake.NewForTest(t, stsfake.WithKey("AKIASTSFAKE", "stsfake-secret"))
	srv.SetRole("arn:aws:iam::111111111111:role/Ext", stsfake.RoleSettings{ExternalID: "secret-ext"})
	srv.SetRole("arn:aws:iam::111111111111:role/MFA", stsfake.RoleSettings{RequireMFA: true, TokenCode: "123456"})
	srv.SetRole("arn:aws:iam::111111111111:role/Short", stsfake.RoleSettings{MaxSessionDuration: time.Hour})
	srv.Deny("arn:aws:iam::111111111111:role/Denied")
	c := client(srv, "AKIASTSFAKE", "stsfake-secret", "", noRetry)
	in := func(arn, name string, mod func(*sts.AssumeRoleInput)) *sts.AssumeRoleInput {
		i := &sts.AssumeRoleInput{RoleArn: aws.String(arn), RoleSessionName: aws.String(name)}
		if mod != nil {
			mod(i)
		}
		return i
	}
	for _, tc := range []struct {
		name, code, msg string
		in              *sts.AssumeRoleInput
	}{
		{"bad arn", "ValidationError", "is invalid", in("arn:aws:iam::111111111111:user/bob", "ss", nil)},
		{"short arn", "ValidationError", "length greater than or equal to 20", in("arn:aws:iam", "ss", nil)},
		{"bad session name", "ValidationError", "regular expression pattern", in(role, "a b", nil)},
		{"short duration", "ValidationError", "greater than or equal to 900", in(role, "ss", func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(899) })},
		{"over 12h", "ValidationError", "less than or equal to 43200", in(role, "ss", func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(43201) })},
		{"over max", "ValidationError", "exceeds the MaxSessionDuration", in("arn:aws:iam::111111111111:role/Short", "ss", func(i *sts.AssumeRoleInput) { i.DurationSeconds = aws.Int32(3601) })},
		{"policy not JSON", "MalformedPolicyDocument", "not in the valid JSON format", in(role, "ss", func(i *sts.AssumeRoleInput) { i.Policy = aws.String("{") })},
		{"denied", "AccessDenied", "is not authorized to perform: sts:AssumeRole", in("arn:aws:iam::111111111111:role/Denied", "ss", nil)},
		{"no external id", "AccessDenied", "not authorized", in("arn:aws:iam::111111111111:role/Ext", "ss", nil)},
		{"no mfa", "AccessDenied", "not authorized", in("arn:aws:iam::111111111111:role/MFA", "ss", nil)},
		{"wrong mfa", "AccessDenied", "invalid MFA one time pass code", in("arn:aws:iam::111111111111:role/MFA", "ss", func(i *sts.AssumeRoleInput) {
			i.SerialNumber, i.TokenCode = aws.String("arn:aws:iam::111111111111:mfa/alice"), aws.String("000000")
		})},
	} {
		_, err := c.AssumeRole(ctx, tc.in)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if got := apiCode(t, err); got != tc.code || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: got %v, want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
	}
	if _, err := c.AssumeRole(ctx, in("arn:aws:iam::111111111111:role/Ext", "ss", func(i *sts.AssumeRoleInput) { i.ExternalId = aws.String("secret-ext") })); err != nil {
		t.Errorf("right ExternalId: %v", err)
	}
	if _, err := c.AssumeRole(ctx, in("arn:aws:iam::111111111111:role/MFA", "ss", func(i *sts.AssumeRoleInput) {
		i.SerialNumber, i.TokenCode = aws.String("arn:aws:iam::111111111111:mfa/alice"), aws.String("123456")
	})); err != nil {
		t.Errorf("right MFA: %v", err)
	}
}

func TestThrottlingRecoveredBySDKRetryer(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithKey("AKIASTSFAKE", "stsfake-secret"))
	srv.FailNext("AssumeRole", 2, "Throttling")
	c := client(srv, "AKIASTSFAKE", "stsfake-secret", "", func(o *sts.Options) {
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) { so.Backoff = zeroBackoff{} })
	})
	if _, err := c.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("ss")}); err != nil {
		t.Fatalf("retryer did not recover: %v", err)
	}
	if got := srv.Calls("AssumeRole"); got != 3 {
		t.Errorf("AssumeRole calls = %d, want 3 (2 throttled + 1)", got)
	}
}

type zeroBackoff struct{}

func (zeroBackoff) BackoffDelay(int, error) (time.Duration, error) { return 0, nil }

func TestHandleExtension(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithKey("AKIASTSFAKE", "stsfake-secret"))
	srv.Handle("GetFederationToken", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		stsfake.WriteError(w, http.StatusForbidden, "AccessDenied", "no federation for "+form.Get("Name"))
	})
	c := client(srv, "AKIASTSFAKE", "stsfake-secret", "", noRetry)
	_, err := c.GetFederationToken(context.Background(), &sts.GetFederationTokenInput{Name: aws.String("bob")})
	if apiCode(t, err) != "AccessDenied" || !strings.Contains(err.Error(), "no federation for bob") {
		t.Errorf("custom handler: %v", err)
	}
	_, err = c.GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	if apiCode(t, err) != "InvalidAction" {
		t.Errorf("unknown action: %v", err)
	}
}

// TestAWSCLISignatures: botocore's SigV4 signer (the AWS CLI v2 from
// Debian, another implementation than the Go SDK's) is verified the same
// way: the right secret is accepted, a wrong one gets AWS's
// SignatureDoesNotMatch.
func TestAWSCLISignatures(t *testing.T) {
	const awsBin = "/usr/bin/aws"
	if _, err := os.Stat(awsBin); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 from Debian (%s) is not installed: %v", awsBin, err)
	}
	srv := stsfake.NewForTest(t, stsfake.WithoutTestKeys(), stsfake.WithKey("AKIACLIEXAMPLE", "cli-secret"))
	run := func(secret string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		dir := t.TempDir()
		cmd := exec.CommandContext(ctx, awsBin, "sts", "get-caller-identity", "--endpoint-url", srv.URL, "--output", "json")
		cmd.Env = []string{
			"PATH=/usr/bin:/bin", "HOME=" + dir, "AWS_CONFIG_FILE=" + filepath.Join(dir, "none"),
			"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none"), "AWS_EC2_METADATA_DISABLED=true",
			"AWS_ACCESS_KEY_ID=AKIACLIEXAMPLE", "AWS_SECRET_ACCESS_KEY=" + secret, "AWS_REGION=us-east-1",
			"AWS_MAX_ATTEMPTS=1", "HTTPS_PROXY=http://127.0.0.1:9", "HTTP_PROXY=http://127.0.0.1:9", "NO_PROXY=127.0.0.1,localhost",
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("cli-secret")
	if err != nil || !strings.Contains(out, `"Arn": "arn:aws:iam::123456789012:user/rolehop-test"`) {
		t.Fatalf("aws sts get-caller-identity with the right secret: %v\n%s", err, out)
	}
	out, err = run("wrong-secret")
	if err == nil || !strings.Contains(out, "SignatureDoesNotMatch") {
		t.Fatalf("aws sts get-caller-identity with a wrong secret: %v\n%s", err, out)
	}
}
