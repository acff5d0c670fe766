// Package awsarn holds the small facts about AWS names that several rolehop
// packages need: account IDs, IAM role ARNs and names, and partitions (which
// region belongs to which, and each partition's sign-in and console hosts).
//
// It has no dependency beyond the standard library, so the lightest programs
// (the credential_process fast path) can use it too.
package awsarn

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNotRoleARN: a string is not an IAM role ARN.
var ErrNotRoleARN = errors.New("not an IAM role ARN")

// IsAccountID reports whether s is a 12-digit AWS account ID.
func IsAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Role is a parsed IAM role ARN: arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.
type Role struct {
	Partition string // aws, aws-cn or aws-us-gov
	AccountID string // 12 digits
	Path      string // "" or "team/sub" (no leading or trailing slash)
	Name      string // the role's name, without its path
}

// ParseRole reads an IAM role ARN. It checks the shape (partition known,
// service iam, 12-digit account, a role resource with a name); the name's
// character set is IAM's business (session.ValidateRoleARN checks it before
// any STS call).
func ParseRole(arn string) (Role, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[3] != "" {
		return Role{}, fmt.Errorf("%w: %q; want arn:aws:iam::123456789012:role/NAME", ErrNotRoleARN, clip(arn))
	}
	if _, ok := LookupPartition(parts[1]); !ok {
		return Role{}, fmt.Errorf("%w: %q: unknown partition %q (aws, aws-cn or aws-us-gov)", ErrNotRoleARN, clip(arn), clip(parts[1]))
	}
	if !IsAccountID(parts[4]) {
		return Role{}, fmt.Errorf("%w: %q: the account must be 12 digits", ErrNotRoleARN, clip(arn))
	}
	res, ok := strings.CutPrefix(parts[5], "role/")
	if !ok || res == "" || strings.HasSuffix(res, "/") {
		return Role{}, fmt.Errorf("%w: %q: want role/[PATH/]NAME after the account", ErrNotRoleARN, clip(arn))
	}
	r := Role{Partition: parts[1], AccountID: parts[4], Name: res}
	if i := strings.LastIndexByte(res, '/'); i >= 0 {
		r.Path, r.Name = strings.Trim(res[:i], "/"), res[i+1:]
	}
	return r, nil
}

// ARN returns the role's ARN.
func (r Role) ARN() string { return RoleARN(r.Partition, r.AccountID, r.PathName()) }

// PathName returns "PATH/NAME", or NAME when the role has no path.
func (r Role) PathName() string {
	if r.Path == "" {
		return r.Name
	}
	return r.Path + "/" + r.Name
}

// MatchesName reports whether the role is the one name designates, as IAM
// compares names (case-insensitively): a bare NAME matches any path, a
// "PATH/NAME" must match the whole path.
func (r Role) MatchesName(name string) bool {
	name = strings.Trim(name, "/")
	if strings.Contains(name, "/") {
		return strings.EqualFold(r.PathName(), name)
	}
	return strings.EqualFold(r.Name, name)
}

// RoleARN builds arn:PARTITION:iam::ACCOUNT:role/PATHNAME. An empty
// partition means aws.
func RoleARN(partition, accountID, pathName string) string {
	if partition == "" {
		partition = "aws"
	}
	return "arn:" + partition + ":iam::" + accountID + ":role/" + strings.TrimPrefix(pathName, "/")
}

// AccountOf returns the account field of any ARN ("" when it has none).
func AccountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return ""
	}
	return parts[4]
}

// Partition is an AWS partition and the endpoints rolehop talks to in it.
type Partition struct {
	ID            string // aws, aws-cn, aws-us-gov
	SigninHost    string // signin.aws.amazon.com, ...
	ConsoleHost   string // console.aws.amazon.com, ...
	DefaultRegion string // the region of its global endpoints
}

// FederationURL is the partition's console federation endpoint
// (getSigninToken, login).
func (p Partition) FederationURL() string { return "https://" + p.SigninHost + "/federation" }

// SAMLEndpoint is the partition's SAML sign-in endpoint: the recipient of
// an IdP's SAML response for AWS.
func (p Partition) SAMLEndpoint() string { return "https://" + p.SigninHost + "/saml" }

var partitions = []Partition{
	{ID: "aws", SigninHost: "signin.aws.amazon.com", ConsoleHost: "console.aws.amazon.com", DefaultRegion: "us-east-1"},
	{ID: "aws-cn", SigninHost: "signin.amazonaws.cn", ConsoleHost: "console.amazonaws.cn", DefaultRegion: "cn-north-1"},
	{ID: "aws-us-gov", SigninHost: "signin.amazonaws-us-gov.com", ConsoleHost: "console.amazonaws-us-gov.com", DefaultRegion: "us-gov-west-1"},
}

// Partitions returns the partitions rolehop knows.
func Partitions() []Partition { return append([]Partition(nil), partitions...) }

// LookupPartition returns the partition with that ID.
func LookupPartition(id string) (Partition, bool) {
	for _, p := range partitions {
		if p.ID == id {
			return p, true
		}
	}
	return Partition{}, false
}

// PartitionOf returns the partition a region belongs to: aws-cn for cn-*,
// aws-us-gov for us-gov-*, else aws (also for an empty region).
func PartitionOf(region string) Partition {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return partitions[1]
	case strings.HasPrefix(region, "us-gov-"):
		return partitions[2]
	default:
		return partitions[0]
	}
}

// GlobalRegion returns region, or us-east-1 when it is empty: the region
// global calls (STS, S3) are signed for when none is configured, as the AWS
// CLI does.
func GlobalRegion(region string) string {
	if region != "" {
		return region
	}
	return partitions[0].DefaultRegion
}

// clip bounds an echoed input in messages.
func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
