package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
)

// ExecOptions are the inputs of `rolehop exec`.
type ExecOptions struct {
	IO      *IOStreams
	Logger  *slog.Logger
	Profile string   // the rolehop source
	Command []string // the command and its arguments
	// Environ is the environment the command starts from; nil means
	// os.Environ().
	Environ []string
}

func newExecCmd(g *globals) *cobra.Command {
	opts := &ExecOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "exec PROFILE -- COMMAND [ARGS...]",
		Short: "Run a command with a rolehop source's credentials in its environment",
		Long: "exec runs COMMAND with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n" +
			"AWS_CREDENTIAL_EXPIRATION and (when the source has a region) AWS_REGION and\n" +
			"AWS_DEFAULT_REGION set, and AWS_PROFILE and other variables that would override\n" +
			"them removed. SIGINT, SIGTERM and SIGHUP are passed to the command; its exit status\n" +
			"is rolehop's (128+N when it was killed by signal N).",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return usageError(errors.New("usage: rolehop exec PROFILE -- COMMAND [ARGS...]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = g.logger()
			opts.Profile, opts.Command = args[0], commandArgs(args[1:])
			if len(opts.Command) == 0 {
				return usageError(errors.New("usage: rolehop exec PROFILE -- COMMAND [ARGS...]"))
			}
			return runExec(cmd.Context(), opts)
		},
	}
	// Everything after PROFILE belongs to the command, flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

func runExec(ctx context.Context, opts *ExecOptions) error {
	c, s, err := sourceCredentials(ctx, opts.IO, opts.Logger, opts.Profile)
	if err != nil {
		return err
	}
	environ := opts.Environ
	if environ == nil {
		environ = os.Environ()
	}
	env := withoutVars(environ, conflictingVars)
	for _, kv := range credentialVars(c, s.Region) {
		env = append(env, kv[0]+"="+kv[1])
	}
	env = append(env, "ROLEHOP_PROFILE="+opts.Profile)
	return runChild(opts.IO, opts.Logger, opts.Command, env)
}

// conflictingVars would override or confuse credentials set in the
// environment: profiles, other credentials, other credential sources.
var conflictingVars = []string{
	"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
	"ROLEHOP_PROFILE", envChain,
}

// credentialVars are the variables carrying c (and region when known), in
// a fixed order.
func credentialVars(c aws.Credentials, region string) [][2]string {
	vars := [][2]string{
		{"AWS_ACCESS_KEY_ID", c.AccessKeyID},
		{"AWS_SECRET_ACCESS_KEY", c.SecretAccessKey},
	}
	if c.SessionToken != "" {
		vars = append(vars, [2]string{"AWS_SESSION_TOKEN", c.SessionToken})
	}
	if c.CanExpire {
		vars = append(vars, [2]string{"AWS_CREDENTIAL_EXPIRATION", c.Expires.UTC().Format(time.RFC3339)})
	}
	if region != "" {
		vars = append(vars, [2]string{"AWS_REGION", region}, [2]string{"AWS_DEFAULT_REGION", region})
	}
	return vars
}

// withoutVars returns environ without the named variables.
func withoutVars(environ, names []string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !drop[name] {
			out = append(out, kv)
		}
	}
	return out
}

// runChild runs argv with env on the command's streams, passing SIGINT,
// SIGTERM and SIGHUP on to it, and returns its exit status as a silent
// ExitError (nil for 0).
func runChild(ios *IOStreams, log *slog.Logger, argv []string, env []string) error {
	path, err := exec.LookPath(argv[0])
	if err != nil {
		return &ExitError{Code: 127, Err: fmt.Errorf("command %q not found: %w", argv[0], err)}
	}
	cmd := exec.Command(path, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = env
	cmd.Stdin, cmd.Stdout, cmd.Stderr = ios.In, ios.Out, ios.ErrOut

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return &ExitError{Code: 126, Err: fmt.Errorf("start %q: %w", argv[0], err)}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-sigs:
				if log != nil {
					log.Debug("forwarding signal to the command", "signal", sig.String())
				}
				_ = cmd.Process.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	err = cmd.Wait()
	close(done)
	return childStatus(argv[0], err)
}

// childStatus turns a child's Wait error into rolehop's exit status.
func childStatus(name string, err error) error {
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &ExitError{Code: 128 + int(ws.Signal())}
		}
		return &ExitError{Code: ee.ExitCode()}
	}
	return fmt.Errorf("run %q: %w", name, err)
}

// commandArgs drops the "--" separating rolehop's arguments from the
// command's (with interspersed flags off, cobra keeps it after PROFILE).
func commandArgs(args []string) []string {
	if len(args) > 0 && args[0] == "--" {
		return args[1:]
	}
	return args
}
