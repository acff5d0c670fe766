package awsarn

import (
	"errors"
	"testing"
)

func TestParseRole(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Role
	}{
		{"arn:aws:iam::111111111111:role/Admin", Role{"aws", "111111111111", "", "Admin"}},
		{"arn:aws-cn:iam::222222222222:role/team/sub/Dev", Role{"aws-cn", "222222222222", "team/sub", "Dev"}},
		{"arn:aws-us-gov:iam::333333333333:role/R", Role{"aws-us-gov", "333333333333", "", "R"}},
	} {
		got, err := ParseRole(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseRole(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
		if got.ARN() != tc.in {
			t.Errorf("ARN() = %q, want %q", got.ARN(), tc.in)
		}
	}
	for _, bad := range []string{"", "arn:aws:iam::11111111111:role/A", "arn:aws:s3:::bucket", "arn:aws:iam::111111111111:user/A",
		"arn:aws:iam::111111111111:role/", "arn:aws:iam::111111111111:role/A/", "arn:foo:iam::111111111111:role/A", "arn:aws:iam:us-east-1:111111111111:role/A"} {
		if _, err := ParseRole(bad); !errors.Is(err, ErrNotRoleARN) {
			t.Errorf("ParseRole(%q) = %v, want ErrNotRoleARN", bad, err)
		}
	}
}

func TestMatchesName(t *testing.T) {
	r, _ := ParseRole("arn:aws:iam::111111111111:role/team/Dev")
	for name, want := range map[string]bool{"Dev": true, "dev": true, "team/Dev": true, "/team/dev/": true, "other/Dev": false, "Admin": false} {
		if got := r.MatchesName(name); got != want {
			t.Errorf("MatchesName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestPartitions(t *testing.T) {
	for region, want := range map[string]string{"": "aws", "eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"} {
		if got := PartitionOf(region).ID; got != want {
			t.Errorf("PartitionOf(%q) = %q, want %q", region, got, want)
		}
	}
	p, ok := LookupPartition("aws-cn")
	if !ok || p.FederationURL() != "https://signin.amazonaws.cn/federation" || p.SAMLEndpoint() != "https://signin.amazonaws.cn/saml" {
		t.Errorf("aws-cn = %+v", p)
	}
	if GlobalRegion("") != "us-east-1" || GlobalRegion("eu-west-1") != "eu-west-1" {
		t.Error("GlobalRegion")
	}
	if !IsAccountID("012345678901") || IsAccountID("01234567890a") || IsAccountID("1234") {
		t.Error("IsAccountID")
	}
	if AccountOf("arn:aws:iam::111111111111:role/A") != "111111111111" || AccountOf("x") != "" {
		t.Error("AccountOf")
	}
}
