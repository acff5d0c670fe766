package cli

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/ecsserver"
	"github.com/rolehop/rolehop/internal/credenv"
)

// ServeOptions are the inputs of `rolehop serve`.
type ServeOptions struct {
	F      *Factory
	Logger *slog.Logger
	Delivery
	Command []string // optional command to run with the endpoint's variables
}

// NewCmdServe builds `rolehop serve`; runF, when not nil, runs instead of
// the command.
func NewCmdServe(f *Factory, runF func(*ServeOptions) error) *cobra.Command {
	opts := &ServeOptions{F: f}
	cmd := &cobra.Command{
		Use:   "serve [PROFILE] [flags] [-- COMMAND [ARGS...]]",
		Short: "Serve a profile's credentials on a local ECS-style endpoint",
		Long: "serve runs a credentials endpoint in the ECS container format on 127.0.0.1 (a random\n" +
			"port) with a random bearer token, handing out PROFILE's credentials (or --profile's,\n" +
			"else AWS_PROFILE's: any profile) and fresh ones before they expire. Without COMMAND\n" +
			"it prints the AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN\n" +
			"export lines and serves until interrupted. With COMMAND it runs the command with\n" +
			"those variables and the region set (and AWS_PROFILE and other overriding variables\n" +
			"removed) and exits with its status.",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = f.Logger()
			profile, command, err := profileAndCommand(cmd, args, opts.Profile)
			if err != nil {
				return err
			}
			opts.Profile, opts.Command = profile, command
			if runF != nil {
				return runF(opts)
			}
			return runServe(cmd.Context(), opts)
		},
	}
	addDeliveryFlags(cmd, &opts.Delivery)
	cmd.Flags().SetInterspersed(false)
	cmd.SetFlagErrorFunc(commandFlagError)
	return cmd
}

func runServe(ctx context.Context, opts *ServeOptions) error {
	// Fetch once first: a bad profile or a refused role fails here, before
	// anything is printed or started.
	_, p, err := profileCredentials(ctx, opts.F, opts.Logger, opts.Delivery)
	if err != nil {
		return err
	}
	srv, err := ecsserver.New(p.CredentialsProvider(), ecsserver.Options{RoleARN: p.RoleARN(), Logger: opts.Logger})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()

	ios := opts.F.IO
	name := p.Name
	if name == "" {
		name = "the default credentials"
	}
	if len(opts.Command) == 0 {
		fmt.Fprintf(ios.Out, "export AWS_CONTAINER_CREDENTIALS_FULL_URI=%s\n", shQuote(srv.URL()))
		fmt.Fprintf(ios.Out, "export AWS_CONTAINER_AUTHORIZATION_TOKEN=%s\n", shQuote(srv.Token()))
		if p.Region != "" {
			fmt.Fprintf(ios.Out, "export AWS_REGION=%s\n", shQuote(p.Region))
		}
		if f, ok := ios.Out.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
		fmt.Fprintf(ios.ErrOut, "rolehop: serving credentials of %s on %s; unset AWS_PROFILE and AWS_ACCESS_KEY_ID in the shell using them; Ctrl-C stops\n",
			name, srv.Addr())
		return <-served
	}

	var vars []credenv.Var
	for _, kv := range srv.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars = append(vars, credenv.Var{Name: k, Value: v})
	}
	if p.Region != "" {
		vars = append(vars, credenv.Var{Name: "AWS_REGION", Value: p.Region}, credenv.Var{Name: "AWS_DEFAULT_REGION", Value: p.Region})
	}
	env := credenv.With(opts.F.environ(), vars...)
	if p.Name != "" {
		env = append(env, "ROLEHOP_PROFILE="+p.Name)
	}
	runErr := runChild(ios, opts.Logger, opts.Command, env)
	cancel()
	if err := <-served; err != nil && runErr == nil {
		return err
	}
	return runErr
}
