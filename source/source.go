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
//	credential_process = rolehop credential-process --profile prod
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
// Resolve only reads the config file and validates every parameter (role
// ARN, duration, ExternalId, with package session's rules) before any network
// call. Credentials then returns the final role's credentials through the
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
// the config and credentials file paths, or login:NAME), the STS endpoint
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
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/credcache"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/session"
)

// The rolehop_* keys of a source.
const (
	KeyBase       = "rolehop_base"
	KeyRoleARN    = "rolehop_role_arn"
	KeyExternalID = "rolehop_external_id"
	KeyDuration   = "rolehop_duration"
	KeyRegion     = "region"
)

// LoginPrefix marks a base that is a rolehop login profile: login:NAME.
const LoginPrefix = "login:"

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound: the profile has no section in the AWS config file.
	// errors.Is(err, session.ErrProfileNotFound) is true as well.
	ErrNotFound = errors.New("profile not found")
	// ErrNotSource: the profile exists but has no rolehop_role_arn.
	ErrNotSource = errors.New("not a rolehop source")
	// ErrInvalid: a source definition is malformed (missing base, bad
	// duration; bad ARNs and ExternalIds are also session.ErrInvalidParameter).
	ErrInvalid = errors.New("invalid rolehop source")
	// ErrCycle: sources name each other as bases in a loop.
	ErrCycle = errors.New("rolehop source cycle")
	// ErrLoginUnavailable: a login:NAME base with no Options.Login to
	// resolve it.
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
type Base struct {
	Profile string
	Login   string
}

// String returns the base as written in rolehop_base.
func (b Base) String() string {
	if b.Login != "" {
		return LoginPrefix + b.Login
	}
	return b.Profile
}

// Hop is one AssumeRole of a chain, defined by one source profile.
type Hop struct {
	Profile    string        // the profile holding the definition
	RoleARN    string        // rolehop_role_arn
	ExternalID string        // rolehop_external_id
	Duration   time.Duration // rolehop_duration; 0 means STS's default (1h)
	Region     string        // the profile's region, if any
}

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
}

// Resolve reads the source named profile from the AWS config file, follows
// its base through other sources, and validates every definition. It makes
// no network call and builds no SDK client.
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
	// One read and parse of the config file for the whole chain.
	file, fileErr := (&awsfile.File{Path: cfgPath, Kind: awsfile.Config}).Snapshot()

	s := &Source{Profile: profile, opts: o, configFile: cfgPath}
	seen := map[string]bool{}
	var path []string // profile names from the named one inward
	var hops []Hop    // outermost first
	name := profile
	for {
		if seen[name] {
			path = append(path, name)
			return nil, fmt.Errorf("%w: %s; make one of these profiles' rolehop_base an AWS profile or login:NAME",
				ErrCycle, strings.Join(path[indexOf(path, name):], " → "))
		}
		seen[name] = true
		path = append(path, name)
		var vals map[string]string
		err := fileErr
		if err == nil {
			vals, err = file.Profile(name)
		}
		if err != nil {
			if errors.Is(err, awsfile.ErrProfileNotFound) || errors.Is(err, os.ErrNotExist) {
				if len(path) == 1 {
					return nil, &notFoundError{msg: fmt.Sprintf("profile %q not found in %s; add [profile %s] with %s and %s",
						name, cfgPath, name, KeyBase, KeyRoleARN)}
				}
				// An AWS profile only in the credentials file (or one the SDK
				// reports missing when it is loaded): the base.
				s.Base = Base{Profile: name}
				break
			}
			return nil, fmt.Errorf("read profile %q: %w", name, err)
		}
		roleARN := vals[KeyRoleARN]
		if roleARN == "" {
			if len(path) == 1 {
				return nil, fmt.Errorf("%w: profile %q in %s has no %s; add %s and %s to make it one",
					ErrNotSource, name, cfgPath, KeyRoleARN, KeyBase, KeyRoleARN)
			}
			s.Base = Base{Profile: name}
			if s.Region == "" {
				s.Region = vals[KeyRegion]
			}
			break
		}
		h, base, err := parseHop(name, vals)
		if err != nil {
			return nil, err
		}
		hops = append(hops, h)
		if s.Region == "" {
			s.Region = h.Region
		}
		if login, ok := strings.CutPrefix(base, LoginPrefix); ok {
			if login == "" {
				return nil, fmt.Errorf("%w: profile %q: %s = login: names no login profile; write login:NAME",
					ErrInvalid, name, KeyBase)
			}
			s.Base = Base{Login: login}
			break
		}
		name = base
	}
	for i := len(hops) - 1; i >= 0; i-- {
		s.Hops = append(s.Hops, hops[i])
	}
	if o.Duration != 0 {
		last := &s.Hops[len(s.Hops)-1]
		last.Duration = o.Duration
		if err := session.ValidateAssumeRole(last.RoleARN, last.params()); err != nil {
			return nil, fmt.Errorf("duration for profile %q: %w", profile, err)
		}
	}
	if o.Region != "" {
		s.Region = o.Region
	}
	key, err := s.cacheKey()
	if err != nil {
		return nil, err
	}
	s.CacheKey = key
	s.cache = o.Cache
	if s.cache == nil {
		s.cache = &credcache.Cache{Logger: o.Logger, Now: o.Now}
	}
	o.Logger.Debug("resolved rolehop source", "profile", profile, "base", s.Base.String(), "hops", len(s.Hops), "region", s.Region)
	return s, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}

// parseHop validates one source definition and returns it with its base.
func parseHop(profile string, vals map[string]string) (Hop, string, error) {
	h := Hop{
		Profile:    profile,
		RoleARN:    strings.TrimSpace(vals[KeyRoleARN]),
		ExternalID: strings.TrimSpace(vals[KeyExternalID]),
		Region:     strings.TrimSpace(vals[KeyRegion]),
	}
	base := strings.TrimSpace(vals[KeyBase])
	if base == "" {
		return Hop{}, "", fmt.Errorf("%w: profile %q has %s but no %s; set it to an AWS profile or login:NAME",
			ErrInvalid, profile, KeyRoleARN, KeyBase)
	}
	if d := strings.TrimSpace(vals[KeyDuration]); d != "" {
		dur, err := duration.Parse(d)
		if err != nil {
			return Hop{}, "", fmt.Errorf("%w: profile %q: %s %q is not a duration; write e.g. 1h, 90m or 3600",
				ErrInvalid, profile, KeyDuration, d)
		}
		h.Duration = dur
	}
	if err := session.ValidateAssumeRole(h.RoleARN, h.params()); err != nil {
		return Hop{}, "", fmt.Errorf("profile %q: %w", profile, err)
	}
	return h, base, nil
}

// params are the AssumeRole parameters of a hop.
func (h Hop) params() session.AssumeRoleParams {
	return session.AssumeRoleParams{ExternalID: h.ExternalID, Duration: h.Duration}
}

// options are the session.RoleConfig options of a hop.
func (h Hop) options(o *Options) func(*session.AssumeRoleOptions) {
	return func(ro *session.AssumeRoleOptions) {
		ro.AssumeRoleParams = h.params()
		ro.Region = h.Region
		ro.Logger = o.Logger
		ro.Now = o.Now
		ro.STSOptions = o.STSOptions
	}
}

// cacheKey computes CacheKey (see the package documentation).
func (s *Source) cacheKey() (string, error) {
	var b strings.Builder
	if s.Base.Login != "" {
		b.WriteString("login:" + s.Base.Login)
	} else {
		creds, _ := awsfile.CredentialsPath()
		b.WriteString("profile:" + s.Base.Profile + ";config=" + s.configFile + ";credentials=" + creds)
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			b.WriteString(";" + k + "=" + v)
		}
	}
	last := s.Hops[len(s.Hops)-1]
	for _, h := range s.Hops[:len(s.Hops)-1] {
		fmt.Fprintf(&b, " > %s;ExternalId=%s;DurationSeconds=%d", h.RoleARN, h.ExternalID, int64(h.Duration/time.Second))
	}
	args := map[string]any{"RoleArn": last.RoleARN, "RolehopBase": b.String()}
	if last.ExternalID != "" {
		args["ExternalId"] = last.ExternalID
	}
	if last.Duration != 0 {
		args["DurationSeconds"] = int64(last.Duration / time.Second)
	}
	key, err := credcache.HashArgs(args)
	if err != nil {
		return "", fmt.Errorf("cache key for profile %q: %w", s.Profile, err)
	}
	return key, nil
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
	cfg, err := s.baseConfig(ctx)
	if err != nil {
		return aws.Credentials{}, err
	}
	for _, h := range s.Hops {
		cfg, err = session.RoleConfig(cfg, h.RoleARN, h.options(&s.opts))
		if err != nil {
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
