package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"golang.org/x/sync/singleflight"

	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
)

// DefaultAssertionCacheTime is how long a SAML assertion is reused by
// default (never past its own NotOnOrAfter).
const DefaultAssertionCacheTime = 5 * time.Minute

// assertionMargin is how long before its NotOnOrAfter an assertion is no
// longer handed to STS: it must still be valid when STS reads it.
const assertionMargin = 30 * time.Second

// samlCredentialsSource is the aws.Credentials.Source of credentials from
// AssumeRoleWithSAML.
const samlCredentialsSource = "rolehop.SAML"

// Sentinel errors of the SAML provider, for errors.Is.
var (
	// ErrIdPAccessDenied: the IdP rejected the login (wrong password, bad
	// one-time code, locked account). The error also matches
	// idp.ErrAccessDenied.
	ErrIdPAccessDenied = errors.New("identity provider rejected the login")
	// ErrNoAssertion: the IdP answered without a usable SAML assertion
	// (unknown service provider, unexpected page, unreadable response).
	ErrNoAssertion = errors.New("identity provider answered without a usable saml assertion")
	// ErrRoleNotGranted: the assertion does not grant the role asked for.
	ErrRoleNotGranted = errors.New("role not granted by the saml assertion")
)

// RoleNotGrantedError reports that the assertion grants no role (or more
// than one) of the name asked for in the account. Granted lists what the
// assertion does grant, so a user can pick one; it holds no secret.
type RoleNotGrantedError struct {
	AccountID string      // the account asked for
	RoleName  string      // the role name (or ARN) asked for
	Matches   []saml.Role // more than one match: the ambiguous roles
	Granted   []saml.Role // every role the assertion grants
}

func (e *RoleNotGrantedError) Error() string {
	if e.RoleName == "" {
		if len(e.Matches) > 1 {
			return fmt.Sprintf("account %s has %d roles in the saml assertion (%s): name the role",
				e.AccountID, len(e.Matches), rolesList(e.Matches))
		}
		if len(e.Granted) == 0 {
			return fmt.Sprintf("account %s is not granted: the saml assertion grants no AWS roles; ask the IdP administrator for access", e.AccountID)
		}
		return fmt.Sprintf("account %s is not granted by the saml assertion; it grants %s: pick one of those or ask the IdP administrator for access",
			e.AccountID, rolesList(e.Granted))
	}
	if len(e.Matches) > 1 {
		return fmt.Sprintf("role %q in account %s is ambiguous: the saml assertion grants %s; pick one by its ARN",
			e.RoleName, e.AccountID, rolesList(e.Matches))
	}
	if len(e.Granted) == 0 {
		return fmt.Sprintf("role %q in account %s is not granted: the saml assertion grants no AWS roles; ask the IdP administrator for access",
			e.RoleName, e.AccountID)
	}
	return fmt.Sprintf("role %q in account %s is not granted by the saml assertion; it grants %s: pick one of those or ask the IdP administrator for access",
		e.RoleName, e.AccountID, rolesList(e.Granted))
}

// Is reports whether target is ErrRoleNotGranted.
func (e *RoleNotGrantedError) Is(target error) bool { return target == ErrRoleNotGranted }

// rolesList is "ACCOUNT/NAME, ..." sorted by account then name.
func rolesList(roles []saml.Role) string {
	names := make([]string, 0, len(roles))
	seen := map[string]bool{}
	for _, r := range roles {
		n := r.AccountID() + "/" + r.Name()
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// SAMLOption configures a SAML provider. Besides the options below, these
// Options apply: WithDuration, WithRegion, WithLogger, WithClock,
// WithRefreshShare, WithSTSOptions, WithPolicy and WithPolicyARNs. The others
// (session name, tags, ExternalId, MFA, SourceIdentity) are set by the IdP's
// assertion or not supported by AssumeRoleWithSAML; NewSAML refuses them.
type SAMLOption interface{ applySAML(*samlOptions) }

func (fn Option) applySAML(o *samlOptions) { fn(&o.options) }

type samlOptionFunc func(*samlOptions)

func (fn samlOptionFunc) applySAML(o *samlOptions) { fn(o) }

type samlOptions struct {
	options
	cacheTime time.Duration
	load      func() (string, bool)
	save      func(string)
	base      *aws.Config
}

// WithAssertionCacheTime sets how long an assertion is reused (default 5
// minutes); it is never used past its own NotOnOrAfter. Zero or less keeps
// the default.
func WithAssertionCacheTime(d time.Duration) SAMLOption {
	return samlOptionFunc(func(o *samlOptions) { o.cacheTime = d })
}

// WithAssertionStore adds an on-disk (or other) assertion cache, for
// `--cache-saml`: load is asked once, before the first login, for a saved
// base64 assertion (used while it lives, else ignored); save receives every
// freshly obtained one. The assertion is a bearer secret: keep it in a 0600
// file.
func WithAssertionStore(load func() (string, bool), save func(string)) SAMLOption {
	return samlOptionFunc(func(o *samlOptions) { o.load, o.save = load, save })
}

// WithBaseConfig sets the configuration the STS client and the returned
// configurations are built from (region, endpoint, HTTP client, retryer);
// its credentials are ignored, AssumeRoleWithSAML being unsigned. By default
// config.LoadDefaultConfig is used, so AWS_REGION and AWS_ENDPOINT_URL_STS
// apply.
func WithBaseConfig(cfg aws.Config) SAMLOption {
	return samlOptionFunc(func(o *samlOptions) { c := cfg.Copy(); o.base = &c })
}

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
	client   idp.Client
	roleName string
	o        *samlOptions
	cache    *credCache
	logins   singleflight.Group

	mu         sync.Mutex
	resp       *saml.Response
	fetched    time.Time
	fromStore  bool
	storeTried bool
	picked     map[string]saml.Role // account ID -> role for roleName
	base       aws.Config
	client2    *sts.Client
	haveBase   bool

	providers sync.Map // account ID -> *samlAccountCredentials
}

var _ Provider = (*SAML)(nil)

// NewSAML returns a provider logging in with client and assuming roleName
// (optionally "path/Name"; compared case-insensitively, as IAM does) in
// each account. An empty roleName assumes, in each account, the one role
// the assertion grants there (several is an error listing them); Roles and
// CredentialsForRole serve any role either way. Every option is validated
// here.
func NewSAML(client idp.Client, roleName string, opts ...SAMLOption) (*SAML, error) {
	if client == nil {
		return nil, perr("idp client", "must not be nil")
	}
	roleName = strings.TrimPrefix(roleName, "/")
	if roleName != "" {
		if err := validateRoleName(roleName); err != nil {
			return nil, err
		}
	}
	o := &samlOptions{options: options{refreshShare: DefaultRefreshShare}}
	for _, fn := range opts {
		if fn != nil {
			fn.applySAML(o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.cacheTime <= 0 {
		o.cacheTime = DefaultAssertionCacheTime
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	switch {
	case o.sessionName != "":
		return nil, perr("RoleSessionName", "is set by the IdP's RoleSessionName attribute for AssumeRoleWithSAML; remove WithRoleSessionName")
	case len(o.tags) > 0 || len(o.transitiveTagKeys) > 0:
		return nil, perr("Tags", "come from the IdP's PrincipalTag attributes for AssumeRoleWithSAML; remove WithTags")
	case o.externalID != "":
		return nil, perr("ExternalId", "is not a parameter of AssumeRoleWithSAML; remove WithExternalID")
	case o.mfaSerial != "" || o.tokenCode != nil:
		return nil, perr("SerialNumber", "MFA is the IdP's job for AssumeRoleWithSAML; remove WithMFA")
	case o.sourceIdentity != "":
		return nil, perr("SourceIdentity", "is set by the IdP's SourceIdentity attribute for AssumeRoleWithSAML; remove WithSourceIdentity")
	}
	return &SAML{
		client:   client,
		roleName: roleName,
		o:        o,
		cache:    newCredCache(o.refreshShare, o.now),
		picked:   map[string]saml.Role{},
	}, nil
}

// Assertion returns the current assertion, logging in when there is none
// that is fresh enough. Concurrent callers share one login.
func (s *SAML) Assertion(ctx context.Context) (*saml.Response, error) {
	if r := s.cached(); r != nil {
		return r, nil
	}
	ch := s.logins.DoChan("login", func() (any, error) {
		if r := s.cached(); r != nil { // a login that just ended
			return r, nil
		}
		return s.login(context.WithoutCancel(ctx))
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*saml.Response), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// usable reports whether an assertion fetched at fetched may still be used.
func (s *SAML) usable(r *saml.Response, fetched, now time.Time) bool {
	if r == nil || !now.Before(fetched.Add(s.o.cacheTime)) {
		return false
	}
	return r.NotOnOrAfter.IsZero() || now.Before(r.NotOnOrAfter.Add(-assertionMargin))
}

func (s *SAML) cached() *saml.Response {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.usable(s.resp, s.fetched, s.o.now()) {
		return s.resp
	}
	return nil
}

// login gets a new assertion: from the store once, else from the IdP.
func (s *SAML) login(ctx context.Context) (*saml.Response, error) {
	s.mu.Lock()
	tryStore := !s.storeTried && s.o.load != nil
	s.storeTried = true
	s.mu.Unlock()
	if tryStore {
		if raw, ok := s.o.load(); ok {
			now := s.o.now()
			r, err := saml.Parse(raw)
			switch {
			case err != nil:
				s.o.logger.Info("ignoring the saved saml assertion: it cannot be read", "error", err)
			case !s.usable(r, now, now):
				s.o.logger.Info("ignoring the saved saml assertion: it has expired", "not_on_or_after", r.NotOnOrAfter)
			default:
				s.o.logger.Debug("using the saved saml assertion", "issuer", r.Issuer, "roles", len(r.Roles), "not_on_or_after", r.NotOnOrAfter)
				s.set(r, now, true)
				return r, nil
			}
		}
	}
	s.o.logger.Debug("logging in to the identity provider")
	raw, err := s.client.Assertion(ctx)
	if err != nil {
		switch {
		case errors.Is(err, idp.ErrAccessDenied):
			return nil, &idpError{kind: ErrIdPAccessDenied, err: err}
		case errors.Is(err, idp.ErrNoAssertion):
			return nil, &idpError{kind: ErrNoAssertion, err: err}
		}
		return nil, fmt.Errorf("saml login: %w", err)
	}
	now := s.o.now()
	r, err := saml.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoAssertion, err)
	}
	s.o.logger.Info("saml login succeeded", "issuer", r.Issuer, "subject", r.NameID, "roles", len(r.Roles), "not_on_or_after", r.NotOnOrAfter)
	if !s.usable(r, now, now) {
		s.o.logger.Warn("the new saml assertion already looks expired: check this machine's clock against the IdP's",
			"not_on_or_after", r.NotOnOrAfter, "now", now)
	}
	s.set(r, now, false)
	if s.o.save != nil {
		s.o.save(r.Raw)
	}
	return r, nil
}

func (s *SAML) set(r *saml.Response, fetched time.Time, fromStore bool) {
	s.mu.Lock()
	s.resp, s.fetched, s.fromStore = r, fetched, fromStore
	s.mu.Unlock()
}

// drop forgets r (if it is still the current assertion), so the next need
// logs in again.
func (s *SAML) drop(r *saml.Response) {
	s.mu.Lock()
	if s.resp == r {
		s.resp = nil
	}
	s.mu.Unlock()
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
		creds, r, err := s.assume(ctx, role, r)
		if err != nil && r != nil && s.isFromStore(r) && retryable(err) {
			// A saved assertion STS no longer takes: log in afresh, once.
			s.o.logger.Info("the saved saml assertion was refused; logging in again", "role", role.RoleARN, "error", err)
			s.drop(r)
			creds, _, err = s.assume(ctx, role, nil)
		}
		return creds, err
	})
}

func (s *SAML) isFromStore(r *saml.Response) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resp == r && s.fromStore
}

// retryable: STS refused the assertion itself (expired, not valid).
func retryable(err error) bool {
	var ae *AssumeRoleError
	return errors.As(err, &ae) && (ae.Code == "ExpiredTokenException" || ae.Code == "InvalidIdentityToken")
}

// assume makes one AssumeRoleWithSAML call with r, or with the current
// assertion when r is nil.
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
	in := &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String(role.RoleARN),
		PrincipalArn:  aws.String(role.PrincipalARN),
		SAMLAssertion: aws.String(r.Raw),
	}
	if d := s.o.duration; d != 0 {
		if r.SessionDuration > 0 && d > r.SessionDuration {
			s.o.logger.Info("the IdP's SessionDuration limits the session: using it instead of the requested duration",
				"role", role.RoleARN, "requested", d.String(), "used", r.SessionDuration.String())
			d = r.SessionDuration
		}
		if d < MinDuration {
			d = MinDuration
		}
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	if s.o.policy != "" {
		in.Policy = aws.String(s.o.policy)
	}
	for _, a := range s.o.policyARNs {
		in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	out, err := client.AssumeRoleWithSAML(ctx, in)
	if err != nil {
		return aws.Credentials{}, r, newAssumeRoleError(role.RoleARN, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.Expiration == nil {
		return aws.Credentials{}, r, &AssumeRoleError{RoleARN: role.RoleARN, Err: errors.New("STS answered without credentials")}
	}
	s.o.logger.Debug("assumed role with saml", "role", role.RoleARN, "expires", *c.Expiration)
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          samlCredentialsSource,
		CanExpire:       true,
		Expires:         *c.Expiration,
		AccountID:       role.AccountID(),
	}, r, nil
}

// baseConfig loads the base configuration and the anonymous STS client once.
func (s *SAML) baseConfig(ctx context.Context) (aws.Config, *sts.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.haveBase {
		return s.base, s.client2, nil
	}
	var cfg aws.Config
	if s.o.base != nil {
		cfg = s.o.base.Copy()
	} else {
		var err error
		cfg, err = config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, nil, fmt.Errorf("load aws configuration for the sts client: %w", err)
		}
	}
	if s.o.region != "" {
		cfg.Region = s.o.region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	cfg.Credentials = nil
	stsOpts := append(append([]func(*sts.Options){}, s.o.stsOpts...), func(o *sts.Options) {
		o.Credentials = aws.AnonymousCredentials{}
	})
	s.base, s.client2, s.haveBase = cfg, sts.NewFromConfig(cfg, stsOpts...), true
	return s.base, s.client2, nil
}

// Config returns a configuration for accountID whose credentials are the
// role's, refreshed as they age (a new login when the assertion is too old).
// The credentials are fetched now, so an error shows here.
func (s *SAML) Config(ctx context.Context, accountID string) (aws.Config, error) {
	if _, err := s.Credentials(ctx, accountID); err != nil {
		return aws.Config{}, err
	}
	base, _, err := s.baseConfig(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	cfg := base.Copy()
	p, ok := s.providers.Load(accountID)
	if !ok {
		p, _ = s.providers.LoadOrStore(accountID, &samlAccountCredentials{s: s, account: accountID})
	}
	cfg.Credentials = p.(*samlAccountCredentials)
	return cfg, nil
}

// samlAccountCredentials is the credentials provider of a Config for one
// account. Roles assumed with it are chained roles.
type samlAccountCredentials struct {
	s       *SAML
	account string
}

func (a *samlAccountCredentials) assumedRole() {}

func (a *samlAccountCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return a.s.Credentials(ctx, a.account)
}

// idpError classifies an IdP client's error as one of this package's
// sentinels without repeating what the IdP client already said: its message
// is the client's, and errors.Is matches both the sentinel and the client's
// own error.
type idpError struct {
	kind error
	err  error
}

func (e *idpError) Error() string        { return e.err.Error() }
func (e *idpError) Unwrap() error        { return e.err }
func (e *idpError) Is(target error) bool { return target == e.kind }
