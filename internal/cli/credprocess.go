package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/source"
)

// CredentialProcessOptions are the inputs of `rolehop credential-process`.
type CredentialProcessOptions struct {
	IO      *IOStreams
	Logger  *slog.Logger
	Profile string // --profile: the rolehop source
}

func newCredentialProcessCmd(g *globals) *cobra.Command {
	opts := &CredentialProcessOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "credential-process --profile PROFILE",
		Short: "Print a rolehop source's credentials for the AWS credential_process setting",
		Long: "credential-process prints the credentials of a rolehop source (a profile of the AWS\n" +
			"config file with rolehop_base and rolehop_role_arn) as the Version 1 JSON the AWS CLI\n" +
			"and SDKs read from a credential_process:\n\n" +
			"  [profile prod]\n" +
			"  credential_process = rolehop credential-process --profile prod\n" +
			"  rolehop_base = hopoff\n" +
			"  rolehop_role_arn = arn:aws:iam::222222222222:role/Admin\n\n" +
			"Credentials come from rolehop's on-disk cache while they have more than 15 minutes\n" +
			"left. Prompts (MFA codes) go to the terminal, never to stdout.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Logger = g.logger()
			return runCredentialProcess(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Profile, "profile", "", "the rolehop source profile (required)")
	return cmd
}

// processCredentials is the credential_process Version 1 document.
type processCredentials struct {
	Version         int
	AccessKeyId     string //nolint:revive // the wire name
	SecretAccessKey string
	SessionToken    string `json:",omitempty"`
	Expiration      string `json:",omitempty"`
}

func runCredentialProcess(ctx context.Context, opts *CredentialProcessOptions) error {
	if opts.Profile == "" {
		return usageError(errors.New("--profile is required: name the rolehop source, e.g. --profile prod"))
	}
	c, _, err := sourceCredentials(ctx, opts.IO, opts.Logger, opts.Profile)
	if err != nil {
		return err
	}
	doc := processCredentials{Version: 1, AccessKeyId: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	if c.CanExpire {
		doc.Expiration = c.Expires.UTC().Format(time.RFC3339)
	}
	// Encode first: stdout gets the whole document or nothing.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err = opts.IO.Out.Write(buf.Bytes())
	return err
}

// sourceCredentials resolves profile as a rolehop source and returns its
// credentials (the on-disk cache first) and the source.
func sourceCredentials(ctx context.Context, ios *IOStreams, log *slog.Logger, profile string) (aws.Credentials, *source.Source, error) {
	s, err := resolveSource(ctx, ios, log, profile)
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	leave, err := enterChain(profile)
	if err != nil {
		return aws.Credentials{}, nil, err
	}
	c, err := s.Credentials(ctx)
	leave()
	if err != nil {
		return aws.Credentials{}, nil, sourceError(err)
	}
	return c, s, nil
}

// resolveSource resolves profile with the CLI's options: logger, MFA
// prompt on the terminal and login:NAME bases.
func resolveSource(ctx context.Context, ios *IOStreams, log *slog.Logger, profile string) (*source.Source, error) {
	s, err := source.Resolve(ctx, profile, sourceOptions(ios, log))
	if err != nil {
		return nil, sourceError(err)
	}
	return s, nil
}

func sourceOptions(ios *IOStreams, log *slog.Logger) *source.Options {
	return &source.Options{
		Logger:        log,
		TokenProvider: mfaPrompt(ios),
		Login:         loginBase(ios, log),
		LoadOptions:   []func(*config.LoadOptions) error{config.WithLogger(sdkLogger(log))},
	}
}

// sourceError marks bad source definitions as bad input (exit code 2).
func sourceError(err error) error {
	for _, target := range []error{source.ErrNotFound, source.ErrNotSource, source.ErrInvalid, source.ErrCycle, source.ErrLoginUnavailable} {
		if errors.Is(err, target) {
			return usageError(err)
		}
	}
	return err
}

// mfaPrompt asks for an MFA code on the controlling terminal (/dev/tty),
// else on stderr+stdin when stdin is a terminal. Nothing goes to stdout,
// which belongs to the credential_process document.
func mfaPrompt(ios *IOStreams) func() (string, error) {
	return func() (string, error) {
		var in io.Reader
		var out io.Writer
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err == nil {
			defer tty.Close()
			in, out = tty, tty
		} else if ios.InTerminal {
			in, out = ios.In, ios.ErrOut
		} else {
			return "", usageError(errors.New("an MFA code is needed but there is no terminal to ask on; run the command on a terminal once to fill the cache"))
		}
		fmt.Fprint(out, "MFA code: ")
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("read MFA code: %w", err)
		}
		return strings.TrimSpace(line), nil
	}
}

// loginBase resolves login:NAME bases: the login profile NAME of the
// settings file (with ROLEHOP_* overrides), logged in through its IdP,
// its account and role assumed with SAML. Prompts go to the terminal.
func loginBase(ios *IOStreams, log *slog.Logger) func(ctx context.Context, name string) (aws.Config, error) {
	return func(ctx context.Context, name string) (aws.Config, error) {
		path := settings.DefaultPath()
		f, err := settings.Load(path)
		if err != nil {
			return aws.Config{}, err
		}
		lp, err := f.Login(name)
		if err != nil {
			return aws.Config{}, usageError(err)
		}
		if err := lp.ApplyEnv(os.Getenv); err != nil {
			return aws.Config{}, usageError(err)
		}
		if lp.Account == "" || lp.Role == "" {
			return aws.Config{}, usageError(fmt.Errorf("login profile %q in %s needs account and role to be a rolehop_base; set both", name, path))
		}
		prompter, err := newLoginPrompter(ttyStreams(ios), lp)
		if err != nil {
			return aws.Config{}, err
		}
		sp, err := settings.NewSAMLProvider(ctx, lp, prompter, log)
		if err != nil {
			return aws.Config{}, usageError(err)
		}
		return sp.Config(ctx, lp.Account)
	}
}

// newLoginPrompter asks for a login profile's password (terminal or
// keyring). Tests replace it.
var newLoginPrompter = func(ios *IOStreams, lp settings.LoginProfile) (idp.Prompter, error) {
	p := &terminalPrompter{io: ios, username: lp.Username}
	if lp.Keyring {
		ks, err := openKeyring(lp.Name)
		if err != nil {
			return nil, err
		}
		p.keyring = ks
	}
	return p, nil
}

// ttyStreams are ios with prompts moved to the controlling terminal when
// there is one: a credential_process's stdout and stderr are pipes read by
// the AWS CLI, so a prompt there would never be seen. Out stays ios.Out.
func ttyStreams(ios *IOStreams) *IOStreams {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return ios
	}
	// The terminal stays open for the life of the process (prompts may come
	// at any refresh).
	return &IOStreams{In: tty, Out: ios.Out, ErrOut: tty, InTerminal: true, OutTerminal: ios.OutTerminal,
		ErrTerminal: true, InFd: int(tty.Fd())}
}

// envChain lists the sources being resolved by rolehop processes up the
// process tree (a base profile's credential_process may run rolehop again).
const envChain = "ROLEHOP_SOURCE_CHAIN"

// enterChain refuses a source already being resolved by a parent rolehop
// (which would wait forever on its own cache lock) and records profile for
// the processes the SDK may start while fetching, until leave is called.
func enterChain(profile string) (leave func(), err error) {
	chain, had := os.LookupEnv(envChain)
	var names []string
	if chain != "" {
		names = strings.Split(chain, ",")
	}
	for _, n := range names {
		if n == profile {
			return nil, usageError(fmt.Errorf("%w: %s → %s through a credential_process; make the base of %q a profile that does not run rolehop for it",
				source.ErrCycle, strings.Join(names, " → "), profile, profile))
		}
	}
	if err := os.Setenv(envChain, strings.Join(append(names, profile), ",")); err != nil {
		return nil, err
	}
	return func() {
		if had {
			_ = os.Setenv(envChain, chain)
		} else {
			_ = os.Unsetenv(envChain)
		}
	}, nil
}
