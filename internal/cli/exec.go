package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/credenv"
)

// ExecOptions are the inputs of `rolehop exec`.
type ExecOptions struct {
	F      *Factory
	Logger *slog.Logger
	Delivery
	Command []string // the command and its arguments; none opens $SHELL
	Force   bool     // --force: nest inside another rolehop exec shell
}

// envMarker marks a process rolehop exec started (its value is the
// profile): aws-vault's AWS_VAULT habit.
const envMarker = "ROLEHOP_PROFILE"

// NewCmdExec builds `rolehop exec`; runF, when not nil, runs instead of the
// command.
func NewCmdExec(f *Factory, runF func(*ExecOptions) error) *cobra.Command {
	opts := &ExecOptions{F: f}
	cmd := &cobra.Command{
		Use:   "exec [PROFILE] [flags] [-- COMMAND [ARGS...]]",
		Short: "Run a command (or a shell) with a profile's credentials in its environment",
		Long: "exec runs COMMAND with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,\n" +
			"AWS_CREDENTIAL_EXPIRATION and (when known) AWS_REGION and AWS_DEFAULT_REGION set,\n" +
			"ROLEHOP_PROFILE naming the profile, and AWS_PROFILE and other variables that would\n" +
			"override them removed. Without COMMAND it opens $SHELL (exit it to leave). PROFILE\n" +
			"(or --profile, else AWS_PROFILE) is any profile: a rolehop source, one `rolehop\n" +
			"login` wrote, or anything the AWS SDK resolves. Flags go before --; everything\n" +
			"after -- is the command's. SIGINT, SIGTERM and SIGHUP are passed to the command;\n" +
			"its exit status is rolehop's (128+N when it was killed by signal N).",
		Example: "  rolehop exec prod -- aws s3 ls\n" +
			"  rolehop exec prod --region eu-west-1 -- terraform plan\n" +
			"  rolehop exec prod                      # a shell with prod's credentials",
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
			return runExec(cmd.Context(), opts)
		},
	}
	addDeliveryFlags(cmd, &opts.Delivery)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "run even inside another rolehop exec shell (ROLEHOP_PROFILE set)")
	// Flags stop at PROFILE: a command without "--" keeps its own flags.
	cmd.Flags().SetInterspersed(false)
	cmd.SetFlagErrorFunc(commandFlagError)
	return cmd
}

// commandFlagError explains a flag rolehop does not know in a command line
// that runs another command: it belongs after "--".
func commandFlagError(cmd *cobra.Command, err error) error {
	return usageError(fmt.Errorf("%w; put -- before the command and its own flags, e.g. %s prod -- aws s3 ls --recursive", err, cmd.CommandPath()))
}

// profileAndCommand splits `[PROFILE] [flags] [--] COMMAND...`. cobra
// stops parsing flags at PROFILE (interspersed flags off); the flags that
// follow PROFILE are parsed here, up to "--" or the command's first word, so
// `exec prod --region eu-west-1 -- true` and `exec prod sh -c 'exit 3'` both
// read as meant. The arguments before "--" are at most one profile (or none
// with --profile).
func profileAndCommand(cmd *cobra.Command, args []string, profileFlag string) (string, []string, error) {
	if dash := cmd.ArgsLenAtDash(); dash >= 0 {
		// "--" came before any positional argument.
		profile, err := profileArg(cmd, args[:dash], profileFlag)
		return profile, args[dash:], err
	}
	if len(args) == 0 || profileFlag != "" {
		// --profile given: every argument is the command.
		return profileFlag, args, nil
	}
	profile, rest := args[0], args[1:]
	fs := cmd.Flags()
	if err := fs.Parse(rest); err != nil {
		return "", nil, commandFlagError(cmd, err)
	}
	command := fs.Args()
	if p := fs.Lookup("profile"); p != nil && p.Changed {
		return "", nil, usageError(fmt.Errorf("profile given twice (%q and --profile %q); give one", profile, p.Value.String()))
	}
	return profile, command, nil
}

func runExec(ctx context.Context, opts *ExecOptions) error {
	f := opts.F
	if outer := f.getenv(envMarker); outer != "" && !opts.Force {
		return usageError(fmt.Errorf("already in a rolehop exec session for %q (%s is set): exit that shell first, or pass --force", outer, envMarker))
	}
	if err := pickProfile(ctx, f, &opts.Delivery); err != nil {
		return err
	}
	command := opts.Command
	if len(command) == 0 {
		shell := f.getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		command = []string{shell}
	}
	c, p, err := profileCredentials(ctx, f, opts.Logger, opts.Delivery)
	if err != nil {
		return err
	}
	if f.IO.ErrTerminal {
		recordRecent(f, p.Name)
	}
	env := credenv.With(f.environ(), credenv.Vars(c, p.Region)...)
	env = append(env, envMarker+"="+profileLabel(p))
	if len(opts.Command) == 0 {
		fmt.Fprintf(f.IO.ErrOut, "rolehop: starting %s with the credentials of %s; exit it to leave\n", command[0], profileLabel(p))
	}
	return runChild(f.IO, opts.Logger, command, env)
}

// runChild runs argv with env on the command's streams, passing SIGINT,
// SIGTERM and SIGHUP on to it, and returns its exit status as a silent
// ExitError (nil for 0).
// childRunning counts the child processes runChild is waiting for.
var childRunning atomic.Int32

// ChildRunning reports whether a command rolehop started (exec, serve --
// COMMAND) is running: signals are then the child's to act on.
func ChildRunning() bool { return childRunning.Load() > 0 }

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
	childRunning.Add(1)
	defer childRunning.Add(-1)
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
