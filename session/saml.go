package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/sync/singleflight"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// SAML turns an IdP login into credentials for any account and role the
// SAML assertion grants: for an account ID it picks the assertion's Role
// value for that account and the provider's role name and calls
// AssumeRoleWithSAML.
//
// The assertion is cached (default 5 minutes, never past its NotOnOrAfter);
// a fresh login happens only when needed and concurrent callers share it.
// Credentials are cached per (account, role) like the other providers'. A
// failed login or STS call is not cached. The assertion never appears in an
// error or a log line.
type SAML struct {
	client    idp.Client
	roleName  string
	params    SAMLParams
	policy    string
	o         *Options
	cacheTime time.Duration
	store     AssertionStore
	baseOpt   *aws.Config
	cache     *memCache
	disk      *diskLayer
	logins    singleflight.Group

	mu         sync.Mutex
	resp       *saml.Response
	fetched    time.Time
	fromStore  bool
	storeTried bool
	picked     map[string]saml.Role // account ID -> role for roleName
	base       aws.Config
	sts        *sts.Client
	haveBase   bool
}

var _ BaseConfigProvider = (*SAML)(nil)

// NewSAML returns a provider logging in with client and assuming roleName
// (optionally "path/Name"; compared case-insensitively, as IAM does) in
// each account. An empty roleName assumes, in each account, the one role
// the assertion grants there (several is an error listing them); Roles and
// CredentialsForRole serve any role either way. Every option is validated
// here.
func NewSAML(client idp.Client, roleName string, optFns ...func(*SAMLOptions)) (*SAML, error) {
	if client == nil {
		return nil, perr("idp client", "must not be nil")
	}
	roleName = strings.TrimPrefix(roleName, "/")
	if roleName != "" {
		if err := validateRoleName(roleName); err != nil {
			return nil, err
		}
	}
	var opts SAMLOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	o := &opts.Options
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	policy, err := opts.SAMLParams.validate()
	if err != nil {
		return nil, err
	}
	if opts.AssertionCacheTime <= 0 {
		opts.AssertionCacheTime = DefaultAssertionCacheTime
	}
	if o.DiskCache != nil && o.DiskCacheScope == "" {
		return nil, perr("DiskCacheScope", "must name the login (e.g. login:corp) for a SAML provider's disk cache")
	}
	s := &SAML{
		client:    client,
		roleName:  roleName,
		params:    opts.SAMLParams,
		policy:    policy,
		o:         o,
		cacheTime: opts.AssertionCacheTime,
		store:     opts.AssertionStore,
		cache:     newMemCache(o),
		disk:      newDiskLayer(o),
		picked:    map[string]saml.Role{},
	}
	if opts.Base != nil {
		c := opts.Base.Copy()
		s.baseOpt = &c
	}
	return s, nil
}

// Roles returns every role the assertion grants (logging in if needed), in
// the assertion's order: what `rolehop roles` lists.
func (s *SAML) Roles(ctx context.Context) ([]saml.Role, error) {
	r, err := s.Assertion(ctx)
	if err != nil {
		return nil, err
	}
	return append([]saml.Role(nil), r.Roles...), nil
}

// RoleFor returns the assertion's role of the provider's role name in
// accountID: exactly one, else a *RoleNotGrantedError.
func (s *SAML) RoleFor(ctx context.Context, accountID string) (saml.Role, error) {
	role, _, err := s.roleFor(ctx, accountID)
	return role, err
}

// roleFor is RoleFor, also returning the assertion it read (nil when the
// role was known already).
func (s *SAML) roleFor(ctx context.Context, accountID string) (saml.Role, *saml.Response, error) {
	if err := ValidateAccountID(accountID); err != nil {
		return saml.Role{}, nil, err
	}
	s.mu.Lock()
	role, ok := s.picked[accountID]
	s.mu.Unlock()
	if ok {
		return role, nil, nil
	}
	r, err := s.Assertion(ctx)
	if err != nil {
		return saml.Role{}, nil, err
	}
	matches := r.RolesFor(accountID, s.roleName)
	if len(matches) != 1 {
		return saml.Role{}, nil, &RoleNotGrantedError{AccountID: accountID, RoleName: s.roleName, Matches: matches, Granted: append([]saml.Role(nil), r.Roles...)}
	}
	s.mu.Lock()
	s.picked[accountID] = matches[0]
	s.mu.Unlock()
	return matches[0], r, nil
}

// Credentials returns the role's credentials in accountID.
func (s *SAML) Credentials(ctx context.Context, accountID string) (aws.Credentials, error) {
	s.mu.Lock()
	role, ok := s.picked[accountID]
	s.mu.Unlock()
	if ok {
		if creds, ok := s.cache.lookup(roleKey(role)); ok {
			return creds, nil
		}
	}
	role, r, err := s.roleFor(ctx, accountID)
	if err != nil {
		return aws.Credentials{}, err
	}
	return s.credentialsForRole(ctx, role, r)
}

func roleKey(r saml.Role) string { return r.RoleARN + "," + r.PrincipalARN }

// CredentialsForRole returns credentials for one role of the assertion (as
// `login --all` walks them). A role the assertion does not grant is a
// *RoleNotGrantedError.
func (s *SAML) CredentialsForRole(ctx context.Context, role saml.Role) (aws.Credentials, error) {
	return s.credentialsForRole(ctx, role, nil)
}

// credentialsForRole uses r, the assertion a caller just read, if it has
// one: a fresh login's assertion serves the call that asked for it even when
// clock skew makes it look old.
func (s *SAML) credentialsForRole(ctx context.Context, role saml.Role, r *saml.Response) (aws.Credentials, error) {
	key := roleKey(role)
	if creds, ok := s.cache.lookup(key); ok {
		return creds, nil
	}
	return s.cache.get(ctx, key, func(ctx context.Context) (aws.Credentials, error) {
		fetch := func(ctx context.Context) (aws.Credentials, error) {
			creds, used, err := s.assume(ctx, role, r)
			if err != nil && used != nil && s.isFromStore(used) && retryable(err) {
				// A saved assertion STS no longer takes: log in afresh, once.
				s.o.Logger.Info("the saved saml assertion was refused; logging in again", "role", role.RoleARN, "error", err)
				s.drop(used)
				creds, _, err = s.assume(ctx, role, nil)
			}
			return creds, err
		}
		if s.disk == nil {
			return fetch(ctx)
		}
		dk, err := samlDiskKey(role.RoleARN, role.PrincipalARN, s.o.DiskCacheScope, s.params, s.policy)
		if err != nil {
			return aws.Credentials{}, err
		}
		return s.disk.cache.Get(ctx, dk, fetch)
	})
}

// retryable: STS refused the assertion itself (expired, not valid).
func retryable(err error) bool {
	var ae *AssumeRoleError
	return errors.As(err, &ae) && (ae.Code == "ExpiredTokenException" || ae.Code == "InvalidIdentityToken")
}

// assume makes one AssumeRoleWithSAML call with r, or with the current
// assertion when r is nil; it returns the assertion it used.
func (s *SAML) assume(ctx context.Context, role saml.Role, r *saml.Response) (aws.Credentials, *saml.Response, error) {
	if r == nil {
		var err error
		if r, err = s.Assertion(ctx); err != nil {
			return aws.Credentials{}, nil, err
		}
	}
	granted := false
	for _, g := range r.Roles {
		if g == role {
			granted = true
			break
		}
	}
	if !granted {
		return aws.Credentials{}, r, &RoleNotGrantedError{AccountID: role.AccountID(), RoleName: role.RoleARN, Granted: append([]saml.Role(nil), r.Roles...)}
	}
	_, client, err := s.baseConfig(ctx)
	if err != nil {
		return aws.Credentials{}, r, err
	}
	creds, err := assumeWithSAML(ctx, client, role, r.Raw, r.SessionDuration, s.params, s.policy, s.o)
	return creds, r, err
}

// BaseConfig returns the configuration the provider's STS client is built
// from (region, endpoint, HTTP client), without credentials.
func (s *SAML) BaseConfig(ctx context.Context, _ string) (aws.Config, error) {
	cfg, _, err := s.baseConfig(ctx)
	return cfg, err
}

// baseConfig loads the base configuration and the anonymous STS client once.
func (s *SAML) baseConfig(ctx context.Context) (aws.Config, *sts.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.haveBase {
		return s.base, s.sts, nil
	}
	var cfg aws.Config
	if s.baseOpt != nil {
		cfg = s.baseOpt.Copy()
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx)
		var missing config.SharedConfigProfileNotExistError
		if errors.As(err, &missing) {
			// AssumeRoleWithSAML needs no AWS credentials: an exported
			// AWS_PROFILE naming a profile that does not exist (yet) must not
			// stop a SAML login. The environment's settings still apply.
			s.o.Logger.Debug("AWS_PROFILE names no profile; the sts client reads the environment only", "profile", missing.Profile)
			cfg, err = envOnlyConfig()
		}
		if err != nil {
			return aws.Config{}, nil, fmt.Errorf("load aws configuration for the sts client: %w", err)
		}
	}
	if s.o.Region != "" {
		cfg.Region = s.o.Region
	}
	cfg.Region = awsarn.GlobalRegion(cfg.Region)
	cfg.Credentials = nil
	s.sts = samlSTSClient(cfg, s.o)
	s.base, s.haveBase = cfg, true
	return s.base, s.sts, nil
}

// envOnlyConfig is the configuration of the environment alone (AWS_REGION,
// AWS_ENDPOINT_URL(_STS), ...), without the shared files: what an unsigned
// call needs when AWS_PROFILE names a profile that does not exist.
func envOnlyConfig() (aws.Config, error) {
	env, err := config.NewEnvConfig()
	if err != nil {
		return aws.Config{}, err
	}
	cfg := aws.Config{Region: env.Region, ConfigSources: []any{env}}
	if env.BaseEndpoint != "" {
		cfg.BaseEndpoint = aws.String(env.BaseEndpoint)
	}
	return cfg, nil
}
