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
		opts        []session.Option
	}{
		{"arn not a role", "RoleArn", "arn:aws:iam::111111111111:user/bob", nil},
		{"arn short account", "RoleArn", "arn:aws:iam::11111111111:role/R", nil},
		{"arn bad partition", "RoleArn", "arn:aws-xx:iam::111111111111:role/R", nil},
		{"arn no name", "RoleArn", "arn:aws:iam::111111111111:role/", nil},
		{"arn name too long", "RoleArn", "arn:aws:iam::111111111111:role/" + strings.Repeat("r", 65), nil},
		{"session name short", "RoleSessionName", role1, []session.Option{session.WithRoleSessionName("a")}},
		{"session name long", "RoleSessionName", role1, []session.Option{session.WithRoleSessionName(strings.Repeat("a", 65))}},
		{"session name charset", "RoleSessionName", role1, []session.Option{session.WithRoleSessionName("alice smith")}},
		{"duration short", "DurationSeconds", role1, []session.Option{session.WithDuration(899 * time.Second)}},
		{"duration long", "DurationSeconds", role1, []session.Option{session.WithDuration(12*time.Hour + time.Second)}},
		{"external id short", "ExternalId", role1, []session.Option{session.WithExternalID("x")}},
		{"external id long", "ExternalId", role1, []session.Option{session.WithExternalID(strings.Repeat("x", 1225))}},
		{"external id charset", "ExternalId", role1, []session.Option{session.WithExternalID("has space")}},
		{"source identity aws:", "SourceIdentity", role1, []session.Option{session.WithSourceIdentity("aws:alice")}},
		{"source identity charset", "SourceIdentity", role1, []session.Option{session.WithSourceIdentity("alice/smith")}},
		{"source identity short", "SourceIdentity", role1, []session.Option{session.WithSourceIdentity("a")}},
		{"policy too large", "Policy", role1, []session.Option{session.WithPolicy(map[string]string{"x": strings.Repeat("a", 2048)})}},
		{"policy not JSON-able", "Policy", role1, []session.Option{session.WithPolicy(make(chan int))}},
		{"policy arns too many", "PolicyArns", role1, []session.Option{session.WithPolicyARNs(elevenARNs...)}},
		{"policy arn shape", "PolicyArns", role1, []session.Option{session.WithPolicyARNs("arn:aws:iam::aws:role/X")}},
		{"tags too many", "Tags", role1, []session.Option{session.WithTags(manyTags)}},
		{"tag key empty", "Tags", role1, []session.Option{session.WithTags(map[string]string{"": "v"})}},
		{"tag key long", "Tags", role1, []session.Option{session.WithTags(map[string]string{strings.Repeat("k", 129): "v"})}},
		{"tag value long", "Tags", role1, []session.Option{session.WithTags(map[string]string{"k": strings.Repeat("v", 257)})}},
		{"transitive key not a tag", "TransitiveTagKeys", role1, []session.Option{session.WithTags(map[string]string{"a": "1"}), session.WithTransitiveTagKeys("b")}},
		{"mfa serial shape", "SerialNumber", role1, []session.Option{session.WithMFA("short", code)}},
		{"mfa without callback", "TokenCode", role1, []session.Option{session.WithMFA("arn:aws:iam::123456789012:mfa/alice", nil)}},
		{"refresh share", "refresh share", role1, []session.Option{session.WithRefreshShare(1.5)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := session.AssumeRole(parent, tc.arn, tc.opts...)
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
		_, err := session.AssumeRole(aws.Config{Region: "us-east-1"}, role1)
		if !errors.Is(err, session.ErrInvalidParameter) {
			t.Errorf("got %v", err)
		}
	})
	t.Run("token code from callback", func(t *testing.T) {
		child, err := session.AssumeRole(parent, role1, session.WithMFA("arn:aws:iam::123456789012:mfa/alice",
			func(context.Context) (string, error) { return "12345", nil }))
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
		if _, err := session.NewCrossAccount(base, "123456789012", "Ops", session.WithDuration(time.Minute)); !errors.Is(err, session.ErrInvalidParameter) {
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
			if _, err := ca.Config(context.Background(), acct); !errors.Is(err, session.ErrInvalidParameter) {
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
	if err := session.ValidateAssumeRole(good, session.WithDuration(time.Hour), session.WithExternalID("ext-1")); err != nil {
		t.Errorf("valid role and options: %v", err)
	}
	for name, tc := range map[string]struct {
		arn   string
		opt   session.Option
		field string
	}{
		"bad ARN":         {"arn:aws:iam::12:role/Admin", nil, "RoleARN"},
		"duration short":  {good, session.WithDuration(time.Minute), "DurationSeconds"},
		"bad external id": {good, session.WithExternalID("x"), "ExternalId"},
	} {
		var opts []session.Option
		if tc.opt != nil {
			opts = append(opts, tc.opt)
		}
		err := session.ValidateAssumeRole(tc.arn, opts...)
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

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"3600": time.Hour, " 1h ": time.Hour, "90m": 90 * time.Minute, "1h30m": 90 * time.Minute, "0": 0} {
		if got, err := session.ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5", "-1h", "soon", "1 hour", "99999999999999999999"} {
		if got, err := session.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}
