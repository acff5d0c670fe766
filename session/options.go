package session

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/credcache"
)

// Options are the settings every provider and one-shot call shares: how it
// logs, tells time, refreshes and reaches STS. They are not STS request
// parameters (those are AssumeRoleParams and SAMLParams). The zero value
// works.
type Options struct {
	// Region is the region of the configurations a provider returns and of
	// its STS client. "" inherits the parent's or base's region; STS is then
	// called in us-east-1 if none is known.
	Region string
	// Logger receives notices (a clamped duration) and debug lines; nil
	// discards. Secrets are never logged.
	Logger *slog.Logger
	// Now is the clock of refresh decisions and generated session names;
	// nil means time.Now.
	Now func() time.Time
	// Refresh says when cached credentials are replaced; zero fields take
	// DefaultRefresh's.
	Refresh RefreshPolicy
	// STSOptions adjust the STS client (endpoint, retryer, HTTP client, ...).
	STSOptions []func(*sts.Options)
	// DiskCache, when set, keeps role credentials on disk (the AWS CLI's JSON
	// cache layout, files 0600, written atomically under a lock) so that
	// other processes using the same cache folder reuse them. The in-memory
	// cache stays in front of it. See DiskCacheScope.
	DiskCache *credcache.Cache
	// DiskCacheScope names where the parent credentials come from (e.g.
	// "profile:prod" or "login:corp"); it enters the cache key so that two
	// parents never share an entry. "" derives it from the parent
	// credentials' access key ID (stable for long-term keys only). SAML
	// providers need it set to use DiskCache.
	DiskCacheScope string
}

func (o *Options) setDefaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Refresh.Share == 0 {
		o.Refresh.Share = DefaultRefresh.Share
	}
	if o.Refresh.MinRemaining == 0 {
		o.Refresh.MinRemaining = DefaultRefresh.MinRemaining
	}
}

func (o *Options) validate() error {
	return o.Refresh.validate()
}

// MFA is an MFA device and where its codes come from.
type MFA struct {
	// SerialNumber is the device's ARN (arn:aws:iam::ACCOUNT:mfa/NAME) or a
	// hardware token's serial number.
	SerialNumber string
	// TokenCode returns a fresh 6-digit code; it is called for every
	// AssumeRole call (every refresh).
	TokenCode func(ctx context.Context) (string, error)
}

// SessionPolicy limits a session below what its role allows: an inline
// policy (as a Go value or as JSON, not both) and managed policy ARNs.
type SessionPolicy struct {
	// Policy is the inline session policy as a Go value.
	Policy *Policy
	// PolicyJSON is the inline session policy as JSON text.
	PolicyJSON string
	// PolicyARNs are managed policies (at most 10).
	PolicyARNs []string
}

// policyText returns the inline policy as JSON ("" for none).
func (p SessionPolicy) policyText() (string, error) {
	if p.Policy == nil {
		return p.PolicyJSON, nil
	}
	b, err := json.Marshal(p.Policy)
	return string(b), err
}

// AssumeRoleParams are the parameters of an sts:AssumeRole call.
type AssumeRoleParams struct {
	// RoleSessionName ([\w+=,.@-]{2,64}); "" generates
	// "rolehop-<unix-nanos>" for each call.
	RoleSessionName string
	// Duration of the session, 15m to 12h; 0 is STS's default (1h). For a
	// chained role (temporary parent credentials) more than 1h is clamped
	// to 1h with a notice.
	Duration time.Duration
	SessionPolicy
	// Tags are session tags (at most 50; key 1-128, value 0-256 characters).
	Tags map[string]string
	// TransitiveTagKeys marks some of Tags as transitive.
	TransitiveTagKeys []string
	// ExternalID ([\w+=,.@:/-]{2,1224}).
	ExternalID string
	// SourceIdentity ([\w+=,.@-]{2,64}, not "aws:...").
	SourceIdentity string
	// MFA, when the role's trust policy asks for it.
	MFA *MFA
}

// SAMLParams are the parameters of an sts:AssumeRoleWithSAML call that the
// caller chooses (the session name, tags and SourceIdentity come from the
// IdP's assertion).
type SAMLParams struct {
	// Duration of the session, 15m to 12h; 0 is STS's default (1h). The
	// IdP's SessionDuration attribute caps it.
	Duration time.Duration
	SessionPolicy
}

// AssumeRoleOptions configure RoleConfig and NewCrossAccount: the
// AssumeRole parameters and the provider settings.
type AssumeRoleOptions struct {
	AssumeRoleParams
	Options
}

// SAMLOptions configure NewSAML.
type SAMLOptions struct {
	SAMLParams
	Options
	// AssertionCacheTime is how long an assertion is reused (default 5
	// minutes, DefaultAssertionCacheTime); never past its own NotOnOrAfter.
	AssertionCacheTime time.Duration
	// AssertionStore keeps the assertion between runs (rolehop's
	// --cache-saml); nil keeps it in memory only.
	AssertionStore AssertionStore
	// Base is the configuration the STS client and the returned
	// configurations are built from (region, endpoint, HTTP client,
	// retryer); its credentials are ignored, AssumeRoleWithSAML being
	// unsigned. nil means config.LoadDefaultConfig (AWS_REGION,
	// AWS_ENDPOINT_URL_STS apply).
	Base *aws.Config
}

// ProfileOptions configure NewProfilePerAccount and LoadProfile.
type ProfileOptions struct {
	Options
	// LoadOptions are added to config.LoadDefaultConfig (shared files, HTTP
	// client, MFA token provider, ...); the profile itself is set by the
	// provider.
	LoadOptions []func(*config.LoadOptions) error
	// Getenv reads AWS_PROFILE, AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE
	// and AWS_CREDENTIAL_EXPIRATION; nil means os.Getenv.
	Getenv func(string) string
}
