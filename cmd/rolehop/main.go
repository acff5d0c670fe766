// Command rolehop turns AWS profiles or SAML IdP logins into temporary AWS
// credentials. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/rolehop/rolehop/internal/cli"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ios := cli.System()
	err := cli.NewRootCmd(cli.NewFactory(ios), buildVersion()).ExecuteContext(ctx)
	// An ExitError without an error is a status passed through from a
	// command rolehop ran (exec, serve -- cmd): nothing to print.
	var ee *cli.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Err == nil) {
		fmt.Fprintf(ios.ErrOut, "rolehop: %s\n", cli.OneLine(err))
	}
	return cli.ExitCode(err)
}

// buildVersion is the -ldflags version, else the module version `go install`
// recorded, else "dev".
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
