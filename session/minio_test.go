package session_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/session"
)

// s3RoundTrip creates a bucket, puts an object and lists it with cfg's
// credentials against MinIO.
func s3RoundTrip(t *testing.T, m *testpeer.MinIO, cfg aws.Config, bucket string) {
	t.Helper()
	ctx := context.Background()
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(m.Endpoint)
		o.UsePathStyle = true
	})
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket with assumed-role credentials: %v", err)
	}
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("hello.txt"), Body: strings.NewReader("hi")}); err != nil {
		t.Fatalf("put object: %v", err)
	}
	out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list objects: %v", err)
	}
	if len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "hello.txt" {
		t.Errorf("listed %d objects, want hello.txt", len(out.Contents))
	}
}

func TestAssumeRoleAgainstMinIO(t *testing.T) {
	m := testpeer.NewMinIO(t)
	ctx := context.Background()
	child, err := session.RoleConfig(m.Config(), "arn:aws:iam::123456789012:role/MinIO", func(o *session.AssumeRoleOptions) { o.Duration = 15 * time.Minute })
	if err != nil {
		t.Fatal(err)
	}
	creds, err := child.Credentials.Retrieve(ctx)
	if err != nil {
		t.Fatalf("AssumeRole against MinIO: %v", err)
	}
	if creds.SessionToken == "" || creds.AccessKeyID == m.RootUser || !creds.CanExpire || !creds.Expires.After(time.Now()) {
		t.Fatalf("not temporary credentials: key %s, token %v, expires %v", creds.AccessKeyID, creds.SessionToken != "", creds.Expires)
	}
	s3RoundTrip(t, m, child, "assumed")

	// The session policy travels: a read-only policy forbids PutObject.
	ro, err := session.RoleConfig(m.Config(), "arn:aws:iam::123456789012:role/ReadOnly", func(o *session.AssumeRoleOptions) {
		o.Policy = &session.Policy{Statement: []session.PolicyStatement{{
			Effect: "Allow", Action: []string{"s3:GetObject", "s3:ListBucket"},
			Resource: []string{"arn:aws:s3:::assumed", "arn:aws:s3:::assumed/*"},
		}}}
	})
	if err != nil {
		t.Fatal(err)
	}
	client := s3.NewFromConfig(ro, func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("assumed")}); err != nil {
		t.Errorf("read-only session cannot list: %v", err)
	}
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("assumed"), Key: aws.String("x"), Body: strings.NewReader("x")})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
		t.Errorf("read-only session put an object: %v", err)
	}
}

func TestEnvironmentAndProfileAgainstMinIO(t *testing.T) {
	m := testpeer.NewMinIO(t)
	ctx := context.Background()
	dir := awsFiles(t, "", "[111111111111]\naws_access_key_id = "+m.RootUser+"\naws_secret_access_key = "+m.RootPassword+"\n")
	t.Setenv("AWS_REGION", m.Region)
	t.Setenv("AWS_ENDPOINT_URL_STS", m.Endpoint)

	t.Run("profile and cross-account", func(t *testing.T) {
		ca, err := session.NewCrossAccount(newProfiles(t), "111111111111", "Deploy")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := session.Config(ctx, ca, "222222222222")
		if err != nil {
			t.Fatalf("CrossAccount through MinIO's STS: %v", err)
		}
		creds, _ := cfg.Credentials.Retrieve(ctx)
		if creds.SessionToken == "" || creds.AccessKeyID == m.RootUser {
			t.Fatal("not temporary credentials")
		}
		s3RoundTrip(t, m, cfg, "crossaccount")
	})

	t.Run("environment keys only", func(t *testing.T) {
		empty := filepath.Join(dir, "empty")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("AWS_CONFIG_FILE", empty)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
		t.Setenv("AWS_ACCESS_KEY_ID", m.RootUser)
		t.Setenv("AWS_SECRET_ACCESS_KEY", m.RootPassword)
		parent, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		child, err := session.RoleConfig(parent, "arn:aws:iam::123456789012:role/Env")
		if err != nil {
			t.Fatal(err)
		}
		s3RoundTrip(t, m, child, "fromenv")
	})
}
