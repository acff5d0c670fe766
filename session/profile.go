package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"golang.org/x/sync/singleflight"

	"github.com/rolehop/rolehop/awsfile"
)

// ProfilePerAccount gives each account the shared config/credentials
// profile named after its account ID; when there is none, the profile named
// by AWS_PROFILE, else "default". The configuration is loaded by
// config.LoadDefaultConfig, so AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE,
// AWS_REGION, AWS_ENDPOINT_URL(_STS) and every profile form the SDK knows
// (static keys, role_arn+source_profile, credential_process, sso_*) work
// unchanged. Loaded configurations are kept per profile for the provider's
// lifetime; credentials are cached per account (Options.Refresh).
type ProfilePerAccount struct {
	opts  ProfileOptions
	cache *memCache

	group     singleflight.Group
	mu        sync.RWMutex
	byAccount map[string]aws.Config
	byName    map[string]aws.Config
}

var _ BaseConfigProvider = (*ProfilePerAccount)(nil)

// NewProfilePerAccount returns a ProfilePerAccount provider.
func NewProfilePerAccount(optFns ...func(*ProfileOptions)) (*ProfilePerAccount, error) {
	var opts ProfileOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	return &ProfilePerAccount{
		opts:      opts,
		cache:     newMemCache(&opts.Options),
		byAccount: map[string]aws.Config{},
		byName:    map[string]aws.Config{},
	}, nil
}

func (o *ProfileOptions) getenv(k string) string {
	if o.Getenv != nil {
		return o.Getenv(k)
	}
	return os.Getenv(k)
}

// BaseConfig returns the configuration of accountID's profile.
func (p *ProfilePerAccount) BaseConfig(ctx context.Context, accountID string) (aws.Config, error) {
	p.mu.RLock()
	cfg, ok := p.byAccount[accountID]
	p.mu.RUnlock()
	if ok {
		return cfg, nil
	}
	if err := ValidateAccountID(accountID); err != nil {
		return aws.Config{}, err
	}
	v, err, _ := p.group.Do("account:"+accountID, func() (any, error) {
		name, err := p.resolve(ctx, accountID)
		if err != nil {
			return aws.Config{}, err
		}
		cfg, err := p.load(ctx, name)
		if err != nil {
			return aws.Config{}, err
		}
		p.mu.Lock()
		p.byAccount[accountID] = cfg
		p.mu.Unlock()
		return cfg, nil
	})
	if err != nil {
		return aws.Config{}, err
	}
	return v.(aws.Config), nil
}

// Credentials returns the credentials of accountID's profile.
func (p *ProfilePerAccount) Credentials(ctx context.Context, accountID string) (aws.Credentials, error) {
	if creds, ok := p.cache.lookup(accountID); ok {
		return creds, nil
	}
	return p.cache.get(ctx, accountID, func(ctx context.Context) (aws.Credentials, error) {
		cfg, err := p.BaseConfig(ctx, accountID)
		if err != nil {
			return aws.Credentials{}, err
		}
		if cfg.Credentials == nil {
			return aws.Credentials{}, fmt.Errorf("profile for account %s resolves no credentials: add keys, role_arn, credential_process or sso_* to it", accountID)
		}
		creds, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("get credentials for account %s: %w", accountID, err)
		}
		return creds, nil
	})
}

// resolve picks the profile name for accountID.
func (p *ProfilePerAccount) resolve(ctx context.Context, accountID string) (string, error) {
	cfgFiles, credFiles := sharedFiles(&p.opts)
	ok, err := profileExists(ctx, accountID, cfgFiles, credFiles)
	if err != nil {
		return "", err
	}
	if ok {
		p.opts.Logger.Info("using AWS profile named after the account", "account", accountID, "profile", accountID)
		return accountID, nil
	}
	fallback, why := p.opts.getenv("AWS_PROFILE"), "AWS_PROFILE"
	if fallback == "" {
		fallback, why = "default", "default"
	}
	ok, err = profileExists(ctx, fallback, cfgFiles, credFiles)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &ProfileNotFoundError{AccountID: accountID, Tried: []string{accountID, fallback}, Files: append(cfgFiles, credFiles...)}
	}
	p.opts.Logger.Info("no AWS profile named after the account: using fallback", "account", accountID, "profile", fallback, "from", why)
	return fallback, nil
}

// load loads (once) the configuration of profile name.
func (p *ProfilePerAccount) load(ctx context.Context, name string) (aws.Config, error) {
	p.mu.RLock()
	cfg, ok := p.byName[name]
	p.mu.RUnlock()
	if ok {
		return cfg, nil
	}
	v, err, _ := p.group.Do("profile:"+name, func() (any, error) {
		cfg, err := loadProfile(ctx, name, &p.opts)
		if err != nil {
			return aws.Config{}, err
		}
		p.mu.Lock()
		p.byName[name] = cfg
		p.mu.Unlock()
		return cfg, nil
	})
	if err != nil {
		return aws.Config{}, err
	}
	return v.(aws.Config), nil
}

// LoadProfile loads the AWS SDK's configuration for the profile name, as the
// AWS CLI would: "" means the SDK's default chain (environment credentials,
// AWS_PROFILE, "default", instance metadata). Every profile form the SDK
// resolves works (static keys, role_arn chains, sso_*, credential_process).
//
// It adds what the SDK leaves out:
//   - credentials read from the environment get the expiry in
//     AWS_CREDENTIAL_EXPIRATION (what `rolehop exec` and botocore set);
//     static credentials from a shared credentials file get the expiry in its
//     x_security_token_expires key (what `rolehop login`, aws-vault and
//     saml2aws write), so callers know when they end;
//   - a named profile that does not exist is a *ProfileNotFoundError;
//   - when nothing but instance metadata is left and it answers nothing (off
//     EC2), the error is ErrNoCredentials in one line, not the SDK's IMDS
//     error chain.
func LoadProfile(ctx context.Context, name string, optFns ...func(*ProfileOptions)) (aws.Config, error) {
	var opts ProfileOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return aws.Config{}, err
	}
	return loadProfile(ctx, name, &opts)
}

func loadProfile(ctx context.Context, name string, o *ProfileOptions) (aws.Config, error) {
	lo := append([]func(*config.LoadOptions) error{}, o.LoadOptions...)
	if name != "" {
		lo = append(lo, config.WithSharedConfigProfile(name))
	}
	if o.Region != "" {
		lo = append(lo, config.WithRegion(o.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			cfgFiles, credFiles := sharedFiles(o)
			return aws.Config{}, &ProfileNotFoundError{Tried: []string{missing.Profile}, Files: append(cfgFiles, credFiles...)}
		}
		return aws.Config{}, fmt.Errorf("load AWS profile %q: %w", profileLabel(name, o), err)
	}
	// The SDK falls back to EC2 instance metadata only when nothing else is
	// configured; off EC2 that means "no credentials".
	if aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil)) {
		if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
			o.Logger.Debug("no credentials from ec2 instance metadata", "err", err)
			return aws.Config{}, fmt.Errorf("%w (environment, AWS_PROFILE, ~/.aws/config and credentials, instance metadata): name a profile that has some, set AWS_PROFILE, or log in", ErrNoCredentials)
		}
	}
	if cfg.Credentials != nil {
		cfg.Credentials = &expiryProvider{inner: cfg.Credentials, o: o, profile: profileLabel(name, o)}
	}
	return cfg, nil
}

func profileLabel(name string, o *ProfileOptions) string {
	if name != "" {
		return name
	}
	if p := o.getenv("AWS_PROFILE"); p != "" {
		return p
	}
	return "default"
}

// sharedSourcePrefix starts the Source of static credentials the SDK read
// from a shared file; the file's path follows.
const sharedSourcePrefix = "SharedConfigCredentials: "

// expiryProvider adds the expiry the SDK does not read (see LoadProfile).
type expiryProvider struct {
	inner   aws.CredentialsProvider
	o       *ProfileOptions
	profile string
}

func (p *expiryProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.inner.Retrieve(ctx)
	if err != nil || c.CanExpire {
		return c, err
	}
	var exp string
	switch {
	case c.Source == config.CredentialsSourceName:
		exp = p.o.getenv("AWS_CREDENTIAL_EXPIRATION")
	case strings.HasPrefix(c.Source, sharedSourcePrefix):
		exp = sharedExpiry(strings.TrimPrefix(c.Source, sharedSourcePrefix), p.profile, p.o)
	}
	if exp == "" {
		return c, nil
	}
	t, perr := time.Parse(time.RFC3339, strings.TrimSpace(exp))
	if perr != nil {
		p.o.Logger.Debug("ignoring a credential expiry that is not RFC 3339", "profile", p.profile)
		return c, nil
	}
	c.CanExpire, c.Expires = true, t
	return c, nil
}

// sharedExpiry reads x_security_token_expires of profile from the shared
// file the SDK read the static keys from ("" when absent).
func sharedExpiry(file, profile string, o *ProfileOptions) string {
	kind := awsfile.Config
	_, credFiles := sharedFiles(o)
	if slices.Contains(credFiles, file) {
		kind = awsfile.Credentials
	}
	vals, err := awsfile.ReadProfile(file, kind, profile)
	if err != nil {
		return ""
	}
	return vals[awsfile.KeyExpiration]
}

// profileExists reports whether name is a profile of the shared files.
func profileExists(ctx context.Context, name string, cfgFiles, credFiles []string) (bool, error) {
	_, err := config.LoadSharedConfigProfile(ctx, name, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles, o.CredentialsFiles = cfgFiles, credFiles
	})
	var notExist config.SharedConfigProfileNotExistError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &notExist):
		return false, nil
	default:
		return false, fmt.Errorf("read AWS profile %q: %w", name, err)
	}
}

// sharedFiles returns the shared config and credentials files the SDK will
// read: from the load options, else AWS_CONFIG_FILE /
// AWS_SHARED_CREDENTIALS_FILE, else the defaults under ~/.aws.
func sharedFiles(o *ProfileOptions) (cfgFiles, credFiles []string) {
	var lo config.LoadOptions
	for _, fn := range o.LoadOptions {
		_ = fn(&lo)
	}
	cfgFiles, credFiles = lo.SharedConfigFiles, lo.SharedCredentialsFiles
	if cfgFiles == nil {
		if v := o.getenv("AWS_CONFIG_FILE"); v != "" {
			cfgFiles = []string{v}
		} else {
			cfgFiles = []string{config.DefaultSharedConfigFilename()}
		}
	}
	if credFiles == nil {
		if v := o.getenv("AWS_SHARED_CREDENTIALS_FILE"); v != "" {
			credFiles = []string{v}
		} else {
			credFiles = []string{config.DefaultSharedCredentialsFilename()}
		}
	}
	return cfgFiles, credFiles
}
