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
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials"
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
	// from the given credentials, Region and HTTPClient.
	STS STSClient
	// FederationName is GetFederationToken's Name; "" = the IAM user's
	// name from GetCallerIdentity. Cut to 32 characters.
	FederationName string
}

// Partition endpoints.
type partition struct {
	federation    string
	consoleHost   string
	defaultRegion string
}

var partitions = map[string]partition{
	"aws":        {"https://signin.aws.amazon.com/federation", "console.aws.amazon.com", "us-east-1"},
	"aws-cn":     {"https://signin.amazonaws.cn/federation", "console.amazonaws.cn", "cn-north-1"},
	"aws-us-gov": {"https://signin.amazonaws-us-gov.com/federation", "console.amazonaws-us-gov.com", "us-gov-west-1"},
}

// FederationEndpoint returns the federation endpoint of a partition.
func FederationEndpoint(partitionID string) (string, error) {
	p, ok := partitions[partitionID]
	if !ok {
		return "", fmt.Errorf("%w %q; use aws, aws-cn or aws-us-gov", ErrUnknownPartition, partitionID)
	}
	return p.federation, nil
}

func partitionFor(id, region string) (string, partition, error) {
	if id == "" {
		switch {
		case strings.HasPrefix(region, "cn-"):
			id = "aws-cn"
		case strings.HasPrefix(region, "us-gov-"):
			id = "aws-us-gov"
		default:
			id = "aws"
		}
	}
	p, ok := partitions[id]
	if !ok {
		return "", partition{}, fmt.Errorf("%w %q; use aws, aws-cn or aws-us-gov", ErrUnknownPartition, id)
	}
	return id, p, nil
}

// service is a console path; regional ones get ?region=.
type service struct {
	path     string
	regional bool
	fragment string
}

var services = map[string]service{
	"home":           {"console/home", true, ""},
	"console":        {"console/home", true, ""},
	"s3":             {"s3/home", true, ""},
	"ec2":            {"ec2/home", true, ""},
	"iam":            {"iam/home", false, "/home"},
	"lambda":         {"lambda/home", true, "/functions"},
	"cloudwatch":     {"cloudwatch/home", true, ""},
	"logs":           {"cloudwatch/home", true, "logsV2:log-groups"},
	"cloudformation": {"cloudformation/home", true, ""},
	"cloudtrail":     {"cloudtrail/home", true, ""},
	"dynamodb":       {"dynamodbv2/home", true, ""},
	"rds":            {"rds/home", true, ""},
	"vpc":            {"vpc/home", true, ""},
	"ecs":            {"ecs/v2/home", true, ""},
	"eks":            {"eks/home", true, ""},
	"ecr":            {"ecr/home", true, ""},
	"sqs":            {"sqs/v3/home", true, ""},
	"sns":            {"sns/v3/home", true, ""},
	"kms":            {"kms/home", true, ""},
	"secretsmanager": {"secretsmanager/home", true, ""},
	"ssm":            {"systems-manager/home", true, ""},
	"route53":        {"route53/v2/home", false, ""},
	"cloudfront":     {"cloudfront/v4/home", false, ""},
	"billing":        {"billing/home", false, ""},
	"organizations":  {"organizations/v2/home", false, ""},
	"apigateway":     {"apigateway/main/apis", true, ""},
	"stepfunctions":  {"states/home", true, ""},
	"athena":         {"athena/home", true, ""},
	"glue":           {"glue/home", true, ""},
	"elasticache":    {"elasticache/home", true, ""},
	"kinesis":        {"kinesis/home", true, ""},
	"events":         {"events/home", true, ""},
	"acm":            {"acm/home", true, ""},
	"config":         {"config/home", true, ""},
	"guardduty":      {"guardduty/home", true, ""},
	"securityhub":    {"securityhub/home", true, ""},
	"codebuild":      {"codesuite/codebuild/home", true, ""},
	"codepipeline":   {"codesuite/codepipeline/home", true, ""},
	"backup":         {"backup/home", true, ""},
	"redshift":       {"redshiftv2/home", true, ""},
}

// Services returns the known destination shortcuts, sorted.
func Services() []string {
	out := make([]string, 0, len(services))
	for k := range services {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DestinationURL resolves a destination (shortcut or URL) for a partition
// and region ("" = defaults) without signing in.
func DestinationURL(dest, partitionID, region string) (string, error) {
	_, p, err := partitionFor(partitionID, region)
	if err != nil {
		return "", err
	}
	if region == "" {
		region = p.defaultRegion
	}
	return destinationURL(dest, p, region)
}

func destinationURL(dest string, p partition, region string) (string, error) {
	if dest == "" {
		dest = "home"
	}
	if strings.Contains(dest, "://") {
		u, err := url.Parse(dest)
		if err != nil || u.Scheme != "https" || u.User != nil ||
			(u.Host != p.consoleHost && !strings.HasSuffix(u.Host, "."+p.consoleHost)) {
			return "", fmt.Errorf("%w: %q; use an https://%s/... URL or a service shortcut", ErrBadDestination, dest, p.consoleHost)
		}
		return u.String(), nil
	}
	s, ok := services[strings.ToLower(dest)]
	if !ok {
		return "", fmt.Errorf("%w %q; use one of %s or an https console URL", ErrUnknownService, dest, strings.Join(Services(), ", "))
	}
	u := url.URL{Scheme: "https", Host: p.consoleHost, Path: "/" + s.path, Fragment: s.fragment}
	if s.regional {
		u.RawQuery = "region=" + url.QueryEscape(region)
	}
	return u.String(), nil
}

// SigninURL returns a console sign-in URL for creds. See the package doc
// for how Options.Kind and SessionDuration interact.
func SigninURL(ctx context.Context, creds aws.Credentials, opts Options) (string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return "", fmt.Errorf("%w: access key ID or secret access key is empty; check the profile's credentials", ErrNoCredentials)
	}
	partID, part, err := partitionFor(opts.Partition, opts.Region)
	if err != nil {
		return "", err
	}
	region := opts.Region
	if region == "" {
		region = part.defaultRegion
	}
	dest, err := destinationURL(opts.Destination, part, region)
	if err != nil {
		return "", err
	}
	if d := opts.SessionDuration; d != 0 && (d < MinSessionDuration || d > MaxSessionDuration) {
		return "", fmt.Errorf("%w: %v; use 15m to 12h", ErrSessionDuration, d)
	}
	fed := opts.FederationURL
	if fed == "" {
		fed = part.federation
	}
	fedURL, err := url.Parse(fed)
	if err != nil || (fedURL.Scheme != "https" && fedURL.Scheme != "http") || fedURL.Host == "" {
		return "", fmt.Errorf("console: federation URL %q is not an http(s) URL; fix Options.FederationURL", fed)
	}

	kind := opts.Kind
	if kind == KindAuto {
		if creds.SessionToken == "" {
			kind = KindIAMUser
		} else {
			kind = KindChained
		}
	}
	if kind != KindIAMUser && creds.SessionToken == "" {
		return "", fmt.Errorf("%w: no session token for a %s session; long-term IAM user keys need Kind KindIAMUser (or KindAuto)", ErrNoCredentials, kind)
	}
	if kind == KindIAMUser {
		creds, err = federationToken(ctx, creds, opts, partID, region, log)
		if err != nil {
			return "", err
		}
		kind = KindFederationToken
	}

	duration := opts.SessionDuration
	switch kind {
	case KindFederationToken:
		if duration != 0 && opts.Kind != KindAuto && opts.Kind != KindIAMUser {
			log.Info("console: session duration not sent: a GetFederationToken session lasts as long as its token", "requested", duration.String())
		}
		duration = 0
	case KindChained:
		if duration > MaxChainedSessionDuration {
			why := "chained role session"
			if opts.Kind == KindAuto {
				why = "role session of unknown chaining (a first-hop role session, Kind KindRole or `rolehop console --session-kind role`, allows up to 12h)"
			}
			log.Info("console: session duration clamped to 1h for a "+why, "requested", duration.String())
			duration = MaxChainedSessionDuration
		}
	case KindRole:
	default:
		return "", fmt.Errorf("console: unknown credential kind %v; use one of the Kind constants", kind)
	}

	sessJSON, err := json.Marshal(map[string]string{
		"sessionId":    creds.AccessKeyID,
		"sessionKey":   creds.SecretAccessKey,
		"sessionToken": creds.SessionToken,
	})
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("Action", "getSigninToken")
	if duration != 0 {
		q.Set("SessionDuration", strconv.Itoa(int(duration/time.Second)))
	}
	q.Set("Session", string(sessJSON))
	tokURL := *fedURL
	tokURL.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokURL.String(), nil)
	if err != nil {
		return "", fmt.Errorf("console: building the getSigninToken request: %w", redactURLError(err))
	}
	client := opts.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: cannot reach %s: %w", ErrFederation, fedURL.Redacted(), redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: reading the answer of %s: %w", ErrFederation, fedURL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &FederationError{StatusCode: resp.StatusCode, Body: redactBody(body, creds)}
	}
	var tok struct{ SigninToken string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.SigninToken == "" {
		return "", fmt.Errorf("%w: %s answered 200 without a SigninToken; check Options.FederationURL", ErrFederation, fedURL.Redacted())
	}

	lq := url.Values{}
	lq.Set("Action", "login")
	if opts.Issuer != "" {
		lq.Set("Issuer", opts.Issuer)
	}
	lq.Set("Destination", dest)
	lq.Set("SigninToken", tok.SigninToken)
	login := *fedURL
	login.RawQuery = lq.Encode()
	log.Debug("console: sign-in URL ready", "partition", partID, "destination", dest, "kind", kind.String(),
		"session_duration", duration.String())
	return login.String(), nil
}

// redactURLError drops the *url.Error wrapper, whose message holds the
// request URL (and so the Session JSON with the secret key).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var nonPrint = regexp.MustCompile(`[^\x20-\x7e]+`)

func redactBody(b []byte, creds aws.Credentials) string {
	s := string(b)
	for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	s = strings.TrimSpace(nonPrint.ReplaceAllString(s, " "))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

var nameChars = regexp.MustCompile(`[^\w+=,.@-]`)

// federationToken turns long-term IAM user keys into GetFederationToken
// credentials.
func federationToken(ctx context.Context, creds aws.Credentials, opts Options, partID, region string, log *slog.Logger) (aws.Credentials, error) {
	client := opts.STS
	if client == nil {
		o := sts.Options{
			Region:      region,
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, ""),
		}
		if opts.HTTPClient != nil {
			o.HTTPClient = opts.HTTPClient
		}
		client = sts.New(o)
	}
	name := opts.FederationName
	if name == "" {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("%w: GetCallerIdentity to name the federated user: %w; set a federation name", ErrFederationToken, err)
		}
		name = "rolehop"
		if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil {
			if _, user, ok := strings.Cut(a.Resource, "user/"); ok && user != "" {
				if i := strings.LastIndexByte(user, '/'); i >= 0 {
					user = user[i+1:]
				}
				name = user
			}
		}
	}
	name = nameChars.ReplaceAllString(name, "_")
	if len(name) > 32 {
		name = name[:32]
	}
	if len(name) < 2 {
		name += "-rolehop"
	}
	in := &sts.GetFederationTokenInput{Name: aws.String(name), Policy: aws.String(AllowAllPolicy)}
	if d := opts.SessionDuration; d != 0 {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	out, err := client.GetFederationToken(ctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w for federated user %q: %w", ErrFederationToken, name, err)
	}
	c := out.Credentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SessionToken) == "" {
		return aws.Credentials{}, fmt.Errorf("%w: the answer has no credentials", ErrFederationToken)
	}
	log.Info("console: long-term IAM user keys exchanged for a federation token", "name", name, "partition", partID)
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		CanExpire:       c.Expiration != nil,
		Expires:         aws.ToTime(c.Expiration),
	}, nil
}
