package session

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/awsarn"
)

// credentialsSource is the aws.Credentials.Source of credentials from this
// package's AssumeRole calls.
const credentialsSource = "rolehop.AssumeRole"

// Assume makes one sts:AssumeRole call for roleARN with parent's credentials
// and returns the role's credentials. Nothing is cached: every call asks
// STS, so one caller's session (its name, tags, SourceIdentity) is never
// handed to another — what a broker serving many users needs. For cached,
// self-refreshing credentials use RoleConfig or NewCrossAccount.
//
// STS is called through sts.NewFromConfig(parent), so the parent's endpoint
// (BaseEndpoint, AWS_ENDPOINT_URL_STS), retryer and HTTP client are used.
// roleARN and params are validated before any call (*ParamError); a refused
// call is an *AssumeRoleError.
func Assume(ctx context.Context, parent aws.Config, roleARN string, params AssumeRoleParams, optFns ...func(*Options)) (aws.Credentials, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	o.setDefaults()
	if err := o.validate(); err != nil {
		return aws.Credentials{}, err
	}
	a, err := newAssumer(roleARN, params, &o)
	if err != nil {
		return aws.Credentials{}, err
	}
	if parent.Credentials == nil {
		return aws.Credentials{}, perr("parent", "has no credentials provider: load it with config.LoadDefaultConfig or session.Config")
	}
	return a.assume(ctx, stsClient(parent, &o), parent.Credentials, roleARN)
}

// ValidateAssumeRole checks roleARN and params with AssumeRole's rules,
// without a parent and without any network call: for callers that read role
// definitions (from files, flags) and want to report a bad one before
// anything runs. Failures are *ParamError.
func ValidateAssumeRole(roleARN string, params AssumeRoleParams) error {
	if err := ValidateRoleARN(roleARN); err != nil {
		return err
	}
	_, err := params.validate()
	return err
}

// assumer makes AssumeRole calls with validated parameters.
type assumer struct {
	params AssumeRoleParams
	policy string // params' inline policy as JSON
	o      *Options
}

func newAssumer(roleARN string, params AssumeRoleParams, o *Options) (*assumer, error) {
	if roleARN != "" {
		if err := ValidateRoleARN(roleARN); err != nil {
			return nil, err
		}
	}
	policy, err := params.validate()
	if err != nil {
		return nil, err
	}
	return &assumer{params: params, policy: policy, o: o}, nil
}

// stsClient builds the STS client from parent, as the SDK would, in the
// region of o, else parent's, else us-east-1.
func stsClient(parent aws.Config, o *Options) *sts.Client {
	cfg := parent.Copy()
	if o.Region != "" && cfg.Region == "" {
		cfg.Region = o.Region
	}
	cfg.Region = awsarn.GlobalRegion(cfg.Region)
	return sts.NewFromConfig(cfg, o.STSOptions...)
}

// chained reports whether a role assumed with parent is a chained role
// (temporary parent credentials), which STS limits to one hour. A
// retrieval error is left for STS to report.
func chained(ctx context.Context, parent aws.CredentialsProvider) bool {
	pc, err := parent.Retrieve(ctx)
	return err == nil && pc.SessionToken != ""
}

// assume makes one AssumeRole call.
func (a *assumer) assume(ctx context.Context, client *sts.Client, parent aws.CredentialsProvider, roleARN string) (aws.Credentials, error) {
	p, o := a.params, a.o
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN)}
	name := p.RoleSessionName
	if name == "" {
		name = "rolehop-" + strconv.FormatInt(o.Now().UnixNano(), 10)
	}
	in.RoleSessionName = aws.String(name)

	d := p.Duration
	if d > MaxChainedDuration && parent != nil && chained(ctx, parent) {
		o.Logger.Warn("role chaining limits a session to 1h: using 1h instead of the requested duration",
			"role", roleARN, "requested", d.String(), "used", MaxChainedDuration.String())
		d = MaxChainedDuration
	}
	if d != 0 {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	if a.policy != "" {
		in.Policy = aws.String(a.policy)
	}
	in.PolicyArns = policyARNs(p.PolicyARNs)
	if len(p.Tags) > 0 {
		keys := make([]string, 0, len(p.Tags))
		for k := range p.Tags {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			in.Tags = append(in.Tags, types.Tag{Key: aws.String(k), Value: aws.String(p.Tags[k])})
		}
	}
	in.TransitiveTagKeys = p.TransitiveTagKeys
	if p.ExternalID != "" {
		in.ExternalId = aws.String(p.ExternalID)
	}
	if p.SourceIdentity != "" {
		in.SourceIdentity = aws.String(p.SourceIdentity)
	}
	if p.MFA != nil {
		code, err := p.MFA.TokenCode(ctx)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("get MFA token code for %s: %w", p.MFA.SerialNumber, err)
		}
		if !reTokenCode().MatchString(code) {
			return aws.Credentials{}, perr("TokenCode", "must be the 6 digits the MFA device shows")
		}
		in.SerialNumber, in.TokenCode = aws.String(p.MFA.SerialNumber), aws.String(code)
	}

	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return aws.Credentials{}, newAssumeRoleError(roleARN, err, p.ExternalID)
	}
	return fromSTS(roleARN, out.Credentials, credentialsSource)
}

func policyARNs(arns []string) []types.PolicyDescriptorType {
	var out []types.PolicyDescriptorType
	for _, a := range arns {
		out = append(out, types.PolicyDescriptorType{Arn: aws.String(a)})
	}
	return out
}

// fromSTS turns the credentials of an STS answer into aws.Credentials.
func fromSTS(roleARN string, c *types.Credentials, source string) (aws.Credentials, error) {
	if c == nil || c.AccessKeyId == nil || c.SecretAccessKey == nil || c.Expiration == nil {
		return aws.Credentials{}, &AssumeRoleError{RoleARN: roleARN, Err: errors.New("STS answered without credentials")}
	}
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Source:          source,
		CanExpire:       true,
		Expires:         *c.Expiration,
		AccountID:       awsarn.AccountOf(roleARN),
	}, nil
}

func newAssumeRoleError(roleARN string, err error, secrets ...string) error {
	e := &AssumeRoleError{RoleARN: roleARN, Err: err}
	var api smithy.APIError
	if errors.As(err, &api) {
		e.Code, e.Message = api.ErrorCode(), api.ErrorMessage()
	}
	e.Status = httpStatus(err)
	e.secrets = secrets
	return e
}
