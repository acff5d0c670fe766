package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"
)

// credentialsSource is the aws.Credentials.Source of every credential
// obtained by this package's AssumeRole calls.
const credentialsSource = "rolehop.AssumeRole"

// AssumeRole returns a copy of parent whose credentials come from assuming
// roleARN with parent's credentials. The child's credentials provider caches
// the role's credentials and refreshes them before they expire (after the
// refresh share of their lifetime, never within 5 minutes of expiry) for as
// long as the program runs. The child can itself be a parent: chains of any
// depth work, and a chained role's duration is clamped to STS's 1 hour limit.
//
// STS is called through sts.NewFromConfig(parent), so the parent's endpoint
// (BaseEndpoint, AWS_ENDPOINT_URL_STS), retryer and HTTP client are used.
// Every parameter is checked here, before any call; failures are *ParamError.
func AssumeRole(parent aws.Config, roleARN string, opts ...Option) (aws.Config, error) {
	o, err := validateAssumeRole(roleARN, opts)
	if err != nil {
		return aws.Config{}, err
	}
	if parent.Credentials == nil {
		return aws.Config{}, perr("parent", "has no credentials provider: load it with config.LoadDefaultConfig or a Provider's Config")
	}
	p := &roleProvider{
		roleARN: roleARN,
		parent:  parent.Credentials,
		client:  o.stsClient(parent),
		opts:    o,
		cache:   newCredCache(o.refreshShare, o.now),
	}
	_, p.chained = parent.Credentials.(assumedRole)
	child := parent.Copy()
	if o.region != "" {
		child.Region = o.region
	}
	child.Credentials = p
	return child, nil
}

// ValidateAssumeRole checks roleARN and every option with AssumeRole's
// rules, without a parent and without any network call: for callers that
// read role definitions (from files, flags) and want to report a bad one
// before anything runs. Failures are *ParamError.
func ValidateAssumeRole(roleARN string, opts ...Option) error {
	_, err := validateAssumeRole(roleARN, opts)
	return err
}

func validateAssumeRole(roleARN string, opts []Option) (*options, error) {
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	if err := ValidateRoleARN(roleARN); err != nil {
		return nil, err
	}
	return o, nil
}

// assumedRole marks credentials providers of this package whose credentials
// come from AssumeRole: a role assumed with them is a chained role.
type assumedRole interface{ assumedRole() }

// roleProvider is the child's aws.CredentialsProvider.
type roleProvider struct {
	roleARN string
	parent  aws.CredentialsProvider
	chained bool
	client  *sts.Client
	opts    *options
	cache   *credCache
}

var _ aws.CredentialsProvider = (*roleProvider)(nil)

func (p *roleProvider) assumedRole() {}

// Retrieve returns cached credentials, assuming the role when they are due
// for refresh. Concurrent callers share one STS call.
func (p *roleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if creds, ok := p.cache.lookup(""); ok {
		return creds, nil
	}
	return p.cache.get(ctx, "", func(ctx context.Context) (aws.Credentials, error) {
		return p.opts.assume(ctx, p.client, p.parent, p.chained, p.roleARN)
	})
}

// stsClient builds the STS client from parent, as the SDK would.
func (o *options) stsClient(parent aws.Config) *sts.Client {
	cfg := parent.Copy()
	if cfg.Region == "" {
		cfg.Region = o.region
	}
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	return sts.NewFromConfig(cfg, o.stsOpts...)
}

// assume makes one AssumeRole call.
func (o *options) assume(ctx context.Context, client *sts.Client, parent aws.CredentialsProvider, chained bool, roleARN string) (aws.Credentials, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN)}
	name := o.sessionName
	if name == "" {
		name = "rolehop-" + strconv.FormatInt(o.now().UnixNano(), 10)
	}
	in.RoleSessionName = aws.String(name)

	d := o.duration
	if d > MaxChainedDuration {
		if !chained && parent != nil {
			// Temporary parent credentials (a session token) make this a
			// chained role. A retrieval error is left for STS to report.
			if pc, err := parent.Retrieve(ctx); err == nil && pc.SessionToken != "" {
				chained = true
			}
		}
		if chained {
			o.logger.Info("role chaining limits a session to 1h: using 1h instead of the requested duration",
				"role", roleARN, "requested", d.String(), "used", MaxChainedDuration.String())
			d = MaxChainedDuration
		}
	}
	if d != 0 {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	if o.policy != "" {
		in.Policy = aws.String(o.policy)
	}
	for _, a := range o.policyARNs {
		in.PolicyArns = append(in.PolicyArns, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	if len(o.tags) > 0 {
		keys := make([]string, 0, len(o.tags))
		for k := range o.tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(o.tags[k])})
		}
	}
	in.TransitiveTagKeys = o.transitiveTagKeys
	if o.externalID != "" {
		in.ExternalId = aws.String(o.externalID)
	}
	if o.sourceIdentity != "" {
		in.SourceIdentity = aws.String(o.sourceIdentity)
	}
	if o.tokenCode != nil {
		code, err := o.tokenCode(ctx)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("get MFA token code for %s: %w", o.mfaSerial, err)
		}
		if !reTokenCode().MatchString(code) {
			return aws.Credentials{}, perr("TokenCode", "must be the 6 digits the MFA device shows")
		}
		in.SerialNumber, in.TokenCode = aws.String(o.mfaSerial), aws.String(code)
	}

	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return aws.Credentials{}, newAssumeRoleError(roleARN, err)
	}
	c := out.Credentials
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.Expiration == nil {
		return aws.Credentials{}, &AssumeRoleError{RoleARN: roleARN, Err: errors.New("STS answered without credentials")}
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          credentialsSource,
		CanExpire:       true,
		Expires:         *c.Expiration,
		AccountID:       accountOf(roleARN),
	}, nil
}

func newAssumeRoleError(roleARN string, err error) error {
	e := &AssumeRoleError{RoleARN: roleARN, Err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	}
	return e
}

// accountOf returns the account ID field of an ARN.
func accountOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 5 {
		return ""
	}
	return parts[4]
}

// Partition returns the AWS partition of a region: aws-cn for cn-*,
// aws-us-gov for us-gov-*, else aws.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	default:
		return "aws"
	}
}
