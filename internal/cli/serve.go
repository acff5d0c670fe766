package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/ecsserver"
)

// ServeOptions are the inputs of `rolehop serve`.
type ServeOptions struct {
	IO      *IOStreams
	Logger  *slog.Logger
	Profile string   // the rolehop source
	Command []string // optional command to run with the endpoint's variables
	// Environ is the environment the command starts from; nil means
	// os.Environ().
	Environ []string
}

func newServeCmd(g *globals) *cobra.Command {
	opts := &ServeOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "serve PROFILE [-- COMMAND [ARGS...]]",
		Short: "Serve a rolehop source's credentials on a local ECS-style endpoint",
		Long: "serve runs a credentials endpoint in the ECS container format on 127.0.0.1 (a random\n" +
			"port) with a random bearer token, handing out the source's credentials and fresh ones\n" +
			"before they expire. Without COMMAND it prints the AWS_CONTAINER_CREDENTIALS_FULL_URI\n" +
			"and AWS_CONTAINER_AUTHORIZATION_TOKEN export lines and serves until interrupted.\n" +
			"With COMMAND it runs the command with those variables set (and AWS_PROFILE and other\n" +
			"overriding variables removed) and exits with its status.",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 {
				return usageError(errors.New("usage: rolehop serve PROFILE [-- COMMAND [ARGS...]]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = g.logger()
			opts.Profile, opts.Command = args[0], commandArgs(args[1:])
			return runServe(cmd.Context(), opts)
		},
	}
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func runServe(ctx context.Context, opts *ServeOptions) error {
	// Fetch once first: a bad source or a refused role fails here, before
	// anything is printed or started.
	_, s, err := sourceCredentials(ctx, opts.IO, opts.Logger, opts.Profile)
	if err != nil {
		return err
	}
	srv, err := ecsserver.New(s.Provider(), ecsserver.Options{RoleARN: s.RoleARN(), Logger: opts.Logger})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	if len(opts.Command) == 0 {
		fmt.Fprintf(opts.IO.Out, "export AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\n", shQuote(srv.URL()))
		fmt.Fprintf(opts.IO.Out, "export AWS_CONTAINER_AUTHORIZATION_TOKEN=%s\n", shQuote(srv.Token()))
		if f, ok := opts.IO.Out.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
		fmt.Fprintf(opts.IO.ErrOut, "rolehop: serving credentials of %s on %s; unset AWS_PROFILE and AWS_ACCESS_KEY_ID in the shell using them; Ctrl-C stops\n",
			opts.Profile, srv.Addr())
		return <-served
	}

	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := append(withoutVars(environ, conflictingVars), srv.Env()...)
	env = append(env, "ROLEHOP_PROFILE="+opts.Profile)
	runErr := runChild(opts.IO, opts.Logger, opts.Command, env)
	cancel()
	if err := <-served; err != nil && runErr == nil {
		return err
	}
	return runErr
}
