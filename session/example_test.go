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

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/session"
)

// A profile per account ID from ~/.aws/config and ~/.aws/credentials,
// falling back to AWS_PROFILE or "default".
func ExampleNewProfilePerAccount() {
	ctx := context.Background()
	profiles, err := session.NewProfilePerAccount(func(o *session.ProfileOptions) {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	})
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := session.Config(ctx, profiles, "111111111111")
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
	profiles, err := session.NewProfilePerAccount()
	if err != nil {
		log.Fatal(err)
	}
	accounts, err := session.NewCrossAccount(profiles, "111111111111", "OrganizationAccountAccessRole",
		func(o *session.AssumeRoleOptions) {
			o.ExternalID = "my-external-id"
			o.RoleSessionName = session.LambdaSessionName()
		})
	if err != nil {
		log.Fatal(err) // *session.ParamError: checked before any call
	}
	for _, id := range []string{"222222222222", "333333333333"} {
		cfg, err := session.Config(ctx, accounts, id) // cached per account, refreshed at half life
		if err != nil {
			log.Fatal(err) // *session.AssumeRoleError carries STS's code and message
		}
		fmt.Println(id, cfg.Region)
	}
}

// A role chain from the SDK's default configuration: each child refreshes
// its own credentials for as long as the program runs.
func ExampleRoleConfig() {
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	hub, err := session.RoleConfig(base, "arn:aws:iam::111111111111:role/Hub", func(o *session.AssumeRoleOptions) {
		o.Duration = 2 * time.Hour
		o.SourceIdentity = "alice"
	})
	if err != nil {
		log.Fatal(err)
	}
	spoke, err := session.RoleConfig(hub, "arn:aws:iam::222222222222:role/ReadOnly", func(o *session.AssumeRoleOptions) {
		o.Policy = &session.Policy{Statement: []session.PolicyStatement{
			{Effect: "Allow", Action: []string{"s3:List*"}, Resource: []string{"*"}},
		}}
		o.Region = "eu-west-1"
	})
	if err != nil {
		log.Fatal(err)
	}
	out, err := s3.NewFromConfig(spoke).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(out.Buckets), "buckets")
}

// Role credentials kept on disk and shared by every process of the user
// (aws-assume-role-lib's cache=JSONFileCache(dir)): a second run within the
// credentials' lifetime makes no STS call.
func ExampleRoleConfig_diskCache() {
	ctx := context.Background()
	base, err := config.LoadDefaultConfig(ctx, config.WithSharedConfigProfile("ci"))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := credcache.DefaultDir()
	if err != nil {
		log.Fatal(err)
	}
	deploy, err := session.RoleConfig(base, "arn:aws:iam::111111111111:role/Deploy", func(o *session.AssumeRoleOptions) {
		o.DiskCache = &credcache.Cache{Dir: dir}
		o.DiskCacheScope = "profile:ci" // where the parent credentials come from
	})
	if err != nil {
		log.Fatal(err)
	}
	_, err = s3.NewFromConfig(deploy).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
}

// One STS call, nothing cached: a broker serving many users calls Assume
// for each of them, so one user's tagged session is never handed to another.
func ExampleAssume() {
	ctx := context.Background()
	broker, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Fatal(err)
	}
	creds, err := session.Assume(ctx, broker, "arn:aws:iam::111111111111:role/ReadOnly", session.AssumeRoleParams{
		RoleSessionName: "alice@example.com",
		SourceIdentity:  "alice@example.com",
		Tags:            map[string]string{"group": "dev"},
		Duration:        time.Hour,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("expires", creds.Expires)
}
