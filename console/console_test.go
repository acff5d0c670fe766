package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/internal/fedfake"
)

func noRedirect() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// follow opens the sign-in URL as a browser would and returns where the
// federation endpoint sends it.
func follow(t *testing.T, signin string) string {
	t.Helper()
	resp, err := noRedirect().Get(signin)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login answered %d, want 302", resp.StatusCode)
	}
	return resp.Header.Get("Location")
}

func logCapture() (*slog.Logger, *bytes.Buffer) {
	var b bytes.Buffer
	return slog.New(slog.NewTextHandler(&b, nil)), &b
}

func assertNoSecret(t *testing.T, where, s string, creds ...aws.Credentials) {
	t.Helper()
	for _, c := range creds {
		for _, secret := range []string{c.SecretAccessKey, c.SessionToken} {
			if secret != "" && strings.Contains(s, secret) {
				t.Fatalf("%s contains a secret: %s", where, s)
			}
		}
	}
}

func TestSigninRoleSession(t *testing.T) {
	fed := fedfake.New(t)
	creds := fed.Issue(fedfake.Role, time.Hour)
	log, buf := logCapture()
	u, err := console.SigninURL(t.Context(), creds, console.Options{
		Destination: "s3", Region: "eu-west-1", Issuer: "https://idp.example.com/rolehop",
		SessionDuration: 12 * time.Hour, Kind: console.KindRole, FederationURL: fed.URL, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := pu.Query()
	if !strings.HasPrefix(u, fed.URL+"?") || q.Get("Action") != "login" || q.Get("SigninToken") == "" ||
		q.Get("Issuer") != "https://idp.example.com/rolehop" {
		t.Fatalf("sign-in URL = %s", u)
	}
	want := "https://console.aws.amazon.com/s3/home?region=eu-west-1"
	if got := follow(t, u); got != want {
		t.Fatalf("login redirects to %s, want %s", got, want)
	}
	if c := fed.Counts(); c.GetSigninToken != 1 || c.Login != 1 || c.Rejected != 0 {
		t.Fatalf("counts = %+v, rejections %v", c, fed.Rejections())
	}
	assertNoSecret(t, "log", buf.String(), creds)
	assertNoSecret(t, "sign-in URL", u, creds)
}

func TestSessionDurationRules(t *testing.T) {
	// sent is the SessionDuration parameter the endpoint must receive
	// ("" for none).
	cases := []struct {
		name      string
		issued    fedfake.Kind
		kind      console.Kind
		requested time.Duration
		notice    bool
		sent      string
	}{
		{"role 12h", fedfake.Role, console.KindRole, 12 * time.Hour, false, "43200"},
		{"role 15m", fedfake.Role, console.KindRole, 15 * time.Minute, false, "900"},
		{"role unset", fedfake.Role, console.KindRole, 0, false, ""},
		{"chained 1h", fedfake.Chained, console.KindChained, time.Hour, false, "3600"},
		{"chained 12h clamped", fedfake.Chained, console.KindChained, 12 * time.Hour, true, "3600"},
		{"auto chained 2h clamped", fedfake.Chained, console.KindAuto, 2 * time.Hour, true, "3600"},
		{"federation token 8h not sent", fedfake.FederationToken, console.KindFederationToken, 8 * time.Hour, true, ""},
		{"federation token unset", fedfake.FederationToken, console.KindFederationToken, 0, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			fed := fedfake.New(t)
			creds := fed.Issue(tc.issued, time.Hour)
			log, buf := logCapture()
			u, err := console.SigninURL(t.Context(), creds, console.Options{
				SessionDuration: tc.requested, Kind: tc.kind, FederationURL: fed.URL, Logger: log,
			})
			if err != nil {
				t.Fatalf("%v (endpoint rejections: %v)", err, fed.Rejections())
			}
			if c := fed.Counts(); c.Rejected != 0 || c.GetSigninToken != 1 {
				t.Fatalf("counts %+v, rejections %v", c, fed.Rejections())
			}
			if reqs := fed.SigninTokenRequests(); len(reqs) != 1 || reqs[0].SessionDuration != tc.sent || reqs[0].Kind != tc.issued {
				t.Fatalf("getSigninToken requests %+v, want SessionDuration %q for a %v session", reqs, tc.sent, tc.issued)
			}
			if got := strings.Contains(buf.String(), "session duration"); got != tc.notice {
				t.Fatalf("notice logged = %v, want %v: %s", got, tc.notice, buf.String())
			}
			follow(t, u)
		})
	}
}

// TestFakeRefusesWhatAWSRefuses shows the fake answers 400 where AWS does,
// so the tests above would catch rolehop sending a forbidden duration.
func TestFakeRefusesWhatAWSRefuses(t *testing.T) {
	fed := fedfake.New(t)
	get := func(c aws.Credentials, duration string) int {
		t.Helper()
		sess, _ := json.Marshal(map[string]string{"sessionId": c.AccessKeyID, "sessionKey": c.SecretAccessKey, "sessionToken": c.SessionToken})
		q := url.Values{"Action": {"getSigninToken"}, "Session": {string(sess)}}
		if duration != "" {
			q.Set("SessionDuration", duration)
		}
		resp, err := http.Get(fed.URL + "?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	chained := fed.Issue(fedfake.Chained, time.Hour)
	ft := fed.Issue(fedfake.FederationToken, time.Hour)
	role := fed.Issue(fedfake.Role, time.Hour)
	for _, tc := range []struct {
		c    aws.Credentials
		d    string
		want int
	}{
		{chained, "3601", 400}, {chained, "3600", 200}, {ft, "900", 400}, {ft, "", 200},
		{role, "899", 400}, {role, "43201", 400}, {role, "43200", 200}, {role, "x", 400},
		{aws.Credentials{AccessKeyID: role.AccessKeyID, SecretAccessKey: "wrong", SessionToken: role.SessionToken}, "", 400},
		{aws.Credentials{AccessKeyID: role.AccessKeyID, SecretAccessKey: role.SecretAccessKey}, "", 400},
	} {
		if got := get(tc.c, tc.d); got != tc.want {
			t.Errorf("SessionDuration %q: %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestRejectedByEndpointIsTypedAndSecretFree(t *testing.T) {
	fed := fedfake.New(t)
	creds := fed.Issue(fedfake.Chained, time.Hour)
	// Lying about the kind makes rolehop send 12h for a chained session:
	// AWS (and the fake) answer 400.
	_, err := console.SigninURL(t.Context(), creds, console.Options{
		SessionDuration: 12 * time.Hour, Kind: console.KindRole, FederationURL: fed.URL,
	})
	var fe *console.FederationError
	if !errors.As(err, &fe) || fe.StatusCode != 400 || !errors.Is(err, console.ErrFederation) {
		t.Fatalf("err = %v, want a 400 FederationError", err)
	}
	assertNoSecret(t, "error", err.Error(), creds)
}

func TestUnreachableEndpointErrorHasNoSecret(t *testing.T) {
	fed := fedfake.New(t)
	creds := fed.Issue(fedfake.Role, time.Hour)
	_, err := console.SigninURL(t.Context(), creds, console.Options{FederationURL: "http://127.0.0.1:9/federation"})
	if !errors.Is(err, console.ErrFederation) {
		t.Fatalf("err = %v, want ErrFederation", err)
	}
	assertNoSecret(t, "error", err.Error(), creds)
	if strings.Contains(err.Error(), creds.AccessKeyID) {
		t.Fatalf("error holds the request URL: %v", err)
	}
}

func TestIAMUserKeysGoThroughGetFederationToken(t *testing.T) {
	fed := fedfake.New(t)
	user := fed.AddUser("alice.with.a.very-long-name@example.com")
	client := sts.New(sts.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(fed.STSURL),
		Credentials:  credentials.NewStaticCredentialsProvider(user.AccessKeyID, user.SecretAccessKey, ""),
	})
	log, buf := logCapture()
	u, err := console.SigninURL(t.Context(), user, console.Options{
		Destination: "iam", SessionDuration: 2 * time.Hour, FederationURL: fed.URL, STS: client, Logger: log,
	})
	if err != nil {
		t.Fatalf("%v (rejections %v)", err, fed.Rejections())
	}
	names, policies := fed.FederationRequests()
	if len(names) != 1 || len(names[0]) > 32 || !strings.HasPrefix("alice.with.a.very-long-name@example.com", names[0]) {
		t.Fatalf("GetFederationToken names = %q, want the user's name cut to 32", names)
	}
	if policies[0] != console.AllowAllPolicy {
		t.Fatalf("policy = %s", policies[0])
	}
	if c := fed.Counts(); c.GetFederationToken != 1 || c.GetSigninToken != 1 || c.Rejected != 0 {
		t.Fatalf("counts %+v, rejections %v", c, fed.Rejections())
	}
	if got := follow(t, u); got != "https://console.aws.amazon.com/iam/home#/home" {
		t.Fatalf("destination %s", got)
	}
	assertNoSecret(t, "log", buf.String(), user)

	// An explicit name, and no STS client given: one is made from the keys
	// (pointed at the fake through the HTTP client's transport).
	fed2 := fedfake.New(t)
	user2 := fed2.AddUser("bob")
	_, err = console.SigninURL(t.Context(), user2, console.Options{
		FederationURL: fed2.URL, FederationName: "bob@laptop",
		HTTPClient: &http.Client{Transport: rewriteTo(fed2.STSURL)},
	})
	if err != nil {
		t.Fatalf("%v (rejections %v)", err, fed2.Rejections())
	}
	if names, _ := fed2.FederationRequests(); len(names) != 1 || names[0] != "bob@laptop" {
		t.Fatalf("names = %q", names)
	}
}

// TestIAMUserKeysWrongSecretRefused: the STS calls of the IAM-user path
// are signed with the keys given; the endpoint verifies the signature, so
// a wrong secret fails at GetCallerIdentity (naming the user) and at
// GetFederationToken, with AWS's SignatureDoesNotMatch, and no secret in
// the error.
func TestIAMUserKeysWrongSecretRefused(t *testing.T) {
	fed := fedfake.New(t)
	user := fed.AddUser("alice")
	wrong := aws.Credentials{AccessKeyID: user.AccessKeyID, SecretAccessKey: "wrong-secret-do-not-print"}
	for _, tc := range []struct {
		name, fedName string
	}{{"GetCallerIdentity", ""}, {"GetFederationToken", "alice@laptop"}} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := console.SigninURL(t.Context(), wrong, console.Options{
				FederationURL: fed.URL, FederationName: tc.fedName,
				HTTPClient: &http.Client{Transport: rewriteTo(fed.STSURL)},
			})
			if !errors.Is(err, console.ErrFederationToken) || !strings.Contains(err.Error(), "SignatureDoesNotMatch") ||
				!strings.Contains(err.Error(), tc.name) {
				t.Fatalf("err = %v, want a %s SignatureDoesNotMatch", err, tc.name)
			}
			assertNoSecret(t, "error", err.Error(), wrong, user)
		})
	}
	if c := fed.Counts(); c.GetFederationToken != 0 || c.GetCallerIdentity != 0 || c.GetSigninToken != 0 {
		t.Fatalf("a wrongly signed call succeeded: %+v", c)
	}
	// The same calls with the right secret pass.
	if _, err := console.SigninURL(t.Context(), user, console.Options{
		FederationURL: fed.URL, HTTPClient: &http.Client{Transport: rewriteTo(fed.STSURL)},
	}); err != nil {
		t.Fatalf("right secret: %v (rejections %v)", err, fed.Rejections())
	}
}

// rewriteTo sends requests for AWS hosts to a local server instead,
// keeping the Host header the request was signed for (the fake verifies
// the SigV4 signature, which covers it).
type rewriteTo string

func (r rewriteTo) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Host, ".amazonaws.com") {
		u, _ := url.Parse(string(r))
		req = req.Clone(req.Context())
		req.Host = req.URL.Host
		req.URL.Scheme, req.URL.Host = u.Scheme, u.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func TestPartitionsAndDestinations(t *testing.T) {
	for _, tc := range []struct {
		dest, part, region, want string
	}{
		{"", "", "", "https://console.aws.amazon.com/console/home?region=us-east-1"},
		{"ec2", "", "cn-north-1", "https://console.amazonaws.cn/ec2/home?region=cn-north-1"},
		{"lambda", "aws-us-gov", "", "https://console.amazonaws-us-gov.com/lambda/home?region=us-gov-west-1#/functions"},
		{"cloudwatch", "aws", "ap-south-1", "https://console.aws.amazon.com/cloudwatch/home?region=ap-south-1"},
		{"IAM", "aws", "eu-west-1", "https://console.aws.amazon.com/iam/home#/home"},
		{"https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:", "", "", "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#Instances:"},
	} {
		got, err := console.DestinationURL(tc.dest, tc.part, tc.region)
		if err != nil || got != tc.want {
			t.Errorf("DestinationURL(%q, %q, %q) = %q, %v; want %q", tc.dest, tc.part, tc.region, got, err, tc.want)
		}
	}
	if n := len(console.Services()); n < 20 {
		t.Errorf("only %d service shortcuts", n)
	}
	for p, want := range map[string]string{
		"aws": "https://signin.aws.amazon.com/federation", "aws-cn": "https://signin.amazonaws.cn/federation",
		"aws-us-gov": "https://signin.amazonaws-us-gov.com/federation",
	} {
		if got, _ := console.FederationEndpoint(p); got != want {
			t.Errorf("FederationEndpoint(%s) = %s", p, got)
		}
	}
}

func TestBadInput(t *testing.T) {
	fed := fedfake.New(t)
	creds := fed.Issue(fedfake.Role, time.Hour)
	for _, tc := range []struct {
		name string
		opts console.Options
		want error
	}{
		{"unknown service", console.Options{Destination: "nosuchservice"}, console.ErrUnknownService},
		{"http destination", console.Options{Destination: "http://console.aws.amazon.com/s3"}, console.ErrBadDestination},
		{"foreign host", console.Options{Destination: "https://evil.example.com/console.aws.amazon.com"}, console.ErrBadDestination},
		{"wrong partition host", console.Options{Destination: "https://console.aws.amazon.com/", Partition: "aws-cn"}, console.ErrBadDestination},
		{"unknown partition", console.Options{Partition: "aws-iso"}, console.ErrUnknownPartition},
		{"too short", console.Options{SessionDuration: 5 * time.Minute, Kind: console.KindRole}, console.ErrSessionDuration},
		{"too long", console.Options{SessionDuration: 13 * time.Hour, Kind: console.KindRole}, console.ErrSessionDuration},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.FederationURL = fed.URL
			_, err := console.SigninURL(t.Context(), creds, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if c := fed.Counts(); c.GetSigninToken != 0 {
		t.Fatalf("bad input reached the endpoint: %+v", c)
	}
	if _, err := console.SigninURL(context.Background(), aws.Credentials{}, console.Options{}); !errors.Is(err, console.ErrNoCredentials) {
		t.Fatalf("empty credentials: %v", err)
	}
	if _, err := console.SigninURL(context.Background(), aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"},
		console.Options{Kind: console.KindRole, FederationURL: fed.URL}); !errors.Is(err, console.ErrNoCredentials) {
		t.Fatalf("role kind without token: %v", err)
	}
}
