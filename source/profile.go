package source

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/session"
)

// Profile is credentials named by an AWS profile, whatever kind of profile
// it is: every rolehop command that delivers credentials (exec, env, serve,
// credential-process, whoami, console, presign, run) opens its profile with
// Open, so one name means the same credentials everywhere.
type Profile struct {
	// Name is the profile ("" for the SDK's default chain: environment
	// credentials, the default profile, instance metadata).
	Name string
	// Source is the rolehop source when the profile has rolehop_* keys; nil
	// for any other profile, which the AWS SDK resolves.
	Source *Source
	// Region is the profile's region ("" when none is configured).
	Region string

	opts Options
	cfg  aws.Config // the SDK's configuration (Source == nil)
}

// Open resolves the profile name: "" means AWS_PROFILE, else the SDK's
// default chain. A profile with rolehop_role_arn is a rolehop source
// (Resolve); any other is loaded by the AWS SDK (static keys such as those
// `rolehop login` writes, role_arn chains, sso_*, credential_process), with
// the expiry of static credentials known where the file or the environment
// says it (session.LoadProfile). Nothing is fetched yet, except that a
// default chain ending at instance metadata is probed (off EC2 it is
// session.ErrNoCredentials).
//
// A profile a parent rolehop process is resolving (EnvChain) is an
// ErrCycle; a profile that exists nowhere is session.ErrProfileNotFound.
func Open(ctx context.Context, name string, opts *Options) (*Profile, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if name == "" {
		name = o.getenv("AWS_PROFILE")
	}
	if name != "" {
		if err := checkChain(name, o.getenv); err != nil {
			return nil, err
		}
		s, err := Resolve(ctx, name, &o)
		switch {
		case err == nil:
			return &Profile{Name: name, Source: s, Region: s.Region, opts: o}, nil
		case !errors.Is(err, ErrNotSource) && !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	sdk := o
	sdk.Region = ""
	cfg, err := loadSDKProfile(ctx, name, &sdk)
	if err != nil {
		return nil, err
	}
	if o.Region != "" {
		cfg.Region = o.Region
	}
	return &Profile{Name: name, Region: cfg.Region, opts: o, cfg: cfg}, nil
}

// Credentials returns the profile's credentials: a source's from the
// on-disk cache (refreshed when due), else the SDK's. While they are
// fetched, processes the SDK starts see the profile in EnvChain.
func (p *Profile) Credentials(ctx context.Context) (aws.Credentials, error) {
	if p.Name != "" {
		leave := enterChain(p.Name)
		defer leave()
	}
	if p.Source != nil {
		return p.Source.Credentials(ctx)
	}
	if p.cfg.Credentials == nil {
		return aws.Credentials{}, fmt.Errorf("%w for profile %q: add keys, role_arn, credential_process or sso_* to it", session.ErrNoCredentials, p.label())
	}
	c, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("credentials of profile %q (log in again or name another profile): %w", p.label(), err)
	}
	return c, nil
}

// CredentialsProvider returns an aws.CredentialsProvider whose every
// Retrieve goes to Credentials.
func (p *Profile) CredentialsProvider() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(p.Credentials)
}

// Config returns the profile's SDK configuration (region, endpoints,
// retries) with credentials from Credentials. The credentials are fetched
// now, so an error shows here rather than at first use.
func (p *Profile) Config(ctx context.Context) (aws.Config, error) {
	if p.Source != nil {
		leave := enterChain(p.Name)
		defer leave()
		return p.Source.Config(ctx)
	}
	if _, err := p.Credentials(ctx); err != nil {
		return aws.Config{}, err
	}
	cfg := p.cfg.Copy()
	cfg.Credentials = p.CredentialsProvider()
	return cfg, nil
}

// RoleARN is the role the credentials are for, when rolehop knows it (a
// source's final role); "" otherwise.
func (p *Profile) RoleARN() string {
	if p.Source != nil {
		return p.Source.RoleARN()
	}
	return ""
}

func (p *Profile) label() string {
	if p.Name != "" {
		return p.Name
	}
	return "default"
}

// Names lists the profiles of the AWS config and credentials files (each
// once, config order first): what a picker or shell completion offers.
func Names(opts *Options) ([]string, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	cfgPath := o.ConfigFile
	if cfgPath == "" {
		p, err := awsfile.ConfigPath()
		if err != nil {
			return nil, err
		}
		cfgPath = p
	}
	credPath, err := awsfile.CredentialsPath()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, f := range []struct {
		path string
		kind awsfile.Kind
	}{{cfgPath, awsfile.Config}, {credPath, awsfile.Credentials}} {
		names, err := awsfile.Profiles(f.path, f.kind)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out, nil
}
