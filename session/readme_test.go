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

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rolehop/rolehop/session"
)

// --- README quick start ---
func example(ctx context.Context) error {
	// Profile: the profile named after the account ID, else AWS_PROFILE,
	// else "default" — any profile form the AWS SDK resolves.
	base := session.NewProfile()

	// CrossAccount: assume role "OrganizationAccountAccessRole" in any
	// account that trusts account 111111111111.
	xacct, err := session.NewCrossAccount(base, "111111111111", "OrganizationAccountAccessRole")
	if err != nil {
		return err
	}
	cfg, err := xacct.Config(ctx, "222222222222") // cached, refreshed, safe for concurrent use
	if err != nil {
		return err
	}

	// AssumeRole: chain from any aws.Config; the child's credentials refresh
	// themselves, and the child can be a parent in turn.
	audit, err := session.AssumeRole(cfg, "arn:aws:iam::222222222222:role/Audit",
		session.WithDuration(time.Hour))
	if err != nil {
		return err
	}
	_, err = s3.NewFromConfig(audit).ListBuckets(ctx, &s3.ListBucketsInput{})
	return err
}

// --- end ---

var _ = example

// TestReadmeQuickStartCompiles fails when README.md's library quick start
// and the compiled copy above drift apart.
func TestReadmeQuickStartCompiles(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## Library quick start")
	if !ok {
		t.Fatal("README.md has no \"## Library quick start\" section")
	}
	_, block, _ := strings.Cut(after, "```go\n")
	block, _, _ = strings.Cut(block, "```\n")
	_, fn, _ := strings.Cut(block, ")\n\n") // after the import block
	_, compiled, _ := strings.Cut(string(self), "// --- README quick start ---\n")
	compiled, _, _ = strings.Cut(compiled, "// --- end ---")
	if strings.TrimSpace(fn) == "" || strings.TrimSpace(fn) != strings.TrimSpace(compiled) {
		t.Errorf("README.md's quick start differs from the compiled copy in session/readme_test.go:\nREADME:\n%s\ncompiled:\n%s", fn, compiled)
	}
}
