package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// TestRunRealAWSCLIAgainstMinIO: one SAML login (SimpleSAMLphp), every
// granted account reached with AssumeRoleWithSAML (the test STS, which
// mints real MinIO credentials per session), and in each account Debian's
// AWS CLI v2, fed by rolehop's per-target credentials endpoint, writes an
// object to MinIO named after ROLEHOP_ACCOUNT holding the access key the
// CLI itself resolved: each process saw its own account's credentials.
func TestRunRealAWSCLIAgainstMinIO(t *testing.T) {
	const awsCLI = "/usr/bin/aws"
	if _, err := os.Stat(awsCLI); err != nil {
		testpeer.Missing(t, "Debian's AWS CLI v2 is not installed (apt-get install awscli)")
	}
	accts := []string{"111111111111", "222222222222", "333333333333", "444444444444"}
	p := newLoginPeers(t, accts, true)
	lp := newLoginProc(t, p)
	settingsPath := filepath.Join(lp.home, "rolehop.yaml")
	writeFileT(t, settingsPath, "logins:\n  demo:\n    idp: form\n    url: "+p.idp.AWSLoginURL+"\n    username: alice\n")
	lp.env = append(lp.env, "ROLEHOP_CONFIG="+settingsPath, "MINIO="+p.minio.Endpoint, "XDG_STATE_HOME="+filepath.Join(lp.home, "state"))

	ctx := context.Background()
	s3c := s3.NewFromConfig(p.minio.Config(), func(o *s3.Options) { o.UsePathStyle = true })
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fleet")}); err != nil {
		t.Fatal(err)
	}
	script := `set -e
k=$(` + awsCLI + ` configure export-credentials --format env-no-export | sed -n 's/^AWS_ACCESS_KEY_ID=//p')
echo "$k" | ` + awsCLI + ` --endpoint-url "$MINIO" s3 cp - "s3://fleet/$ROLEHOP_ACCOUNT"
echo "wrote $ROLEHOP_ACCOUNT in $AWS_REGION"`
	out, stderr, code := lp.run(t, "alicepass\n", "run", "--via", "login:demo", "--password-stdin", "--granted", "--role", "Admin",
		"--concurrency", "4", "--", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("rolehop run: exit %d\n%s\n%s", code, out, stderr)
	}
	keys := map[string]string{}
	for _, a := range accts {
		if !strings.Contains(out, a+" | wrote "+a+" in us-east-1") {
			t.Errorf("no line from %s:\n%s", a, out)
		}
		obj, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fleet"), Key: aws.String(a)})
		if err != nil {
			t.Errorf("object %s: %v", a, err)
			continue
		}
		b, _ := io.ReadAll(obj.Body)
		obj.Body.Close()
		akid := strings.TrimSpace(string(b))
		is, ok := p.sts.Issued(akid)
		if !ok || is.RoleARN != "arn:aws:iam::"+a+":role/Admin" {
			t.Errorf("account %s's AWS CLI used %q, issued for %q", a, akid, is.RoleARN)
		}
		keys[akid] = a
	}
	if len(keys) != len(accts) {
		t.Errorf("%d distinct keys for %d accounts", len(keys), len(accts))
	}
	if n := p.sts.Calls("AssumeRoleWithSAML"); n != len(accts) {
		t.Errorf("%d AssumeRoleWithSAML calls, want one per account (%d)", n, len(accts))
	}
	if strings.Contains(out+stderr, "alicepass") {
		t.Error("the password is in the output")
	}
}

// TestRunSIGKILLThenResume: rolehop killed with SIGKILL mid-run loses at
// most the targets that were running; --resume runs the rest and runs no
// target again that the journal recorded as finished.
func TestRunSIGKILLThenResume(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithKey(runKey, runSecret))
	dir := t.TempDir()
	file, ids := fleetAccounts(t, dir, 20)
	ranLog := filepath.Join(dir, "ran.log")
	journal := filepath.Join(dir, "j.jsonl")
	env := testpeer.ProcEnv(t, "AWS_ENDPOINT_URL_STS="+srv.URL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+runKey, "AWS_SECRET_ACCESS_KEY="+runSecret)
	args := []string{"run", "--accounts-file", file, "--role", "Audit", "--concurrency", "2", "--credentials", "env",
		"--journal", journal, "--", "sh", "-c", `echo "$ROLEHOP_ACCOUNT" >> ` + ranLog + `; sleep 0.3`}

	cmd := exec.Command(rolehopBinary(t), args...)
	cmd.Env = env
	var errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "6 targets in the journal", func() bool {
		b, _ := os.ReadFile(journal)
		return bytes.Count(b, []byte("\n")) >= 7
	})
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	finished := map[string]bool{}
	for _, r := range journalRecords(t, journal) {
		if r.Outcome != "succeeded" {
			t.Errorf("before the kill: %s %s", r.Account, r.Outcome)
		}
		finished[r.Account] = true
	}
	time.Sleep(500 * time.Millisecond) // the killed run's commands are gone (Pdeathsig) or done

	_, stderr, code := runRolehop(t, env, append(args[:len(args)-4:len(args)-4], append([]string{"--resume"}, args[len(args)-4:]...)...)...)
	if code != 0 {
		t.Fatalf("--resume: exit %d\n%s", code, stderr)
	}
	if want := fmt.Sprintf("%d done before (journal)", len(finished)); !strings.Contains(stderr, want) {
		t.Errorf("resume summary lacks %q:\n%s", want, stderr)
	}
	runs := map[string]int{}
	for _, a := range strings.Fields(readFileT(t, ranLog)) {
		runs[a]++
	}
	twice := 0
	for _, a := range ids {
		switch {
		case runs[a] == 0:
			t.Errorf("%s never ran", a)
		case finished[a] && runs[a] != 1:
			t.Errorf("%s finished before the kill and ran %d times", a, runs[a])
		case runs[a] > 1:
			twice++
		}
	}
	if twice > 2 {
		t.Errorf("%d targets ran twice; at most the 2 running at the kill may", twice)
	}
	var latest []string
	for _, r := range journalRecords(t, journal) {
		if r.Outcome == "succeeded" && !slices.Contains(latest, r.Account) {
			latest = append(latest, r.Account)
		}
	}
	if len(latest) != 20 {
		t.Errorf("%d accounts succeeded in the journal, want 20", len(latest))
	}
}

// TestRunProgressBarInTmux: on a terminal the progress bar shows counts,
// running and failed targets and an ETA, output lines print above it, and
// the summary follows.
func TestRunProgressBarInTmux(t *testing.T) {
	srv := stsfake.NewForTest(t, stsfake.WithKey(runKey, runSecret))
	dir := t.TempDir()
	file, _ := fleetAccounts(t, dir, 12)
	env := testpeer.ProcEnv(t, "AWS_ENDPOINT_URL_STS="+srv.URL, "AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID="+runKey,
		"AWS_SECRET_ACCESS_KEY="+runSecret, "TERM=xterm-256color")
	release := filepath.Join(dir, "release")
	script := filepath.Join(dir, "run.sh")
	var b strings.Builder
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	// The first 4 finish (one failing), then the next 2 wait for release.
	b.WriteString(rolehopBinary(t) + " run --accounts-file " + file + " --role Audit --concurrency 2 --credentials env --journal " +
		filepath.Join(dir, "j.jsonl") + ` -- sh -c 'case $ROLEHOP_ACCOUNT_ALIAS in acct0[0-3]) echo line-$ROLEHOP_ACCOUNT_ALIAS; [ $ROLEHOP_ACCOUNT_ALIAS != acct02 ];; *) while [ ! -e ` + release + ` ]; do sleep 0.1; done;; esac'` + "\n")
	b.WriteString("echo EXIT=$?\nsleep 600\n")
	writeFileT(t, script, b.String())

	s := newTmux(t, script)
	scr := s.waitFor("the bar at 4/12", contains("4/12"))
	for _, want := range []string{"run ", "33 %", "2 running 1 failed", "ETA", "acct00 | line-acct00"} {
		if !strings.Contains(scr, want) {
			t.Errorf("screen lacks %q:\n%s", want, scr)
		}
	}
	writeFileT(t, release, "")
	scr = s.waitFor("the summary", contains("EXIT="))
	for _, want := range []string{"11 succeeded, 1 failed", "acct02: failed: exit status 1", "EXIT=7"} {
		if !strings.Contains(scr, want) {
			t.Errorf("final screen lacks %q:\n%s", want, scr)
		}
	}
}
