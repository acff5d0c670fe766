package awsfile

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/testpeer"
)

// awsBin is Debian's AWS CLI v2 (another aws on PATH may be a v1 install).
const awsBin = "/usr/bin/aws"

// runAWS runs the AWS CLI with only the given files, no instance metadata and
// every proxy pointing at a closed port, so nothing leaves the machine.
func runAWS(t *testing.T, creds, config string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(awsBin); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 from Debian (%s) is not installed: %v", awsBin, err)
	}
	cmd := exec.Command(awsBin, args...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + t.TempDir(),
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + config,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func awsGet(t *testing.T, creds, config, profile, key string) string {
	t.Helper()
	out, err := runAWS(t, creds, config, "configure", "get", key, "--profile", profile)
	if err != nil {
		t.Fatalf("aws configure get %s --profile %s: %v: %s", key, profile, err, out)
	}
	return out
}

func TestAWSCLIReadsWrittenProfiles(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	config := filepath.Join(dir, "config")
	writeFile(t, creds, fixture, 0o600)
	const configBefore = "# my settings\n[default]\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
	writeFile(t, config, configBefore, 0o644)
	ctx := context.Background()
	if err := UpdateCredentials(ctx, creds, "rolehop-dev", sessionCreds); err != nil {
		t.Fatal(err)
	}
	if err := UpdateConfig(ctx, config, "rolehop-dev", map[string]string{KeyRegion: "eu-central-1", KeyOutput: "json"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, config); got != configBefore+"\n[profile rolehop-dev]\nregion = eu-central-1\noutput = json\n" {
		t.Fatalf("config:\n%s", got)
	}

	out, err := runAWS(t, creds, config, "configure", "list", "--profile", "rolehop-dev")
	if err != nil {
		t.Fatalf("aws configure list: %v: %s", err, out)
	}
	for _, want := range []string{"****************WXYZ", "shared-credentials-file", "eu-central-1", "config-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("aws configure list does not show %q:\n%s", want, out)
		}
	}
	for key, want := range map[string]string{
		KeyAccessKeyID:  sessionCreds[KeyAccessKeyID],
		KeySessionToken: sessionCreds[KeySessionToken],
		KeyExpiration:   sessionCreds[KeyExpiration],
		KeyRegion:       "eu-central-1",
		KeyOutput:       "json",
	} {
		if got := awsGet(t, creds, config, "rolehop-dev", key); got != want {
			t.Errorf("aws configure get %s = %q, want %q", key, got, want)
		}
	}
	// The profiles that were there before still read the same.
	if got := awsGet(t, creds, config, "work", KeyAccessKeyID); got != "AKIAWORK" {
		t.Errorf("work access key = %q", got)
	}
	if got := awsGet(t, creds, config, "default", KeyRegion); got != "us-east-1" {
		t.Errorf("default region = %q", got)
	}

	// Credentials refreshed in place are what the CLI reads next.
	rotated := helperValues("rolehop-dev", 7)
	if err := UpdateCredentials(ctx, creds, "rolehop-dev", rotated); err != nil {
		t.Fatal(err)
	}
	if got := awsGet(t, creds, config, "rolehop-dev", KeySessionToken); got != rotated[KeySessionToken] {
		t.Errorf("after refresh the session token is %q", got)
	}
}

// TestAWSCLIAgreesWithTheParser runs the parser's test tables through the AWS
// CLI: it refuses every file the parser calls malformed, and reads the same
// value from every odd file the parser accepts.
func TestAWSCLIAgreesWithTheParser(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	writeFile(t, config, "", 0o600)
	for i, c := range malformedCases {
		creds := filepath.Join(dir, "malformed"+string(rune('a'+i)))
		writeFile(t, creds, c.data, 0o600)
		out, err := runAWS(t, creds, config, "configure", "get", "aws_access_key_id", "--profile", "p")
		if err == nil || !strings.Contains(out, "Unable to parse config file") {
			t.Errorf("%s: the AWS CLI accepted a file the parser rejects: %v %q", c.name, err, out)
		}
	}
	for i, c := range acceptedCases {
		creds := filepath.Join(dir, "accepted"+string(rune('a'+i)))
		writeFile(t, creds, c.data, 0o600)
		out, err := runAWS(t, creds, config, "configure", "get", "aws_access_key_id", "--profile", "p")
		var ee *exec.ExitError
		switch {
		case c.want == "" && errors.As(err, &ee) && out == "":
			// `configure get` exits 1 without output for a missing key.
		case err != nil:
			t.Errorf("%s: the AWS CLI failed: %v %q", c.name, err, out)
		case out != c.want:
			t.Errorf("%s: the AWS CLI reads %q, the parser %q", c.name, out, c.want)
		}
	}
}
