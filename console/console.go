// Package console builds AWS console sign-in URLs through the federation
// endpoint, as documented in "Enable custom identity broker access to the
// AWS console": getSigninToken with the Session JSON (sessionId,
// sessionKey, sessionToken), then a login URL with Issuer, Destination and
// the SigninToken.
//
// # Session duration
//
// The federation endpoint's SessionDuration (how long the console session
// lasts) has rules that depend on how the credentials were obtained, which
// the credentials themselves do not say, so Options.Kind says it:
//
//   - KindRole: a role session from AssumeRole / AssumeRoleWithSAML /
//     AssumeRoleWithWebIdentity called with long-term credentials or an IdP
//     assertion. SessionDuration is sent when set and must be 15m..12h
//     (an error otherwise).
//   - KindChained: a role session obtained with other temporary
//     credentials (role chaining). AWS answers 400 to a SessionDuration over
//     one hour, so a longer one is clamped to 1h with a notice in the log.
//   - KindFederationToken: credentials from sts:GetFederationToken. AWS
//     refuses SessionDuration for them (the console session lasts as long as
//     the token), so it is never sent; a requested one is dropped with a
//     notice.
//   - KindIAMUser: long-term IAM user keys (no session token). The
//     federation endpoint does not take them, so SigninURL first calls
//     sts:GetFederationToken (Name: Options.FederationName, or the IAM user
//     name from GetCallerIdentity, cut to 32 characters; Policy: allow
//     everything, so the session has exactly the user's permissions;
//     DurationSeconds: SessionDuration when set) and then proceeds as
//     KindFederationToken.
//   - KindAuto (the zero value): KindIAMUser when there is no session
//     token, otherwise a role session of unknown depth, treated like
//     KindChained (at most 1h) so that AWS never answers 400; set KindRole to
//     allow up to 12 hours.
//
// When SessionDuration is 0 it is not sent and AWS applies its default.
//
// The sign-in URL holds a bearer token valid for 15 minutes: give it only
// to the user's browser. No secret (secret key, session token, sign-in
// token) ever appears in an error or a log line.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Kind is how the credentials were obtained; see the package doc.
type Kind int

const (
	KindAuto Kind = iota
	KindRole
	KindChained
	KindFederationToken
	KindIAMUser
)

func (k Kind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case KindRole:
		return "role"
	case KindChained:
		return "chained"
	case KindFederationToken:
		return "federation-token"
	case KindIAMUser:
		return "iam-user"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Session duration limits of the federation endpoint and GetFederationToken.
const (
	MinSessionDuration        = 15 * time.Minute
	MaxSessionDuration        = 12 * time.Hour
	MaxChainedSessionDuration = time.Hour
)

// AllowAllPolicy is the GetFederationToken session policy used for IAM
// user keys: the session gets exactly the user's own permissions (the
// intersection with the user's policies).
const AllowAllPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`

var (
	// ErrUnknownService: Destination is neither a known service shortcut
	// nor a console URL.
	ErrUnknownService = errors.New("console: unknown service shortcut")
	// ErrBadDestination: Destination is a URL but not an https URL on the
	// partition's console host.
	ErrBadDestination = errors.New("console: destination is not a console URL")
	// ErrUnknownPartition: Partition is not aws, aws-cn or aws-us-gov.
	ErrUnknownPartition = errors.New("console: unknown partition")
	// ErrSessionDuration: SessionDuration outside 15m..12h.
	ErrSessionDuration = errors.New("console: session duration out of range")
	// ErrNoCredentials: the credentials lack an access key or secret.
	ErrNoCredentials = errors.New("console: incomplete credentials")
	// ErrFederation: the federation endpoint refused or failed; see
	// *FederationError.
	ErrFederation = errors.New("console: federation endpoint error")
	// ErrFederationToken: sts:GetFederationToken failed.
	ErrFederationToken = errors.New("console: GetFederationToken failed")
)

// FederationError is a non-200 answer from the federation endpoint.
type FederationError struct {
	StatusCode int
	Body       string // first bytes of the answer, secrets removed
}

func (e *FederationError) Error() string {
	return fmt.Sprintf("console: federation endpoint answered %d: %s", e.StatusCode, e.Body)
}

// Is makes errors.Is(err, ErrFederation) true.
func (e *FederationError) Is(target error) bool { return target == ErrFederation }

// STSClient is the part of *sts.Client used for IAM user keys.
type STSClient interface {
	GetFederationToken(ctx context.Context, in *sts.GetFederationTokenInput, opts ...func(*sts.Options)) (*sts.GetFederationTokenOutput, error)
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// Options configure SigninURL. The zero value signs in to the console home
// of the aws partition.
type Options struct {
	// Destination: a service shortcut (see Services) or an https URL on the
	// partition's console host. "" means the console home.
	Destination string
	// Region for shortcut destinations; "" means the partition's default
	// (us-east-1, cn-north-1, us-gov-west-1). Also picks the partition when
	// Partition is "".
	Region string
	// Issuer is sent as the login URL's Issuer (where the console sends
	// the user when the session ends); omitted when "".
	Issuer string
	// SessionDuration of the console session; 0 = not sent (AWS default).
	SessionDuration time.Duration
	// Kind says how the credentials were obtained; see the package doc.
	Kind Kind
	// Partition: "aws", "aws-cn" or "aws-us-gov"; "" = from Region.
	Partition string
	// FederationURL overrides the partition's federation endpoint (tests,
	// proxies).
	FederationURL string
	// HTTPClient for the federation endpoint; nil = http.DefaultClient.
	HTTPClient *http.Client
	// Logger receives notices (clamped durations); nil discards them.
	Logger *slog.Logger
	// STS is used for KindIAMUser (GetFederationToken). nil = a client made
	// from STSConfig (else the Region and HTTPClient) with the given keys.
	STS STSClient
	// STSConfig is the configuration the GetFederationToken client is built
	// from when STS is nil (its endpoint, such as AWS_ENDPOINT_URL_STS, its
	// HTTP client and retryer); its credentials are replaced by the IAM
	// user's keys.
	STSConfig *aws.Config
	// FederationName is GetFederationToken's Name; "" = the IAM user's
	// name from GetCallerIdentity. Cut to 32 characters.
	FederationName string
}
