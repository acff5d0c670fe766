package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"golang.org/x/sync/singleflight"
)

// Profile gives each account the shared config/credentials profile named
// after its account ID; when there is none, the profile named by AWS_PROFILE,
// else "default". The configuration is loaded by config.LoadDefaultConfig,
// so AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, AWS_REGION,
// AWS_ENDPOINT_URL(_STS) and every profile form the SDK knows (static keys,
// role_arn+source_profile, credential_process, sso_*) work unchanged.
// Loaded configurations are kept per profile for the provider's lifetime.
type Profile struct {
	logger   *slog.Logger
	loadOpts []func(*config.LoadOptions) error
	cache    *credCache

	group     singleflight.Group
	mu        sync.RWMutex
	byAccount map[string]aws.Config
	byName    map[string]aws.Config
}

var _ Provider = (*Profile)(nil)

// ProfileOption configures a Profile.
type ProfileOption func(*Profile)

// WithProfileLogger sets the logger (nil discards).
func WithProfileLogger(l *slog.Logger) ProfileOption { return func(p *Profile) { p.logger = l } }

// WithLoadOptions adds config.LoadDefaultConfig options (shared files,
// region, HTTP client, ...). config.WithSharedConfigProfile is set by Profile.
func WithLoadOptions(fns ...func(*config.LoadOptions) error) ProfileOption {
	return func(p *Profile) { p.loadOpts = append(p.loadOpts, fns...) }
}

// WithProfileClock sets the clock of the credentials cache.
func WithProfileClock(now func() time.Time) ProfileOption {
	return func(p *Profile) { p.cache = newCredCache(DefaultRefreshShare, now) }
}

// NewProfile returns a Profile provider.
func NewProfile(opts ...ProfileOption) *Profile {
	p := &Profile{byAccount: map[string]aws.Config{}, byName: map[string]aws.Config{}}
	for _, fn := range opts {
		fn(p)
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.cache == nil {
		p.cache = newCredCache(DefaultRefreshShare, nil)
	}
	return p
}

// Config returns the configuration of accountID's profile.
func (p *Profile) Config(ctx context.Context, accountID string) (aws.Config, error) {
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
func (p *Profile) Credentials(ctx context.Context, accountID string) (aws.Credentials, error) {
	if creds, ok := p.cache.lookup(accountID); ok {
		return creds, nil
	}
	return p.cache.get(ctx, accountID, func(ctx context.Context) (aws.Credentials, error) {
		cfg, err := p.Config(ctx, accountID)
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
func (p *Profile) resolve(ctx context.Context, accountID string) (string, error) {
	cfgFiles, credFiles := p.sharedFiles()
	exists := func(name string) (bool, error) {
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
	ok, err := exists(accountID)
	if err != nil {
		return "", err
	}
	if ok {
		p.logger.Info("using AWS profile named after the account", "account", accountID, "profile", accountID)
		return accountID, nil
	}
	fallback, why := os.Getenv("AWS_PROFILE"), "AWS_PROFILE"
	if fallback == "" {
		fallback, why = "default", "default"
	}
	ok, err = exists(fallback)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &ProfileNotFoundError{AccountID: accountID, Tried: []string{accountID, fallback}, Files: append(cfgFiles, credFiles...)}
	}
	p.logger.Info("no AWS profile named after the account: using fallback", "account", accountID, "profile", fallback, "from", why)
	return fallback, nil
}

// load loads (once) the configuration of profile name.
func (p *Profile) load(ctx context.Context, name string) (aws.Config, error) {
	p.mu.RLock()
	cfg, ok := p.byName[name]
	p.mu.RUnlock()
	if ok {
		return cfg, nil
	}
	v, err, _ := p.group.Do("profile:"+name, func() (any, error) {
		opts := append(append([]func(*config.LoadOptions) error{}, p.loadOpts...), config.WithSharedConfigProfile(name))
		cfg, err := config.LoadDefaultConfig(ctx, opts...)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load AWS profile %q: %w", name, err)
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

// sharedFiles returns the shared config and credentials files the SDK will
// read: from the load options, else AWS_CONFIG_FILE /
// AWS_SHARED_CREDENTIALS_FILE, else the defaults under ~/.aws.
func (p *Profile) sharedFiles() (cfgFiles, credFiles []string) {
	var lo config.LoadOptions
	for _, fn := range p.loadOpts {
		_ = fn(&lo)
	}
	cfgFiles, credFiles = lo.SharedConfigFiles, lo.SharedCredentialsFiles
	if cfgFiles == nil {
		if v := os.Getenv("AWS_CONFIG_FILE"); v != "" {
			cfgFiles = []string{v}
		} else {
			cfgFiles = []string{config.DefaultSharedConfigFilename()}
		}
	}
	if credFiles == nil {
		if v := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); v != "" {
			credFiles = []string{v}
		} else {
			credFiles = []string{config.DefaultSharedCredentialsFilename()}
		}
	}
	return cfgFiles, credFiles
}
