// Command rolehop-broker is rolehop's SSO broker: a SAML service provider
// that opens AWS consoles by IdP group. `rolehop broker` runs it. See
// README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/rolehop/rolehop/internal/brokercli"
	"github.com/rolehop/rolehop/internal/cli"
	"github.com/spf13/cobra"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run())
}

func run() int {
	ios := cli.System()
	f := cli.NewFactory(ios)
	cmd := brokercli.NewCmd(f, nil)
	cmd.Use = "rolehop-broker --config FILE"
	cmd.Version = cli.BuildVersion(version)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cli.UsageError(err) })
	var debugFlag bool
	cmd.PersistentFlags().BoolVar(&debugFlag, "debug", false, "log debug messages to stderr")
	cmd.PersistentPreRun = func(*cobra.Command, []string) { f.SetDebug(debugFlag) }
	// SIGINT/SIGTERM cancel the context: the broker drains (/readyz fails
	// for --drain), then stops; it handles SIGHUP (reload) itself.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.ExecuteContext(ctx)
	var ee *cli.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Err == nil) {
		fmt.Fprintf(ios.ErrOut, "rolehop-broker: %s\n", cli.OneLine(err))
	}
	return cli.ExitCode(err)
}
