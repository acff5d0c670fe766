package credenv

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestVarsAndClean(t *testing.T) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	got := Vars(aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S", SessionToken: "T", CanExpire: true, Expires: exp}, "eu-west-1")
	want := []Var{{"AWS_ACCESS_KEY_ID", "A"}, {"AWS_SECRET_ACCESS_KEY", "S"}, {"AWS_SESSION_TOKEN", "T"},
		{"AWS_CREDENTIAL_EXPIRATION", "2030-01-02T03:04:05Z"}, {"AWS_REGION", "eu-west-1"}, {"AWS_DEFAULT_REGION", "eu-west-1"}}
	if !slices.Equal(got, want) {
		t.Errorf("Vars = %v", got)
	}
	if got := Vars(aws.Credentials{AccessKeyID: "A", SecretAccessKey: "S"}, ""); len(got) != 2 {
		t.Errorf("long-term keys: %v", got)
	}
	env := With([]string{"HOME=/h", "AWS_PROFILE=x", "AWS_SESSION_TOKEN=old", "ROLEHOP_SOURCE_CHAIN=a", "PATH=/bin"}, Var{"AWS_ACCESS_KEY_ID", "A"})
	if !slices.Equal(env, []string{"HOME=/h", "PATH=/bin", "AWS_ACCESS_KEY_ID=A"}) {
		t.Errorf("With = %v", env)
	}
}
