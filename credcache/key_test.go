package credcache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
)

const botocorePython = "/usr/bin/python3"

// botocoreKey computes the cache key with botocore's own
// AssumeRoleCredentialFetcher._create_cache_key.
func botocoreKey(t *testing.T, roleArn string, extra map[string]any) string {
	t.Helper()
	if _, err := os.Stat(botocorePython); err != nil {
		testpeer.Missing(t, "%s is missing; install python3-botocore (apt-get install python3-boto3)", botocorePython)
	}
	in, err := json.Marshal(map[string]any{"role_arn": roleArn, "extra": extra})
	if err != nil {
		t.Fatal(err)
	}
	const script = `
import json, sys
from botocore.credentials import AssumeRoleCredentialFetcher
a = json.load(sys.stdin)
f = AssumeRoleCredentialFetcher(None, None, a["role_arn"], extra_args=a["extra"] or None)
print(f._cache_key)
`
	cmd := exec.Command(botocorePython, "-c", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if strings.Contains(stderr.String(), "No module named") {
			testpeer.Missing(t, "botocore is not importable by %s; install python3-boto3", botocorePython)
		}
		t.Fatalf("botocore: %v: %s", err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestAssumeRoleKeyEqualsBotocore(t *testing.T) {
	cases := []struct {
		name string
		args AssumeRoleArgs
	}{
		{"role only", AssumeRoleArgs{RoleArn: "arn:aws:iam::111111111111:role/Admin"}},
		{"session name", AssumeRoleArgs{RoleArn: "arn:aws:iam::111111111111:role/Admin", RoleSessionName: "alice@example.com"}},
		{"all", AssumeRoleArgs{
			RoleArn: "arn:aws:iam::222222222222:role/path/Dev", RoleSessionName: "rolehop-alice",
			ExternalId: "ext-\"quoted\"\\back", SerialNumber: "arn:aws:iam::111111111111:mfa/alice",
			DurationSeconds: 3600,
		}},
		{"non-ascii and control", AssumeRoleArgs{RoleArn: "arn:aws:iam::111111111111:role/R", ExternalId: "é\u2028😀\x7f\t<>&"}},
		{"policy", AssumeRoleArgs{
			RoleArn: "arn:aws:iam::111111111111:role/R", DurationSeconds: 900,
			Policy: `{"Version":"2012-10-17","Statement":[{"Resource":"*","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],
			"Condition":{"NumericLessThan":{"x":1.5,"y":10,"z":1e16,"w":0.00001,"v":100.0,"u":-0}},"Null":null,"B":true}]}`,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := AssumeRoleKey(tc.args)
			if err != nil {
				t.Fatal(err)
			}
			extra := map[string]any{}
			if tc.args.RoleSessionName != "" {
				extra["RoleSessionName"] = tc.args.RoleSessionName
			}
			if tc.args.ExternalId != "" {
				extra["ExternalId"] = tc.args.ExternalId
			}
			if tc.args.SerialNumber != "" {
				extra["SerialNumber"] = tc.args.SerialNumber
			}
			if tc.args.DurationSeconds != 0 {
				extra["DurationSeconds"] = tc.args.DurationSeconds
			}
			if tc.args.Policy != "" {
				extra["Policy"] = tc.args.Policy
			}
			want := botocoreKey(t, tc.args.RoleArn, extra)
			if got != want {
				t.Fatalf("AssumeRoleKey = %s, botocore = %s", got, want)
			}
		})
	}
}

func TestAssumeRoleKeyPolicyOrderIrrelevant(t *testing.T) {
	a, err := AssumeRoleKey(AssumeRoleArgs{RoleArn: "arn:aws:iam::1:role/R", Policy: `{"b":1,"a":[1,2]}`})
	if err != nil {
		t.Fatal(err)
	}
	b, err := AssumeRoleKey(AssumeRoleArgs{RoleArn: "arn:aws:iam::1:role/R", Policy: "{ \"a\": [1, 2],\n \"b\": 1 }"})
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("same policy, different keys: %s vs %s", a, b)
	}
	c, _ := AssumeRoleKey(AssumeRoleArgs{RoleArn: "arn:aws:iam::1:role/R", Policy: `{"b":2,"a":[1,2]}`})
	if a == c {
		t.Fatal("different policies gave the same key")
	}
}

func TestAssumeRoleKeyBadInput(t *testing.T) {
	for _, a := range []AssumeRoleArgs{
		{},
		{RoleArn: "arn:aws:iam::1:role/R", Policy: "{not json"},
		{RoleArn: "arn:aws:iam::1:role/R", Policy: `{} {}`},
		{RoleArn: "arn:aws:iam::1:role/R", ExternalId: "\xff"},
	} {
		if _, err := AssumeRoleKey(a); !errors.Is(err, ErrInvalidArgs) {
			t.Errorf("AssumeRoleKey(%+v) error = %v, want ErrInvalidArgs", a, err)
		}
	}
}

// TestReadsEntryWrittenByBotocore: botocore's own JSONFileCache (what the
// AWS CLI uses for ~/.aws/cli/cache) writes an AssumeRole response under
// its own key; rolehop finds it under AssumeRoleKey and uses it unchanged.
func TestReadsEntryWrittenByBotocore(t *testing.T) {
	botocoreKey(t, "arn:aws:iam::1:role/R", nil) // skips when botocore is missing
	dir := t.TempDir()
	const script = `
import sys, datetime
from dateutil.tz import tzutc
from botocore.credentials import AssumeRoleCredentialFetcher
from botocore.utils import JSONFileCache
f = AssumeRoleCredentialFetcher(None, None, "arn:aws:iam::111111111111:role/Dev",
    extra_args={"RoleSessionName": "bob", "DurationSeconds": 3600})
JSONFileCache(sys.argv[1])[f._cache_key] = {
    "Credentials": {"AccessKeyId": "ASIABOTO", "SecretAccessKey": "botosecret", "SessionToken": "bototoken",
                    "Expiration": datetime.datetime(2026, 11, 22, 16, 30, tzinfo=tzutc())},
    "AssumedRoleUser": {"AssumedRoleId": "AROA:bob", "Arn": "arn:aws:sts::111111111111:assumed-role/Dev/bob"},
    "ResponseMetadata": {"RequestId": "r", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}}
`
	if out, err := exec.Command(botocorePython, "-c", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("botocore: %v: %s", err, out)
	}
	key, err := AssumeRoleKey(AssumeRoleArgs{RoleArn: "arn:aws:iam::111111111111:role/Dev", RoleSessionName: "bob", DurationSeconds: 3600})
	if err != nil {
		t.Fatal(err)
	}
	c := &Cache{Dir: dir, Now: func() time.Time { return time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC) }}
	e, err := c.GetEntry(t.Context(), key, func(ctx context.Context) (Entry, error) {
		return Entry{}, errors.New("must not fetch: the botocore entry is fresh")
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Credentials.AccessKeyID != "ASIABOTO" || e.Credentials.SessionToken != "bototoken" ||
		!e.Credentials.Expires.Equal(time.Date(2026, 11, 22, 16, 30, 0, 0, time.UTC)) || e.AssumedRoleUser.Arn == "" {
		t.Fatalf("entry = %+v", e)
	}
}
