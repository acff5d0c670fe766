package session

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/saml"
)

// samlCredentialsSource is the aws.Credentials.Source of credentials from
// AssumeRoleWithSAML.
const samlCredentialsSource = "rolehop.SAML"

// AssumeRoleWithSAML makes one sts:AssumeRoleWithSAML call for role with the
// base64 assertion and returns the role's credentials. Nothing is cached.
// The call is unsigned; cfg gives the region, endpoint (BaseEndpoint,
// AWS_ENDPOINT_URL_STS), retryer and HTTP client, and its credentials are
// ignored. A duration above the assertion's SessionDuration is lowered to it
// (with a notice). params are validated before any call (*ParamError); a
// refused call is an *AssumeRoleError, whose message never contains the
// assertion.
func AssumeRoleWithSAML(ctx context.Context, cfg aws.Config, role saml.Role, assertion string, params SAMLParams, optFns ...func(*Options)) (aws.Credentials, error) {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	o.setDefaults()
	if err := o.validate(); err != nil {
		return aws.Credentials{}, err
	}
	if err := ValidateRoleARN(role.RoleARN); err != nil {
		return aws.Credentials{}, err
	}
	policy, err := params.validate()
	if err != nil {
		return aws.Credentials{}, err
	}
	var sessionDuration time.Duration
	if r, err := saml.Parse(assertion); err == nil {
		sessionDuration = r.SessionDuration
	}
	return assumeWithSAML(ctx, samlSTSClient(cfg, &o), role, assertion, sessionDuration, params, policy, &o)
}

// samlSTSClient is an anonymous STS client from cfg.
func samlSTSClient(cfg aws.Config, o *Options) *sts.Client {
	cfg = cfg.Copy()
	if o.Region != "" {
		cfg.Region = o.Region
	}
	cfg.Region = awsarn.GlobalRegion(cfg.Region)
	cfg.Credentials = nil
	stsOpts := append(append([]func(*sts.Options){}, o.STSOptions...), func(so *sts.Options) {
		so.Credentials = aws.AnonymousCredentials{}
	})
	return sts.NewFromConfig(cfg, stsOpts...)
}

// assumeWithSAML makes the call with validated parameters.
func assumeWithSAML(ctx context.Context, client *sts.Client, role saml.Role, assertion string, sessionDuration time.Duration,
	p SAMLParams, policy string, o *Options) (aws.Credentials, error) {
	in := &sts.AssumeRoleWithSAMLInput{
		RoleArn:       aws.String(role.RoleARN),
		PrincipalArn:  aws.String(role.PrincipalARN),
		SAMLAssertion: aws.String(assertion),
	}
	if d := p.Duration; d != 0 {
		if sessionDuration > 0 && d > sessionDuration {
			o.Logger.Warn("the IdP's SessionDuration limits the session: using it instead of the requested duration",
				"role", role.RoleARN, "requested", d.String(), "used", sessionDuration.String())
			d = sessionDuration
		}
		if d < MinDuration {
			d = MinDuration
		}
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	if policy != "" {
		in.Policy = aws.String(policy)
	}
	in.PolicyArns = policyARNs(p.PolicyARNs)
	out, err := client.AssumeRoleWithSAML(ctx, in)
	if err != nil {
		return aws.Credentials{}, newAssumeRoleError(role.RoleARN, err, assertion)
	}
	creds, err := fromSTS(role.RoleARN, out.Credentials, samlCredentialsSource)
	if err == nil {
		o.Logger.Debug("assumed role with saml", "role", role.RoleARN, "expires", creds.Expires)
	}
	return creds, err
}
