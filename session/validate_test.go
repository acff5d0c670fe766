package session_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

func TestValidationBeforeAnyCall(t *testing.T) {
	srv := stsfake.NewForTest(t)
	parent := baseConfig(srv, "us-east-1")
	manyTags := map[string]string{}
	for i := range 51 {
		manyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	var elevenARNs []string
	for i := range 11 {
		elevenARNs = append(elevenARNs, fmt.Sprintf("arn:aws:iam::aws:policy/P%d", i))
	}
	code := func(context.Context) (string, error) { return "123456", nil }
	for _, tc := range []struct {
		name, field string
		arn         string
		opts        func(*session.AssumeRoleOptions)
	}{
		{"arn not a role", "RoleArn", "arn:aws:iam::111111111111:user/bob", nil},
		{"arn short account", "RoleArn", "arn:aws:iam::11111111111:role/R", nil},
		{"arn bad partition", "RoleArn", "arn:aws-xx:iam::111111111111:role/R", nil},
		{"arn no name", "RoleArn", "arn:aws:iam::111111111111:role/", nil},
		{"arn name too long", "RoleArn", "arn:aws:iam::111111111111:role/" + strings.Repeat("r", 65), nil},
		{"session name short", "RoleSessionName", role1, func(o *session.AssumeRoleOptions) { o.RoleSessionName = "a" }},
		{"session name long", "RoleSessionName", role1, func(o *session.AssumeRoleOptions) { o.RoleSessionName = strings.Repeat("a", 65) }},
		{"session name charset", "RoleSessionName", role1, func(o *session.AssumeRoleOptions) { o.RoleSessionName = "alice smith" }},
		{"duration short", "DurationSeconds", role1, func(o *session.AssumeRoleOptions) { o.Duration = 899 * time.Second }},
		{"duration long", "DurationSeconds", role1, func(o *session.AssumeRoleOptions) { o.Duration = 12*time.Hour + time.Second }},
		{"external id short", "ExternalId", role1, func(o *session.AssumeRoleOptions) { o.ExternalID = "x" }},
		{"external id long", "ExternalId", role1, func(o *session.AssumeRoleOptions) { o.ExternalID = strings.Repeat("x", 1225) }},
		{"external id charset", "ExternalId", role1, func(o *session.AssumeRoleOptions) { o.ExternalID = "has space" }},
		{"source identity aws:", "SourceIdentity", role1, func(o *session.AssumeRoleOptions) { o.SourceIdentity = "aws:alice" }},
		{"source identity charset", "SourceIdentity", role1, func(o *session.AssumeRoleOptions) { o.SourceIdentity = "alice/smith" }},
		{"source identity short", "SourceIdentity", role1, func(o *session.AssumeRoleOptions) { o.SourceIdentity = "a" }},
		{"policy too large", "Policy", role1, func(o *session.AssumeRoleOptions) { o.PolicyJSON = `{"x":"` + strings.Repeat("a", 2048) + `"}` }},
		{"policy not JSON-able", "Policy", role1, func(o *session.AssumeRoleOptions) {
			o.Policy = &session.Policy{Statement: []session.PolicyStatement{{Effect: "Allow", Condition: map[string]map[string]any{"x": {"y": make(chan int)}}}}}
		}},
		{"policy effect", "Policy", role1, func(o *session.AssumeRoleOptions) {
			o.Policy = &session.Policy{Statement: []session.PolicyStatement{{Effect: "allow", Action: []string{"*"}}}}
		}},
		{"policy twice", "Policy", role1, func(o *session.AssumeRoleOptions) {
			o.PolicyJSON, o.Policy = "{}", &session.Policy{Statement: []session.PolicyStatement{{Effect: "Allow"}}}
		}},
		{"policy arns too many", "PolicyArns", role1, func(o *session.AssumeRoleOptions) { o.PolicyARNs = elevenARNs }},
		{"policy arn shape", "PolicyArns", role1, func(o *session.AssumeRoleOptions) { o.PolicyARNs = []string{"arn:aws:iam::aws:role/X"} }},
		{"tags too many", "Tags", role1, func(o *session.AssumeRoleOptions) { o.Tags = manyTags }},
		{"tag key empty", "Tags", role1, func(o *session.AssumeRoleOptions) { o.Tags = map[string]string{"": "v"} }},
		{"tag key long", "Tags", role1, func(o *session.AssumeRoleOptions) { o.Tags = map[string]string{strings.Repeat("k", 129): "v"} }},
		{"tag value long", "Tags", role1, func(o *session.AssumeRoleOptions) { o.Tags = map[string]string{"k": strings.Repeat("v", 257)} }},
		{"transitive key not a tag", "TransitiveTagKeys", role1, func(o *session.AssumeRoleOptions) {
			o.Tags, o.TransitiveTagKeys = map[string]string{"a": "1"}, []string{"b"}
		}},
		{"mfa serial shape", "SerialNumber", role1, func(o *session.AssumeRoleOptions) { o.MFA = &session.MFA{SerialNumber: "short", TokenCode: code} }},
		{"mfa without callback", "TokenCode", role1, func(o *session.AssumeRoleOptions) {
			o.MFA = &session.MFA{SerialNumber: "arn:aws:iam::123456789012:mfa/alice"}
		}},
		{"refresh share", "refresh share", role1, func(o *session.AssumeRoleOptions) { o.Refresh.Share = 1.5 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []func(*session.AssumeRoleOptions)
			if tc.opts != nil {
				opts = append(opts, tc.opts)
			}
			_, err := session.RoleConfig(parent, tc.arn, opts...)
			var pe *session.ParamError
			if !errors.As(err, &pe) || !errors.Is(err, session.ErrInvalidParameter) {
				t.Fatalf("want *ParamError, got %T %v", err, err)
			}
			if pe.Field != tc.field || !strings.Contains(err.Error(), tc.field) || pe.Rule == "" {
				t.Errorf("error %q names field %q, want %q and a rule", err, pe.Field, tc.field)
			}
		})
	}
	t.Run("parent without credentials", func(t *testing.T) {
		_, err := session.RoleConfig(aws.Config{Region: "us-east-1"}, role1)
		if !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("token code from callback", func(t *testing.T) {
		child, err := session.RoleConfig(parent, role1, func(o *session.AssumeRoleOptions) {
			o.MFA = &session.MFA{SerialNumber: "arn:aws:iam::123456789012:mfa/alice", TokenCode: func(context.Context) (string, error) { return "12345", nil }}
		})
		if err != nil {
			t.Fatal(err)
		}
		_, err = child.Credentials.Retrieve(context.Background())
		var pe *session.ParamError
		if !errors.As(err, &pe) || pe.Field != "TokenCode" {
			t.Errorf("got %v, want a TokenCode ParamError", err)
		}
	})
	t.Run("cross account", func(t *testing.T) {
		base := staticProvider{cfg: parent}
		for _, c := range []struct{ base, role, field string }{
			{"12345", "Ops", "account ID"},
			{"123456789012", "bad role name", "role name"},
			{"123456789012", strings.Repeat("r", 65), "role name"},
		} {
			if _, err := session.NewCrossAccount(base, c.base, c.role); !errors.Is(err, session.ErrInvalidParameter) || !strings.Contains(err.Error(), c.field) {
				t.Errorf("NewCrossAccount(%q, %q): %v, want a %s error", c.base, c.role, err, c.field)
			}
		}
		if _, err := session.NewCrossAccount(base, "123456789012", "Ops", func(o *session.AssumeRoleOptions) { o.Duration = time.Minute }); !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("bad duration accepted: %v", err)
		}
		ca, err := session.NewCrossAccount(base, "123456789012", "path/to/Ops")
		if err != nil {
			t.Fatal(err)
		}
		for _, acct := range []string{"", "12345678901", "1234567890123", "12345678901a"} {
			if _, err := ca.Credentials(context.Background(), acct); !errors.Is(err, session.ErrInvalidParameter) {
				t.Errorf("account %q: %v", acct, err)
			}
			if _, err := session.Config(context.Background(), ca, acct); !errors.Is(err, session.ErrInvalidParameter) {
				t.Errorf("Config account %q: %v", acct, err)
			}
		}
	})
	if n := srv.Calls("AssumeRole"); n != 0 {
		t.Errorf("validation failures made %d STS calls, want 0", n)
	}
}

func TestLambdaSessionName(t *testing.T) {
	for _, tc := range []struct {
		fn, version, stream, want string
	}{
		{"billing", "$LATEST", "2024/01/01/[$LATEST]0123abcd4567ef", "billing.0123abcd4567ef"},
		{"billing", "7", "2024/01/01/[7]0123abcd", "billing.7.0123abcd"},
		{"my:func name", "", "", "my-func-name"},
		{strings.Repeat("f", 60), "12", "2024/01/01/[12]abcdef0123456789", strings.Repeat("f", 60) + ".12."},
	} {
		t.Setenv("AWS_LAMBDA_FUNCTION_NAME", tc.fn)
		t.Setenv("AWS_LAMBDA_FUNCTION_VERSION", tc.version)
		t.Setenv("AWS_LAMBDA_LOG_STREAM_NAME", tc.stream)
		got := session.LambdaSessionName()
		if got != tc.want {
			t.Errorf("LambdaSessionName(%q, %q, %q) = %q, want %q", tc.fn, tc.version, tc.stream, got, tc.want)
		}
		if err := session.ValidateSessionName(got); err != nil {
			t.Errorf("%q is not a valid session name: %v", got, err)
		}
	}
	t.Setenv("AWS_LAMBDA_FUNCTION_NAME", "")
	if got := session.LambdaSessionName(); !strings.HasPrefix(got, "rolehop-") || session.ValidateSessionName(got) != nil {
		t.Errorf("outside Lambda: %q", got)
	}
}

func TestValidateAssumeRoleNeedsNoParent(t *testing.T) {
	good := "arn:aws:iam::123456789012:role/Admin"
	if err := session.ValidateAssumeRole(good, session.AssumeRoleParams{Duration: time.Hour, ExternalID: "ext-1"}); err != nil {
		t.Errorf("valid role and options: %v", err)
	}
	for name, tc := range map[string]struct {
		arn   string
		p     session.AssumeRoleParams
		field string
	}{
		"bad ARN":         {"arn:aws:iam::12:role/Admin", session.AssumeRoleParams{}, "RoleARN"},
		"duration short":  {good, session.AssumeRoleParams{Duration: time.Minute}, "DurationSeconds"},
		"bad external id": {good, session.AssumeRoleParams{ExternalID: "x"}, "ExternalId"},
	} {
		err := session.ValidateAssumeRole(tc.arn, tc.p)
		var pe *session.ParamError
		if !errors.As(err, &pe) || !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("%s: want a *ParamError, got %v", name, err)
			continue
		}
		if !strings.EqualFold(pe.Field, tc.field) {
			t.Errorf("%s: field %q, want %q", name, pe.Field, tc.field)
		}
	}
}
