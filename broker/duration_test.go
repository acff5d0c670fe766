package broker_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/rolehop/rolehop/broker"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/session"
)

// imdsFake is EC2 instance metadata (IMDSv2) handing out an instance
// role's credentials, in the documented format: what no peer here plays.
func imdsFake(t *testing.T, creds stsfake.Credentials) *httptest.Server {
	const token = "imds-session-token"
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" {
			if r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds") == "" {
				http.Error(w, "missing ttl", http.StatusBadRequest)
				return
			}
			w.Header().Set("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", r.Header.Get("X-Aws-Ec2-Metadata-Token-Ttl-Seconds"))
			_, _ = w.Write([]byte(token))
			return
		}
		if r.Header.Get("X-Aws-Ec2-Metadata-Token") != token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/latest/meta-data/iam/security-credentials/":
			_, _ = w.Write([]byte("broker-instance-role"))
		case "/latest/meta-data/iam/security-credentials/broker-instance-role":
			_ = json.NewEncoder(w).Encode(map[string]string{
				"Code": "Success", "Type": "AWS-HMAC", "LastUpdated": time.Now().UTC().Format(time.RFC3339),
				"AccessKeyId": creds.AccessKeyID, "SecretAccessKey": creds.SecretAccessKey, "Token": creds.SessionToken,
				"Expiration": creds.Expiration.Format(time.RFC3339),
			})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ts.Close)
	return ts
}

// cleanAWSEnv keeps the test's own AWS environment and files out of the
// SDK's default chain.
func cleanAWSEnv(t *testing.T) string {
	dir := t.TempDir()
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_EC2_METADATA_SERVICE_ENDPOINT"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	return dir
}

const eightHourTargets = `targets:
  admin:
    role: ` + adminRole + `
    groups: [admins]
    duration: 8h
`

const defaultDurationTargets = `default_duration: 8h
targets:
  admin:
    role: ` + adminRole + `
    groups: [admins]
`

// openConsole signs alice in and opens the admin target; it returns the
// AssumeRole form and the getSigninToken SessionDuration the broker sent.
func openConsole(t *testing.T, h *harness) (durationSeconds, sessionDuration string) {
	t.Helper()
	b := h.browser()
	h.login(b, "alice", "admins")
	r := b.nav(h.url + "/admin")
	if r.StatusCode != http.StatusFound || !strings.HasPrefix(r.Header.Get("Location"), h.fed.URL) {
		t.Fatalf("open admin: %d %q\n%s\n%s", r.StatusCode, r.Header.Get("Location"), r.body, h.logs.String())
	}
	forms := h.bridge.Forms()
	sr := h.fed.SigninTokenRequests()
	if len(forms) == 0 || len(sr) == 0 {
		t.Fatalf("%d AssumeRole, %d getSigninToken", len(forms), len(sr))
	}
	return forms[len(forms)-1].Get("DurationSeconds"), sr[len(sr)-1].SessionDuration
}

// TestDurationRules: what the broker's own credentials allow decides the
// sessions, for the three kinds a broker runs with.
func TestDurationRules(t *testing.T) {
	t.Run("IAM user keys in a profile: first hop, 8h, SessionDuration sent", func(t *testing.T) {
		dir := cleanAWSEnv(t)
		if err := os.WriteFile(filepath.Join(dir, "credentials"),
			[]byte("[broker]\naws_access_key_id = "+brokerKeyID+"\naws_secret_access_key = "+brokerSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		h := newHarness(t, harnessOptions{targets: eightHourTargets, baseCfg: func(h *harness) aws.Config {
			return profileConfig(t, h, "broker")
		}})
		if k := h.srv.Plan().Kind; k != broker.LongTerm {
			t.Fatalf("plan kind %v", k)
		}
		if ds, sd := openConsole(t, h); ds != "28800" || sd != "28800" {
			t.Errorf("DurationSeconds %q, SessionDuration %q; want 28800 and 28800", ds, sd)
		}
	})

	t.Run("assumed-role profile: chained, refused at 8h, 1h without SessionDuration", func(t *testing.T) {
		dir := cleanAWSEnv(t)
		if err := os.WriteFile(filepath.Join(dir, "config"), []byte("[profile broker]\nrole_arn = arn:aws:iam::222222222222:role/Broker\n"+
			"source_profile = keys\nregion = us-east-1\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "credentials"),
			[]byte("[keys]\naws_access_key_id = "+brokerKeyID+"\naws_secret_access_key = "+brokerSecret+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		var newErr error
		newHarness(t, harnessOptions{targets: eightHourTargets, newErr: &newErr, baseCfg: func(h *harness) aws.Config {
			return profileConfig(t, h, "broker")
		}})
		var ces broker.ConfigErrors
		if !errors.As(newErr, &ces) || ces[0].Line != 10 || !strings.Contains(ces[0].Msg, "role chaining, which AWS caps at 1h") {
			t.Fatalf("an 8h target with assumed-role credentials: %v", newErr)
		}
		h := newHarness(t, harnessOptions{targets: strings.Replace(eightHourTargets, "8h", "1h", 1), baseCfg: func(h *harness) aws.Config {
			return profileConfig(t, h, "broker")
		}})
		if k := h.srv.Plan().Kind; k != broker.Temporary {
			t.Fatalf("plan kind %v", k)
		}
		if ds, sd := openConsole(t, h); ds != "3600" || sd != "" {
			t.Errorf("DurationSeconds %q, SessionDuration %q; want 3600 and none (role chaining)", ds, sd)
		}
		if sr := h.fed.SigninTokenRequests(); sr[0].Kind.String() != "chained" {
			t.Errorf("the console session is %v, want chained", sr[0].Kind)
		}
	})

	t.Run("instance role: chained, default_duration 8h clamped to 1h and explained", func(t *testing.T) {
		cleanAWSEnv(t)
		t.Setenv("AWS_EC2_METADATA_DISABLED", "")
		var imds *httptest.Server
		h := newHarness(t, harnessOptions{targets: defaultDurationTargets, baseCfg: func(h *harness) aws.Config {
			is := h.sts.IssueCredentials("arn:aws:iam::222222222222:role/BrokerInstance", "i-0123456789abcdef0", 6*time.Hour, 1)
			imds = imdsFake(t, is.Credentials)
			cfg, err := session.LoadProfile(t.Context(), "", func(o *session.ProfileOptions) {
				o.Region = "us-east-1"
				o.LoadOptions = append(o.LoadOptions, config.WithEC2IMDSEndpoint(imds.URL), config.WithBaseEndpoint(h.sts.URL))
			})
			if err != nil {
				t.Fatal(err)
			}
			return cfg
		}})
		p := h.srv.Plan()
		if p.Kind != broker.Temporary || !strings.Contains(p.Source, "EC2RoleProvider") {
			t.Fatalf("plan %v from %q", p.Kind, p.Source)
		}
		if !strings.Contains(h.logs.String(), "default_duration 8h0m0s clamped to 1h0m0s") {
			t.Errorf("the clamp is not explained in the log:\n%s", h.logs.String())
		}
		if ds, sd := openConsole(t, h); ds != "3600" || sd != "" {
			t.Errorf("DurationSeconds %q, SessionDuration %q; want 3600 and none", ds, sd)
		}
	})
}

// profileConfig loads an AWS profile as `rolehop broker` does, with STS
// on the test server.
func profileConfig(t *testing.T, h *harness, name string) aws.Config {
	t.Helper()
	cfg, err := session.LoadProfile(t.Context(), name, func(o *session.ProfileOptions) {
		o.Region = "us-east-1"
		o.LoadOptions = append(o.LoadOptions, config.WithBaseEndpoint(h.sts.URL))
	})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestPartitions: a broker in aws-cn signs in to the China console; a
// target in another partition than the broker's credentials is refused at
// start.
func TestPartitions(t *testing.T) {
	cnTargets := `targets:
  cn-admin:
    role: arn:aws-cn:iam::111111111111:role/Admin
    groups: [admins]
    region: cn-north-1
`
	h := newHarness(t, harnessOptions{targets: cnTargets, baseCfg: func(h *harness) aws.Config {
		c := stsConfig(h.sts, aws.Credentials{AccessKeyID: brokerKeyID, SecretAccessKey: brokerSecret})
		c.Region = "cn-north-1"
		return c
	}})
	b := h.browser()
	h.login(b, "alice", "admins")
	r := b.nav(h.url + "/cn-admin")
	if r.StatusCode != http.StatusFound {
		t.Fatalf("open cn-admin: %d\n%s", r.StatusCode, lastLines(h.logs.String(), 3))
	}
	if d := mustURL(t, r.Header.Get("Location")).Query().Get("Destination"); d != "https://console.amazonaws.cn/console/home?region=cn-north-1" {
		t.Errorf("Destination %q", d)
	}
	if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "https://signin.amazonaws.cn") {
		t.Errorf("CSP %q lacks the aws-cn sign-in host", csp)
	}

	var newErr error
	newHarness(t, harnessOptions{targets: cnTargets, newErr: &newErr})
	if newErr == nil || !strings.Contains(newErr.Error(), "the role is in partition aws-cn but the broker's credentials are used in aws") {
		t.Errorf("an aws-cn target with us-east-1 credentials: %v", newErr)
	}
}
