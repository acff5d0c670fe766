// Command rolehop turns AWS profiles or SAML IdP logins into temporary AWS
// credentials. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/rolehop/rolehop/internal/cli"
)

// version is set at build time: -ldflags "-X main.version=...".
var version = ""

func main() {
	os.Exit(run())
}

// grace is how long rolehop may take to end after SIGINT or SIGTERM (files
// and locks are released, the terminal restored) before it exits anyway.
const grace = 3 * time.Second

func run() int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopSignals := handleSignals(cancel)
	defer stopSignals()
	ios := cli.System()
	err := cli.NewRootCmd(cli.NewFactory(ios), cli.BuildVersion(version)).ExecuteContext(ctx)
	// An ExitError without an error is a status passed through from a
	// command rolehop ran (exec, serve -- cmd): nothing to print.
	var ee *cli.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.Err == nil) {
		fmt.Fprintf(ios.ErrOut, "rolehop: %s\n", cli.OneLine(err))
	}
	return cli.ExitCode(err)
}

// handleSignals cancels the commands' context on the first SIGINT or
// SIGTERM. A command stuck where no context reaches (an open() that
// blocks, the SDK's own file reading) then has grace to end before rolehop
// exits with 128+N, and a second signal kills it at once. While a child
// process runs (exec, serve -- COMMAND), signals are the child's to act on:
// rolehop forwards them and waits for it.
func handleSignals(cancel context.CancelFunc) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			var sig os.Signal
			select {
			case sig = <-sigs:
			case <-done:
				return
			}
			cancel()
			if cli.ChildRunning() {
				continue
			}
			signal.Stop(sigs) // a second signal takes its default action
			code := 128 + int(sig.(syscall.Signal))
			select {
			case <-time.After(grace):
				fmt.Fprintf(os.Stderr, "rolehop: stopped by %s\n", sig)
				os.Exit(code)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}
