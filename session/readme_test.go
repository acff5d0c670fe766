package session_test

// This file holds the README's library quick start, verbatim below the
// marker, so that it compiles; TestReadmeQuickStartCompiles checks that the
// README still shows exactly this code.

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/session"
)

// --- README quick start ---
func example(ctx context.Context) error {
	// ProfilePerAccount: the profile named after the account ID, else
	// AWS_PROFILE, else "default" — any profile form the AWS SDK resolves.
	base, err := session.NewProfilePerAccount()
	if err != nil {
		return err
	}

	// CrossAccount: assume role "OrganizationAccountAccessRole" in any
	// account that trusts account 111111111111.
	xacct, err := session.NewCrossAccount(base, "111111111111", "OrganizationAccountAccessRole")
	if err != nil {
		return err
	}
	cfg, err := session.Config(ctx, xacct, "222222222222") // cached, refreshed, safe for concurrent use
	if err != nil {
		return err
	}

	// RoleConfig: chain from any aws.Config; the child's credentials refresh
	// themselves, and the child can be a parent in turn.
	audit, err := session.RoleConfig(cfg, "arn:aws:iam::222222222222:role/Audit", func(o *session.AssumeRoleOptions) {
		o.Duration = time.Hour
	})
	if err != nil {
		return err
	}
	_, err = s3.NewFromConfig(audit).ListBuckets(ctx, &s3.ListBucketsInput{})
	return err
}

// --- end ---

// --- README disk cache ---
func exampleDiskCache(ctx context.Context, parent aws.Config) (aws.Config, error) {
	dir, err := credcache.DefaultDir() // ~/.cache/rolehop/creds, shared with rolehop's CLI
	if err != nil {
		return aws.Config{}, err
	}
	return session.RoleConfig(parent, "arn:aws:iam::111111111111:role/Deploy", func(o *session.AssumeRoleOptions) {
		o.DiskCache = &credcache.Cache{Dir: dir}
		o.DiskCacheScope = "profile:ci" // names where parent's credentials come from
	})
}

// --- end ---

var _, _ = example, exampleDiskCache

// compiledBlock returns the code between "// --- NAME ---" and the next
// "// --- end ---" in this file.
func compiledBlock(t *testing.T, self, name string) string {
	t.Helper()
	_, after, ok := strings.Cut(self, "// --- "+name+" ---\n")
	if !ok {
		t.Fatalf("readme_test.go has no %q block", name)
	}
	block, _, _ := strings.Cut(after, "// --- end ---")
	return strings.TrimSpace(block)
}

// TestReadmeQuickStartCompiles fails when README.md's library examples and
// the compiled copies above drift apart.
func TestReadmeQuickStartCompiles(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	selfB, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	self := string(selfB)
	_, after, ok := strings.Cut(string(readme), "## Library quick start")
	if !ok {
		t.Fatal("README.md has no \"## Library quick start\" section")
	}
	_, block, _ := strings.Cut(after, "```go\n")
	block, _, _ = strings.Cut(block, "```\n")
	_, fn, _ := strings.Cut(block, ")\n\n") // after the import block
	if compiled := compiledBlock(t, self, "README quick start"); strings.TrimSpace(fn) == "" || strings.TrimSpace(fn) != compiled {
		t.Errorf("README.md's quick start differs from the compiled copy in session/readme_test.go:\nREADME:\n%s\ncompiled:\n%s", fn, compiled)
	}
	disk := compiledBlock(t, self, "README disk cache")
	if !strings.Contains(string(readme), "```go\n"+disk+"\n```\n") {
		t.Errorf("README.md does not show the compiled disk cache example verbatim:\n%s", disk)
	}
}
