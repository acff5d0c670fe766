package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/stsfake"
)

// awsEnv points the SDK at srv with empty AWS files, no instance metadata
// and no credentials from the environment, and returns the folder holding
// the config and credentials files.
func awsEnv(t *testing.T, srv *stsfake.Server, config, credentials string) string {
	t.Helper()
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, []byte(credentials), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             cfg,
		"AWS_SHARED_CREDENTIALS_FILE": creds,
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_ENDPOINT_URL_STS":        srv.URL,
		"AWS_ENDPOINT_URL":            "",
		"AWS_REGION":                  "us-east-1",
		"AWS_DEFAULT_REGION":          "",
		"AWS_PROFILE":                 "",
		"AWS_DEFAULT_PROFILE":         "",
		"AWS_ACCESS_KEY_ID":           "",
		"AWS_SECRET_ACCESS_KEY":       "",
		"AWS_SESSION_TOKEN":           "",
		"AWS_MAX_ATTEMPTS":            "",
		"AWS_RETRY_MODE":              "",
	} {
		t.Setenv(k, v)
	}
	return dir
}

const profiles = `[profile dev]
role_arn = arn:aws:iam::111111111111:role/Admin
source_profile = base
role_session_name = whoami-test
`

const baseCreds = `[base]
aws_access_key_id = AKIABASEEXAMPLE
aws_secret_access_key = base-secret-do-not-print
`

func TestWhoamiJSONFromEnvironmentCredentials(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithAccount("123456789012"))
	awsEnv(t, srv, "", "")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret-do-not-print")

	out, stderr, err := execute(t, "whoami", "--debug")
	if err != nil {
		t.Fatalf("whoami: %v", err)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("whoami output is not JSON: %v\n%s", err, out)
	}
	if got["Account"] != "123456789012" || got["Arn"] != "arn:aws:iam::123456789012:user/rolehop-test" || !strings.HasPrefix(got["UserId"], "AIDA") {
		t.Errorf("whoami = %v", got)
	}
	// The AWS CLI's layout: indent 4, keys UserId, Account, Arn.
	want := "{\n    \"UserId\": \"" + got["UserId"] + "\",\n    \"Account\": \"123456789012\",\n    \"Arn\": \"arn:aws:iam::123456789012:user/rolehop-test\"\n}\n"
	if out != want {
		t.Errorf("whoami output:\n%s\nwant:\n%s", out, want)
	}
	if n := srv.Calls("GetCallerIdentity"); n != 1 {
		t.Errorf("GetCallerIdentity calls = %d, want 1", n)
	}
	if !strings.Contains(stderr, "GetCallerIdentity") {
		t.Errorf("--debug logged nothing about the call: %q", stderr)
	}
	if strings.Contains(stderr+out, "env-secret-do-not-print") {
		t.Error("the secret key appears in whoami's output or debug log")
	}
}

func TestWhoamiProfileAssumesRole(t *testing.T) {
	const wantArn = "arn:aws:sts::111111111111:assumed-role/Admin/whoami-test"
	for _, tc := range []struct {
		name, awsProfile string
		args             []string
	}{
		{"flag", "", []string{"whoami", "--profile", "dev", "--output", "text"}},
		{"AWS_PROFILE", "dev", []string{"whoami", "-o", "text"}},
		{"positional plain profile", "", []string{"whoami", "dev", "-o", "text"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := stsfake.NewForTest(t)
			awsEnv(t, srv, profiles, baseCreds)
			t.Setenv("AWS_PROFILE", tc.awsProfile)
			out, _, err := execute(t, tc.args...)
			if err != nil {
				t.Fatalf("whoami: %v", err)
			}
			f := strings.Split(strings.TrimSuffix(out, "\n"), "\t")
			if len(f) != 3 || f[0] != "111111111111" || f[1] != wantArn || !strings.HasPrefix(f[2], "AROA") {
				t.Errorf("whoami --output text = %q, want Account, Arn, UserId tab-separated", out)
			}
			if n := srv.RoleCalls("arn:aws:iam::111111111111:role/Admin"); n != 1 {
				t.Errorf("AssumeRole calls for the profile's role = %d, want 1", n)
			}
		})
	}
}

func TestWhoamiErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     []string
		failNext string
		code     int
		msg      string
	}{
		{"bad output", []string{"whoami", "--output", "yaml"}, "", ExitUsage, `--output "yaml": want json or text`},
		{"unknown profile", []string{"whoami", "--profile", "nope"}, "", ExitUsage, `AWS profile "nope" not found`},
		{"extra argument", []string{"whoami", "one", "two"}, "", ExitUsage, "at most one profile"},
		{"unknown positional profile", []string{"whoami", "nope"}, "", ExitUsage, `profile "nope" not found`},
		{"profile twice", []string{"whoami", "dev", "--profile", "base"}, "", ExitUsage, "profile given twice"},
		{"unknown flag", []string{"whoami", "--bogus"}, "", ExitUsage, "unknown flag: --bogus"},
		{"unknown command", []string{"whoamii"}, "", ExitUsage, `unknown command "whoamii"`},
		{"sts denies", []string{"whoami", "--profile", "base"}, "AccessDenied", ExitAWS, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := stsfake.NewForTest(t)
			awsEnv(t, srv, profiles, baseCreds)
			if tc.failNext != "" {
				srv.FailNext("GetCallerIdentity", 1, tc.failNext)
			}
			out, _, err := execute(t, tc.args...)
			if err == nil {
				t.Fatalf("no error; output %q", out)
			}
			if got := ExitCode(err); got != tc.code {
				t.Errorf("ExitCode = %d, want %d (err %v)", got, tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not say %q", err, tc.msg)
			}
			if strings.Contains(OneLine(err), "base-secret-do-not-print") {
				t.Error("the error shows the secret key")
			}
		})
	}
}

// TestWhoamiNoCredentials: with nothing configured, one clear line and exit
// 2, no SDK warning on stderr and no call to STS.
func TestWhoamiNoCredentials(t *testing.T) {
	srv := stsfake.NewForTest(t)
	awsEnv(t, srv, "", "")
	out, errOut, err := execute(t, "whoami")
	if ExitCode(err) != ExitUsage || !strings.Contains(OneLine(err), "no AWS credentials found") {
		t.Fatalf("whoami without credentials: exit %d, %v", ExitCode(err), err)
	}
	if out != "" || errOut != "" {
		t.Errorf("stdout %q, stderr %q: want both empty (the error is printed by main)", out, errOut)
	}
	if n := srv.Calls("GetCallerIdentity"); n != 0 {
		t.Errorf("STS called %d times without credentials", n)
	}
}

func TestRootVersionAndHelp(t *testing.T) {
	out, _, err := execute(t, "--version")
	if err != nil || out != "rolehop v1.2.3-test\n" {
		t.Errorf("--version = %q, %v", out, err)
	}
	out, _, err = execute(t)
	if err != nil || !strings.Contains(out, "whoami") || !strings.Contains(out, "--debug") {
		t.Errorf("rolehop without arguments: err %v, help %q", err, out)
	}
}
