package cli

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/rolehop/rolehop/internal/stsfake"
)

func TestExecEnvironmentAndExitStatus(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	env = append(env, "AWS_PROFILE=base", "AWS_DEFAULT_PROFILE=base", "AWS_ACCESS_KEY_ID=AKIASTALE",
		"AWS_SECRET_ACCESS_KEY=stale", "AWS_CONTAINER_CREDENTIALS_FULL_URI=http://127.0.0.1:1/", "KEEP_ME=yes")

	out, stderr, code := runRolehop(t, env, "exec", "prod", "--", "env")
	if code != 0 {
		t.Fatalf("exec env: exit %d, %q", code, stderr)
	}
	got := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			got[k] = v
		}
	}
	is, ok := srv.Issued(got["AWS_ACCESS_KEY_ID"])
	if !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Admin" {
		t.Errorf("AWS_ACCESS_KEY_ID %q is not the role's", got["AWS_ACCESS_KEY_ID"])
	}
	if got["AWS_SECRET_ACCESS_KEY"] != is.SecretAccessKey || got["AWS_SESSION_TOKEN"] != is.SessionToken ||
		got["AWS_CREDENTIAL_EXPIRATION"] != is.Expiration.UTC().Format("2006-01-02T15:04:05Z") ||
		got["AWS_REGION"] != "eu-west-1" || got["AWS_DEFAULT_REGION"] != "eu-west-1" || got["KEEP_ME"] != "yes" {
		t.Errorf("environment %v", got)
	}
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s not removed", k)
		}
	}

	// Exit status passes through, silently; flags after PROFILE are the command's.
	out, stderr, code = runRolehop(t, env, "exec", "prod", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || stderr != "err\n" {
		t.Errorf("sh -c 'exit 7': exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, _, code = runRolehop(t, env, "exec", "prod", "sh", "-c", "exit 3"); code != 3 {
		t.Errorf("without --: exit %d", code)
	}
	if _, stderr, code = runRolehop(t, env, "exec", "prod", "--", "no-such-command-xyz"); code != 127 || !strings.Contains(stderr, "not found") {
		t.Errorf("missing command: exit %d %q", code, stderr)
	}
}

func TestExecForwardsSignals(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
		want int
	}{{syscall.SIGTERM, "TERM", 42}, {syscall.SIGINT, "INT", 43}} {
		script := "trap 'exit " + map[string]string{"TERM": "42", "INT": "43"}[tc.name] + "' " + tc.name + "; echo ready; while :; do sleep 0.05; done"
		cmd := exec.Command(rolehopBinary(t), "exec", "prod", "--", "sh", "-c", script)
		cmd.Env = env
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		if line != "ready\n" {
			_ = cmd.Process.Kill()
			t.Fatalf("child printed %q", line)
		}
		_ = cmd.Process.Signal(tc.sig) // to rolehop only, not the group
		err := cmd.Wait()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != tc.want {
			t.Errorf("SIG%s: rolehop ended with %v, want exit %d from the child's trap", tc.name, err, tc.want)
		}
	}
	// A child killed by a signal: 128+N, like a shell.
	if _, _, code := runRolehop(t, env, "exec", "prod", "--", "sh", "-c", "kill -KILL $$"); code != 128+9 {
		t.Errorf("killed child: exit %d, want 137", code)
	}
}

// TestExecOpensAShell: with no command, exec opens $SHELL with the
// credentials and the marker variable, and exits with the shell's status;
// inside such a shell a second exec is refused unless forced.
func TestExecOpensAShell(t *testing.T) {
	srv := stsfake.NewForTest(t)
	awsEnv(t, srv, fakeConfig, "")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	run := func(env map[string]string, stdin string, args ...string) (string, string, error) {
		ios, in, out, errOut := Test()
		in.WriteString(stdin)
		f := NewFactory(ios)
		f.Getenv = func(k string) string {
			if v, ok := env[k]; ok {
				return v
			}
			return os.Getenv(k)
		}
		cmd := NewRootCmd(f, "test")
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(t.Context())
		return out.String(), errOut.String(), err
	}
	out, stderr, err := run(map[string]string{"SHELL": "/bin/sh"}, `printf '%s %s' "$AWS_ACCESS_KEY_ID" "$ROLEHOP_PROFILE"; exit 5`+"\n", "exec", "prod")
	if ExitCode(err) != 5 {
		t.Fatalf("shell exit status: %v (stderr %q)", err, stderr)
	}
	key, marker, _ := strings.Cut(out, " ")
	if is, ok := srv.Issued(key); !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Admin" || marker != "prod" {
		t.Errorf("the shell saw %q", out)
	}
	if !strings.Contains(stderr, "starting /bin/sh with the credentials of prod") {
		t.Errorf("stderr %q does not say a shell starts", stderr)
	}
	// Nested: refused, then forced.
	nested := map[string]string{"SHELL": "/bin/sh", "ROLEHOP_PROFILE": "prod"}
	if _, _, err := run(nested, "exit 0\n", "exec", "prod"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "--force") {
		t.Errorf("nested exec: %v, want a usage error naming --force", err)
	}
	if _, _, err := run(nested, "exit 0\n", "exec", "prod", "--force"); err != nil {
		t.Errorf("nested exec with --force: %v", err)
	}
}
