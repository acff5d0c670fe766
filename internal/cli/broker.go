package cli

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/rolehop/rolehop/internal/program"
	"github.com/spf13/cobra"
)

// BrokerProgram is the broker's own program, installed beside rolehop.
const BrokerProgram = "rolehop-broker"

// NewCmdBroker builds `rolehop broker`, which hands over to rolehop-broker
// with the same arguments: the web service, its Prometheus metrics and its
// Redis client live in their own program, so that the rolehop binary (which
// the AWS CLI starts on every credential_process) does not pay their start-up
// cost. runF, when not nil, runs instead of the hand-over (it gets the
// arguments).
func NewCmdBroker(f *Factory, runF func(args []string) error) *cobra.Command {
	return &cobra.Command{
		Use:                "broker --config FILE",
		Short:              "Serve the SSO broker: an IdP login opens AWS consoles by group (runs rolehop-broker)",
		Long:               "broker runs rolehop-broker, the broker's own program, with the same arguments;\nsee rolehop-broker --help and README.md.",
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(args)
			}
			prog, err := findProgram(BrokerProgram)
			if err != nil {
				return err
			}
			return handOver(f, prog, args)
		},
	}
}

// findProgram finds a rolehop program next to the running rolehop (go
// install puts them together), else on PATH.
func findProgram(name string) (string, error) {
	p, err := program.Find(name)
	if err != nil {
		return "", &ExitError{Code: 127, Err: fmt.Errorf("%s not found next to rolehop or on PATH: install it with go install github.com/rolehop/rolehop/cmd/...@latest", name)}
	}
	return p, nil
}

// handOver runs prog with args and the process's environment in rolehop's
// place: on Unix by exec (signals and the exit status are the program's
// own), elsewhere as a child whose status is rolehop's.
func handOver(f *Factory, prog string, args []string) error {
	if err := program.Exec(prog, append([]string{filepath.Base(prog)}, args...), f.environ()); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("start %s: %w", prog, err)
	}
	return runChild(f.IO, nil, append([]string{prog}, args...), f.environ())
}
