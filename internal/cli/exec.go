package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/credenv"
)

// ExecOptions are the inputs of `rolehop exec`.
type ExecOptions struct {
	F       *Factory
	Logger  *slog.Logger
	Profile string   // the profile ("" = AWS_PROFILE, else the SDK's default chain)
	Command []string // the command and its arguments
}

// NewCmdExec builds `rolehop exec`; runF, when not nil, runs instead of the
// command.
func NewCmdExec(f *Factory, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{F: f}
	var profileFlag string
	cmd := &cobra.Command{
		Use:   "exec [PROFILE] -- COMMAND [ARGS...]",
		Short: "Run a command with a profile's credentials in its environment",
		Long: "exec runs COMMAND with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n" +
			"AWS_CREDENTIAL_EXPIRATION and (when the profile has a region) AWS_REGION and\n" +
			"AWS_DEFAULT_REGION set, and AWS_PROFILE and other variables that would override\n" +
			"them removed. PROFILE (or --profile, else AWS_PROFILE) is any profile: a rolehop\n" +
			"source, one `rolehop login` wrote, or anything the AWS SDK resolves. SIGINT,\n" +
			"SIGTERM and SIGHUP are passed to the command; its exit status is rolehop's\n" +
			"(128+N when it was killed by signal N).",
		Example: "  rolehop exec prod -- aws s3 ls\n  rolehop exec --profile prod -- terraform plan",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = f.Logger()
			profile, command, err := profileAndCommand(cmd, args, profileFlag)
			if err != nil {
				return err
			}
			if len(command) == 0 {
				return usageError(errors.New("usage: rolehop exec [PROFILE] -- COMMAND [ARGS...]"))
			}
			opts.Profile, opts.Command = profile, command
			if runF != nil {
				return runF(opts)
			}
			return runExec(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&profileFlag, "profile", "", "the profile (instead of the positional PROFILE; default AWS_PROFILE)")
	// Everything after PROFILE belongs to the command, flags included.
	cmd.Flags().SetInterspersed(false)
	return cmd
}

// profileAndCommand splits `[PROFILE] [--] COMMAND...`: with --profile every
// argument is the command; else the first argument before "--" is the
// profile.
func profileAndCommand(cmd *cobra.Command, args []string, profileFlag string) (string, []string, error) {
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		profile, err := profileArg(cmd, args[:dash], profileFlag)
		return profile, args[dash:], err
	}
	if profileFlag != "" || len(args) == 0 {
		return profileFlag, commandArgs(args), nil
	}
	return args[0], commandArgs(args[1:]), nil
}

func runExec(ctx context.Context, opts *ExecOptions) error {
	c, p, err := profileCredentials(ctx, opts.F, opts.Logger, opts.Profile)
	if err != nil {
		return err
	}
	env := credenv.With(opts.F.environ(), credenv.Vars(c, p.Region)...)
	if p.Name != "" {
		env = append(env, "ROLEHOP_PROFILE="+p.Name)
	}
	return runChild(opts.F.IO, opts.Logger, opts.Command, env)
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
