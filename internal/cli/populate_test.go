package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rolehop/rolehop/awsfile"
)

// TestPopulateWritesAManagedBlock: one login writes a profile per granted
// role into a managed block of the config file; running again updates the
// block in place; hand-written profiles and every other byte stay.
func TestPopulateWritesAManagedBlock(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev, "333333333333"}, false)
	awsEnv(t, p.sts, "", "")
	dir := t.TempDir()
	accounts := filepath.Join(dir, "accounts.yaml")
	writeFileT(t, accounts, "\""+acctProd+"\": payments-prod\n\""+acctDev+"\": payments-dev\n")
	settingsFile := filepath.Join(dir, "config.yaml")
	writeFileT(t, settingsFile, "defaults:\n  accounts_file: "+accounts+"\n  region: eu-west-1\nlogins:\n  corp:\n    url: "+p.idp.AWSLoginURL+"\n    username: alice\n")
	cfg := filepath.Join(dir, "aws-config")
	before := "# mine\n[default]\nregion = us-east-1\n\n[profile payments-dev-Admin]\nregion = ap-south-1\n"
	writeFileT(t, cfg, before)

	run := func(args ...string) (string, string, error) {
		t.Helper()
		ios, in, out, errOut := Test()
		in.WriteString("alicepass\n")
		f := NewFactory(ios)
		f.SettingsPath = settingsFile
		cmd := NewCmdPopulate(f, func(o *PopulateOptions) error {
			o.ConfigFile = cfg
			return runPopulate(t.Context(), o)
		})
		cmd.SetArgs(append([]string{"--login", "corp", "--password-stdin"}, args...))
		cmd.SetOut(ios.Out)
		cmd.SetErr(ios.ErrOut)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		err := cmd.ExecuteContext(t.Context())
		return out.String(), errOut.String(), err
	}
	_, stderr, err := run()
	if err != nil {
		t.Fatalf("populate: %v (%s)", err, stderr)
	}
	if !strings.Contains(stderr, "wrote 5 profiles for login corp") || !strings.Contains(stderr, "profile payments-dev-Admin is defined outside") {
		t.Errorf("stderr %q", stderr)
	}
	got := readFileT(t, cfg)
	if !strings.HasPrefix(got, before) || strings.Count(got, "# >>> rolehop: login corp >>>") != 1 {
		t.Fatalf("the file lost its bytes or the block:\n%s", got)
	}
	vals, err := awsfile.ReadProfile(cfg, awsfile.Config, "payments-prod-Admin")
	if err != nil || vals["credential_process"] != "rolehop-credential-process --profile payments-prod-Admin" ||
		vals["rolehop_login"] != "corp" || vals["rolehop_role_arn"] != "arn:aws:iam::"+acctProd+":role/Admin" || vals["region"] != "eu-west-1" {
		t.Errorf("generated profile: %v %v", vals, err)
	}
	if vals, _ := awsfile.ReadProfile(cfg, awsfile.Config, "333333333333-Dev"); vals["rolehop_role_arn"] != "arn:aws:iam::333333333333:role/Dev" {
		t.Errorf("account without alias: %v", vals)
	}
	if vals, _ := awsfile.ReadProfile(cfg, awsfile.Config, "payments-dev-Admin"); vals["region"] != "ap-south-1" || vals["rolehop_login"] != "" {
		t.Errorf("the hand-written profile was changed: %v", vals)
	}

	// Again with a filter: the block shrinks in place, nothing duplicated.
	_, stderr, err = run("payments", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr, "wrote 1 profiles") || !strings.Contains(stderr, "removed 4 no longer granted") {
		t.Errorf("second run: %q", stderr)
	}
	got = readFileT(t, cfg)
	names, _ := awsfile.Profiles(cfg, awsfile.Config)
	if len(names) != 3 || strings.Count(got, "[profile payments-prod-Admin]") != 1 || !strings.HasPrefix(got, before) {
		t.Errorf("after the filtered run, profiles %v:\n%s", names, got)
	}

	// --dry-run writes nothing and prints the profiles.
	out, _, err := run("--dry-run", "--profile-template", "{{.Login}}.{{.Alias}}.{{.Role}}")
	if err != nil || !strings.Contains(out, "[profile corp.payments-prod.Admin]") || readFileT(t, cfg) != got {
		t.Errorf("dry run: %v\n%s", err, out)
	}
	// A login with no name cannot be populated.
	ios, _, _, _ := Test()
	f := NewFactory(ios)
	f.SettingsPath = filepath.Join(dir, "none.yaml")
	err = runPopulate(t.Context(), &PopulateOptions{F: f, ConfigFile: cfg, CredentialProcess: DefaultCredentialProcess, idpOptions: idpOptions{IdPURL: p.idp.AWSLoginURL}})
	if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--login NAME") {
		t.Errorf("unnamed login: %v", err)
	}
}

// TestPopulatedProfilesWorkInTheAWSCLI: what `rolehop populate` writes is
// usable as it stands: the AWS CLI, finding rolehop-credential-process on
// PATH, gets each role's credentials through the login populate just made
// (no second password, no terminal), and reaches S3 in MinIO as that role.
func TestPopulatedProfilesWorkInTheAWSCLI(t *testing.T) {
	accts := []string{"420000000001", "420000000002"}
	p := newLoginPeers(t, accts, true)
	idpOrigin := strings.TrimSuffix(p.idp.BaseURL, "/simplesaml")
	dir := t.TempDir()
	settingsPath := filepath.Join(dir, "rolehop.yaml")
	writeFileT(t, settingsPath, "logins:\n  corp:\n    url: "+p.idp.AWSLoginURL+"\n    username: alice\n    password_origins: ["+idpOrigin+"]\n    region: us-east-1\n")
	fast := fastBinary(t)
	lp := newLoginProc(t, p, "ROLEHOP_CONFIG="+settingsPath, "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"PATH="+filepath.Dir(fast)+string(os.PathListSeparator)+os.Getenv("PATH"))
	writeFileT(t, lp.config, "[default]\nregion = us-east-1\n")

	_, stderr, code := lp.run(t, "alicepass\n", "populate", "--login", "corp", "--password-stdin")
	if code != 0 {
		t.Fatalf("populate: exit %d: %s", code, stderr)
	}
	stsBefore := p.sts.Calls("AssumeRoleWithSAML")
	root := s3.NewFromConfig(p.minio.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := root.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String("populated")}); err != nil {
		t.Fatal(err)
	}
	for _, a := range accts {
		profile := a + "-Admin"
		vals, err := awsfile.ReadProfile(lp.config, awsfile.Config, profile)
		if err != nil || vals["credential_process"] != "rolehop-credential-process --profile "+profile {
			t.Fatalf("populate wrote %v (%v) for %s", vals, err, profile)
		}
		out, err := awsCLI(t, lp.env, "--endpoint-url", p.minio.Endpoint, "s3api", "list-buckets", "--profile", profile, "--output", "json")
		if err != nil || !strings.Contains(out, `"populated"`) {
			t.Errorf("aws s3api list-buckets --profile %s: %v\n%s", profile, err, out)
		}
		out, err = awsCLI(t, lp.env, "configure", "export-credentials", "--profile", profile, "--format", "process")
		if err != nil {
			t.Fatalf("aws configure export-credentials --profile %s: %v\n%s", profile, err, out)
		}
		var doc struct{ AccessKeyId string }
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatalf("export-credentials: %v\n%s", err, out)
		}
		if is, ok := p.sts.Issued(doc.AccessKeyId); !ok || is.RoleARN != "arn:aws:iam::"+a+":role/Admin" || is.SessionName != "alice" {
			t.Errorf("%s holds %+v, want arn:aws:iam::%s:role/Admin assumed with SAML as alice", profile, is, a)
		}
	}
	// One AssumeRoleWithSAML per role used, with populate's assertion: no new login.
	if got := p.sts.Calls("AssumeRoleWithSAML") - stsBefore; got != len(accts) {
		t.Errorf("%d AssumeRoleWithSAML calls for %d profiles", got, len(accts))
	}
}
