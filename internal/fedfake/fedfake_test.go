package fedfake_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/internal/fedfake"
)

// TestSTSAuthentication: the fake's STS verifies SigV4 for the keys it
// made, with AWS's codes.
func TestSTSAuthentication(t *testing.T) {
	fed := fedfake.New(t)
	user := fed.AddUser("alice")
	sess := fed.Issue(fedfake.Role, time.Hour)
	call := func(akid, secret, token string) string {
		t.Helper()
		c := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: aws.String(fed.STSURL), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, token)})
		_, err := c.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		if err == nil {
			return ""
		}
		var api smithy.APIError
		if !errors.As(err, &api) {
			t.Fatalf("not an API error: %v", err)
		}
		return api.ErrorCode()
	}
	for _, tc := range []struct {
		name, akid, secret, token, want string
	}{
		{"user", user.AccessKeyID, user.SecretAccessKey, "", ""},
		{"session", sess.AccessKeyID, sess.SecretAccessKey, sess.SessionToken, ""},
		{"user, wrong secret", user.AccessKeyID, "wrong", "", "SignatureDoesNotMatch"},
		{"session, wrong secret", sess.AccessKeyID, "wrong", sess.SessionToken, "SignatureDoesNotMatch"},
		{"session without its token", sess.AccessKeyID, sess.SecretAccessKey, "", "InvalidClientTokenId"},
		{"user with a token", user.AccessKeyID, user.SecretAccessKey, sess.SessionToken, "InvalidClientTokenId"},
		{"unknown key", "AKIANOBODY", "x", "", "InvalidClientTokenId"},
	} {
		if got := call(tc.akid, tc.secret, tc.token); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
	if r := fed.Rejections(); len(r) != 5 || !strings.Contains(r[0], "SignatureDoesNotMatch") {
		t.Errorf("rejections %q", r)
	}
}
