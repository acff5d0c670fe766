package brokercli

import (
	"context"
	"testing"

	"github.com/rolehop/rolehop/internal/cli"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/spf13/cobra"
)

// execute runs the broker command in-process with args.
func execute(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ios, _, out, errOut := cli.Test()
	cmd := NewCmd(cli.NewFactory(ios), nil)
	cmd.SetArgs(args)
	cmd.SetOut(ios.Out)
	cmd.SetErr(ios.ErrOut)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageError(err) })
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

// brokerBinary is cmd/rolehop-broker, built once per test binary.
func brokerBinary(t *testing.T) string {
	t.Helper()
	return testpeer.Program(t, "rolehop-broker")
}

func TestMain(m *testing.M) { testpeer.RunMain(m) }
