package cli

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// parse runs cmd's flag parsing on args with runF capturing the options.
func parse[O any](t *testing.T, newCmd func(*Factory, func(*O) error) *cobra.Command, args ...string) (*O, error) {
	t.Helper()
	ios, _, _, _ := Test()
	var got *O
	cmd := newCmd(NewFactory(ios), func(o *O) error { got = o; return nil })
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return got, err
}

func TestNewCmdExecParsesProfileFlagsAndCommand(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		profile  string
		region   string
		duration time.Duration
		command  []string
	}{
		{[]string{"prod", "--", "aws", "s3", "ls"}, "prod", "", 0, []string{"aws", "s3", "ls"}},
		{[]string{"prod", "--region", "eu-west-1", "--duration", "2h", "--", "true"}, "prod", "eu-west-1", 2 * time.Hour, []string{"true"}},
		{[]string{"--profile", "prod", "--", "aws", "s3", "ls", "--recursive"}, "prod", "", 0, []string{"aws", "s3", "ls", "--recursive"}},
		{[]string{"--profile", "prod", "aws", "--version"}, "prod", "", 0, []string{"aws", "--version"}},
		{[]string{"prod", "sh", "-c", "exit 3"}, "prod", "", 0, []string{"sh", "-c", "exit 3"}},
		{[]string{"prod", "git", "log", "--", "file.go"}, "prod", "", 0, []string{"git", "log", "--", "file.go"}},
		{[]string{"prod", "--force"}, "prod", "", 0, nil},
		{[]string{"prod"}, "prod", "", 0, nil},
		{[]string{"--", "true"}, "", "", 0, []string{"true"}},
		{[]string{"--region", "us-west-2", "prod", "--", "env"}, "prod", "us-west-2", 0, []string{"env"}},
		{[]string{"--duration", "3600", "prod"}, "prod", "", time.Hour, nil},
	} {
		o, err := parse(t, NewCmdExec, tc.args...)
		if err != nil {
			t.Errorf("exec %q: %v", tc.args, err)
			continue
		}
		if o.Profile != tc.profile || o.Region != tc.region || o.Duration != tc.duration || !slices.Equal(o.Command, tc.command) {
			t.Errorf("exec %q: profile %q region %q duration %v command %q", tc.args, o.Profile, o.Region, o.Duration, o.Command)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"prod", "--bogus", "--", "true"}, "put -- before the command"},
		{[]string{"prod", "--profile", "x", "--", "true"}, "profile given twice"},
		{[]string{"--duration", "soon", "prod"}, "duration"},
	} {
		_, err := parse(t, NewCmdExec, tc.args...)
		if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("exec %q: %v, want a usage error saying %q", tc.args, err, tc.want)
		}
	}
}

func TestNewCmdServeAndEnvTakeTheDeliveryFlags(t *testing.T) {
	s, err := parse(t, NewCmdServe, "prod", "--region", "eu-north-1", "--", "tool", "-v")
	if err != nil || s.Profile != "prod" || s.Region != "eu-north-1" || !slices.Equal(s.Command, []string{"tool", "-v"}) {
		t.Errorf("serve: %+v %v", s, err)
	}
	e, err := parse(t, NewCmdEnv, "--profile", "prod", "--format", "fish", "--duration", "90m")
	if err != nil || e.Profile != "prod" || e.Format != "fish" || e.Duration != 90*time.Minute {
		t.Errorf("env: %+v %v", e, err)
	}
	if _, err := parse(t, NewCmdEnv, "a", "--profile", "b"); ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), "profile given twice") {
		t.Errorf("env with two profiles: %v", err)
	}
	c, err := parse(t, NewCmdCredentialProcess, "--profile", "prod", "--region", "eu-west-3")
	if err != nil || c.Profile != "prod" || c.Region != "eu-west-3" {
		t.Errorf("credential-process: %+v %v", c, err)
	}
}
