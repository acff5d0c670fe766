// Package source resolves the credentials an AWS profile names, for every
// way rolehop delivers credentials to other programs (credential_process,
// exec, env, the local ECS endpoint, whoami, console, presign, run): Open
// takes any profile — a rolehop source, or whatever the AWS SDK resolves —
// so that one name means the same credentials in every command.
//
// A rolehop source is a named definition, kept in the AWS config file, of
// "these credentials".
//
// A source lives in the profile that names it, in rolehop_* keys that the AWS
// SDKs and the AWS CLI ignore:
//
//	[profile prod]
//	credential_process = rolehop-credential-process --profile prod
//	rolehop_base = hopoff            # an AWS profile, or login:corp
//	rolehop_role_arn = arn:aws:iam::222222222222:role/Admin
//	rolehop_external_id = ext-1      # optional
//	rolehop_duration = 1h            # optional (Go duration or seconds)
//	region = eu-west-1
//
// The base is an AWS profile, resolved entirely by aws-sdk-go-v2 (static keys,
// role_arn+source_profile, sso_*, credential_process, ...), or login:NAME, a
// rolehop login profile (SAML). A base that is itself a rolehop source is
// followed, so sources chain: base credentials, then one AssumeRole per
// source, innermost first. A cycle is an error naming it (a → b → a).
//
// A SAML source names a rolehop login profile and a role its IdP grants,
// and gets that role with AssumeRoleWithSAML directly (the session name is
// the IdP's RoleSessionName):
//
//	[profile prod-Admin]
//	credential_process = rolehop-credential-process --profile prod-Admin
//	rolehop_login = corp
//	rolehop_role_arn = arn:aws:iam::111111111111:role/Admin
//	rolehop_principal_arn = arn:aws:iam::111111111111:saml-provider/X   # only when several providers grant it
//	rolehop_duration = 1h            # optional
//
// Its SAML session comes from Options.SAML; rolehop's CLI shares one
// assertion between every profile and process of the login (package
// internal/login's Shared). A SAML source can be the base of other sources.
//
// Resolve only reads the config file and validates every parameter (role
// ARN, duration, ExternalId, with package session's rules) before any network
// call. The definitions, their validation and the cache key are package
// internal/sourcedef's, which the SDK-free credential_process fast path
// (cmd/rolehop-credential-process) shares. Credentials then returns the final role's credentials through the
// on-disk cache (package credcache): a warm call reads one small file and
// builds no SDK client at all.
//
// # Cache key
//
// The entry's name is botocore's cache-key hash (credcache.HashArgs: the sha1
// of Python's json.dumps(args, sort_keys=True)) of the final hop's AssumeRole
// arguments as botocore spells them (RoleArn, ExternalId, DurationSeconds)
// plus one extra argument, "RolehopBase": a description of everything the
// final hop's parent credentials come from — the base (AWS profile name with
// the config and credentials file paths, login:NAME, or saml:NAME with the
// SAML hop's role, principal and duration), the STS endpoint
// override from the environment, and every earlier hop's role, ExternalId
// and duration. Two sources with different bases therefore never share an
// entry, and the AWS CLI (which never adds RolehopBase) never reads or
// overwrites rolehop's entries. The ExternalId only enters the hash, never a
// file name or log line.
package source

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/sourcedef"
	"github.com/rolehop/rolehop/session"
)

// The rolehop_* keys of a source.
const (
	KeyBase         = sourcedef.KeyBase
	KeyLogin        = sourcedef.KeyLogin
	KeyRoleARN      = sourcedef.KeyRoleARN
	KeyPrincipalARN = sourcedef.KeyPrincipalARN
	KeyExternalID   = sourcedef.KeyExternalID
	KeyDuration     = sourcedef.KeyDuration
	KeyRegion       = sourcedef.KeyRegion
)

// LoginPrefix marks a base that is a rolehop login profile: login:NAME.
const LoginPrefix = sourcedef.LoginPrefix

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound: the profile has no section in the AWS config file.
	// errors.Is(err, session.ErrProfileNotFound) is true as well.
	ErrNotFound = sourcedef.ErrNotFound
	// ErrNotSource: the profile exists but has no rolehop_role_arn.
	ErrNotSource = sourcedef.ErrNotSource
	// ErrInvalid: a source definition is malformed (missing base, bad
	// duration; bad ARNs and ExternalIds are also session.ErrInvalidParameter).
	ErrInvalid = sourcedef.ErrInvalid
	// ErrCycle: sources name each other as bases in a loop.
	ErrCycle = sourcedef.ErrCycle
	// ErrLoginUnavailable: a login:NAME base (or rolehop_login) with no
	// Options.Login (Options.SAML) to resolve it.
	ErrLoginUnavailable = errors.New("login bases unavailable")
)

// notFoundError is ErrNotFound that also matches session.ErrProfileNotFound,
// so callers mapping session errors (exit code 2) see it too.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return e.msg }
func (e *notFoundError) Is(target error) bool {
	return target == ErrNotFound || target == session.ErrProfileNotFound
}

// Options configure Resolve. The zero value (or nil) works: the AWS config
// file from AWS_CONFIG_FILE or ~/.aws/config, the default cache folder, the
// wall clock, no logging and no login bases.
type Options struct {
	// ConfigFile is the AWS config file; "" means awsfile.ConfigPath().
	ConfigFile string
	// Cache is the on-disk cache of the final role's credentials; nil means
	// a credcache.Cache in credcache.DefaultDir() with Logger and Now.
	Cache *credcache.Cache
	// Logger receives debug messages; nil discards. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock for cache freshness and refresh decisions.
	Now func() time.Time
	// TokenProvider returns an MFA code when an AWS-profile base needs one
	// (mfa_serial with role_arn). nil leaves the SDK's default (an error).
	TokenProvider func() (string, error)
	// Login returns the configuration (credentials, region) of a rolehop
	// login profile, for login:NAME bases. nil makes such bases fail with
	// ErrLoginUnavailable.
	Login func(ctx context.Context, name string) (aws.Config, error)
	// SAML returns the SAML session of rolehop login profile name, for
	// rolehop_login sources, with duration (when not 0) as the session
	// duration of the roles it assumes. nil makes such sources fail with
	// ErrLoginUnavailable.
	SAML func(ctx context.Context, name string, duration time.Duration) (SAMLSession, error)
	// LoadOptions are added to config.LoadDefaultConfig for AWS-profile bases
	// and for Config (HTTP client, retryer, ...).
	LoadOptions []func(*config.LoadOptions) error
	// STSOptions adjust the STS clients of every hop.
	STSOptions []func(*sts.Options)
	// Getenv reads AWS_PROFILE, AWS_CREDENTIAL_EXPIRATION and the source
	// chain of parent processes (EnvChain); nil means os.Getenv.
	Getenv func(string) string
	// Duration, when set, overrides the session duration of the role the
	// profile names (a source's last hop, an SDK profile's role_arn).
	Duration time.Duration
	// Region, when set, overrides the profile's region.
	Region string
}

func (o *Options) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// Base is where a chain's first credentials come from: exactly one of
// Profile (an AWS profile the SDK resolves) and Login (a rolehop login
// profile name) is set.
type Base = sourcedef.Base

// Hop is one role assumption of a chain, defined by one source profile
// (AssumeRole, or AssumeRoleWithSAML for a rolehop_login source).
type Hop = sourcedef.Hop

// Source is a resolved rolehop source: a base and the hops from it to the
// named profile's role. It is safe for concurrent use.
type Source struct {
	// Profile is the source's name.
	Profile string
	// Base is where the chain starts.
	Base Base
	// Hops are the AssumeRole calls in call order: Hops[0] is made with the
	// base's credentials, the last one gives Profile's credentials.
	Hops []Hop
	// Region is the credentials' region: the nearest region key from
	// Profile back to the base profile; "" when none is configured.
	Region string
	// CacheKey names the final role's credentials in the on-disk cache (see
	// the package documentation).
	CacheKey string

	opts       Options
	configFile string
	cache      *credcache.Cache
	def        *sourcedef.Def
}

// Resolve reads the source named profile from the AWS config file, follows
// its base through other sources, and validates every definition
// (internal/sourcedef, which the SDK-free credential_process fast path
// shares). It makes no network call and builds no SDK client.
func Resolve(ctx context.Context, profile string, opts *Options) (*Source, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfgPath := o.ConfigFile
	if cfgPath == "" {
		p, err := awsfile.ConfigPath()
		if err != nil {
			return nil, fmt.Errorf("find the aws config file: %w", err)
		}
		cfgPath = p
	}
	if profile == "" {
		return nil, fmt.Errorf("%w: no profile given; name the rolehop source profile", ErrInvalid)
	}
	// One read of the config file for the whole chain.
	file, fileErr := (&awsfile.File{Path: cfgPath, Kind: awsfile.Config}).Snapshot()
	if fileErr == nil {
		defer file.Close()
	}
	lookup := func(name string) (map[string]string, error) {
		if fileErr != nil {
			return nil, fileErr
		}
		return file.Profile(name)
	}
	d, err := sourcedef.Resolve(profile, lookup, sourcedef.Options{ConfigFile: cfgPath, Duration: o.Duration, Region: o.Region})
	if err != nil {
		var nf *sourcedef.NotFoundError
		if errors.As(err, &nf) {
			return nil, &notFoundError{msg: nf.Msg}
		}
		return nil, err
	}
	s := &Source{Profile: d.Profile, Base: d.Base, Hops: d.Hops, Region: d.Region, CacheKey: d.CacheKey,
		opts: o, configFile: cfgPath, def: d}
	s.cache = o.Cache
	if s.cache == nil {
		s.cache = &credcache.Cache{Logger: o.Logger, Now: o.Now}
	}
	o.Logger.Debug("resolved rolehop source", "profile", profile, "base", s.Base.String(), "hops", len(s.Hops), "saml", d.SAML(), "region", s.Region)
	return s, nil
}

// hopParams are the AssumeRole parameters of a hop.
func hopParams(h Hop) session.AssumeRoleParams {
	return session.AssumeRoleParams{ExternalID: h.ExternalID, Duration: h.Duration}
}

// hopOptions are the session.RoleConfig options of a hop.
func hopOptions(h Hop, o *Options) func(*session.AssumeRoleOptions) {
	return func(ro *session.AssumeRoleOptions) {
		ro.AssumeRoleParams = hopParams(h)
		ro.Region = h.Region
		ro.Logger = o.Logger
		ro.Now = o.Now
		ro.STSOptions = o.STSOptions
	}
}

// RoleARN returns the final role's ARN.
func (s *Source) RoleARN() string { return s.Hops[len(s.Hops)-1].RoleARN }

// Credentials returns the final role's credentials: from the on-disk cache
// while they are fresh (no SDK client is built), else by loading the base
// and assuming every hop's role, the result written to the cache. Several
// processes that miss at once make one chain of STS calls.
func (s *Source) Credentials(ctx context.Context) (aws.Credentials, error) {
	return s.cache.Get(ctx, s.CacheKey, s.fetch)
}

// fetch loads the base and assumes every hop's role.
func (s *Source) fetch(ctx context.Context) (aws.Credentials, error) {
	hops := s.Hops
	var cfg aws.Config
	if hops[0].SAML {
		creds, base, err := s.samlHop(ctx, len(hops) > 1)
		if err != nil || len(hops) == 1 {
			return creds, err
		}
		cfg, hops = base, hops[1:]
	} else {
		var err error
		if cfg, err = s.baseConfig(ctx); err != nil {
			return aws.Credentials{}, err
		}
	}
	for _, h := range hops {
		var err error
		if cfg, err = session.RoleConfig(cfg, h.RoleARN, hopOptions(h, &s.opts)); err != nil {
			return aws.Credentials{}, fmt.Errorf("profile %q: %w", h.Profile, err)
		}
	}
	s.opts.Logger.Debug("assuming role", "profile", s.Profile, "role", s.RoleARN())
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("credentials of profile %q: %w", s.Profile, err)
	}
	return creds, nil
}

// baseConfig returns the base's configuration.
func (s *Source) baseConfig(ctx context.Context) (aws.Config, error) {
	if s.Base.Login != "" {
		if s.opts.Login == nil {
			return aws.Config{}, fmt.Errorf("%w: base %s of profile %q: login bases are not supported by this build yet; use an AWS profile as rolehop_base (e.g. the one `rolehop login` writes)",
				ErrLoginUnavailable, s.Base, s.Profile)
		}
		cfg, err := s.opts.Login(ctx, s.Base.Login)
		if err != nil {
			return aws.Config{}, fmt.Errorf("base %s of profile %q: %w", s.Base, s.Profile, err)
		}
		return cfg, nil
	}
	cfg, err := s.loadProfile(ctx, s.Base.Profile)
	if err != nil {
		return aws.Config{}, fmt.Errorf("base profile %q of %q: %w", s.Base.Profile, s.Profile, err)
	}
	return cfg, nil
}

// loadProfile loads an AWS profile with the SDK (session.LoadProfile).
func (s *Source) loadProfile(ctx context.Context, profile string) (aws.Config, error) {
	return loadSDKProfile(ctx, profile, &s.opts)
}

// loadSDKProfile loads an AWS profile with the SDK, with o's config file,
// MFA prompt and load options (its Duration applies to a role_arn profile;
// its Region is not applied here).
func loadSDKProfile(ctx context.Context, profile string, o *Options) (aws.Config, error) {
	return session.LoadProfile(ctx, profile, func(po *session.ProfileOptions) {
		po.Logger, po.Getenv = o.Logger, o.Getenv
		if o.ConfigFile != "" {
			po.LoadOptions = append(po.LoadOptions, config.WithSharedConfigFiles([]string{o.ConfigFile}))
		}
		if o.TokenProvider != nil || o.Duration != 0 {
			tp, d := o.TokenProvider, o.Duration
			po.LoadOptions = append(po.LoadOptions, config.WithAssumeRoleCredentialOptions(func(ao *stscreds.AssumeRoleOptions) {
				if tp != nil {
					ao.TokenProvider = tp
				}
				if d != 0 {
					ao.Duration = d
				}
			}))
		}
		po.LoadOptions = append(po.LoadOptions, o.LoadOptions...)
	})
}

// Config returns a configuration for the source: the named profile's SDK
// settings (region, endpoints, retries) with credentials from Credentials,
// refreshed as they age. The credentials are fetched now, so an error shows
// here rather than at first use.
func (s *Source) Config(ctx context.Context) (aws.Config, error) {
	if _, err := s.Credentials(ctx); err != nil {
		return aws.Config{}, err
	}
	creds := aws.NewCredentialsCache(aws.CredentialsProviderFunc(s.Credentials))
	lo := []func(*config.LoadOptions) error{config.WithSharedConfigProfile(s.Profile), config.WithCredentialsProvider(creds)}
	if s.opts.ConfigFile != "" {
		lo = append(lo, config.WithSharedConfigFiles([]string{s.opts.ConfigFile}))
	}
	cfg, err := config.LoadDefaultConfig(ctx, append(lo, s.opts.LoadOptions...)...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load profile %q: %w", s.Profile, err)
	}
	if s.Region != "" {
		cfg.Region = s.Region
	}
	return cfg, nil
}

// Provider returns an aws.CredentialsProvider whose every Retrieve goes to
// Credentials (the on-disk cache, refreshed before expiry).
func (s *Source) Provider() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(s.Credentials)
}
