package session_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/session"
)

// A profile per account ID from ~/.aws/config and ~/.aws/credentials,
// falling back to AWS_PROFILE or "default".
func ExampleNewProfile() {
	ctx := context.Background()
	profiles := session.NewProfile(session.WithProfileLogger(slog.New(slog.NewTextHandler(os.Stderr, nil))))
	cfg, err := profiles.Config(ctx, "111111111111")
	if err != nil {
		log.Fatal(err) // *session.ProfileNotFoundError when no profile matches
	}
	out, err := s3.NewFromConfig(cfg).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(out.Buckets), "buckets")
}

// One role name in every account that trusts the base account.
func ExampleNewCrossAccount() {
	ctx := context.Background()
	accounts, err := session.NewCrossAccount(session.NewProfile(), "111111111111", "OrganizationAccountAccessRole",
		session.WithExternalID("my-external-id"),
		session.WithRoleSessionName(session.LambdaSessionName()))
	if err != nil {
		log.Fatal(err) // *session.ParamError: checked before any call
	}
	for _, id := range []string{"222222222222", "333333333333"} {
		cfg, err := accounts.Config(ctx, id) // cached per account, refreshed at half life
		if err != nil {
			log.Fatal(err) // *session.AssumeRoleError carries STS's code and message
		}
		fmt.Println(id, cfg.Region)
	}
}

// A role chain from the SDK's default configuration: each child refreshes
// its own credentials for as long as the program runs.
func ExampleAssumeRole() {
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	hub, err := session.AssumeRole(base, "arn:aws:iam::111111111111:role/Hub",
		session.WithDuration(2*time.Hour),
		session.WithSourceIdentity("alice"))
	if err != nil {
		log.Fatal(err)
	}
	spoke, err := session.AssumeRole(hub, "arn:aws:iam::222222222222:role/ReadOnly",
		session.WithPolicy(map[string]any{
			"Version":   "2012-10-17",
			"Statement": []map[string]any{{"Effect": "Allow", "Action": "s3:List*", "Resource": "*"}},
		}),
		session.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	out, err := s3.NewFromConfig(spoke).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(out.Buckets), "buckets")
}
