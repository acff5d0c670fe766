package session

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// RoleConfig returns a copy of parent whose credentials come from assuming
// roleARN with parent's credentials (the aws-assume-role-lib model). Nothing
// is called here: the role is assumed at the first use of the child's
// credentials, then cached and refreshed before it expires (Options.Refresh)
// for as long as the program runs; an AccessDenied therefore shows at the
// first request (call the child's Credentials.Retrieve to check early). The
// child can itself be a parent: chains of any depth work, and a chained
// role's duration is clamped to STS's 1 hour limit.
//
// The child's region is Options.Region when set, else parent's. STS is called
// through sts.NewFromConfig(parent), so the parent's endpoint (BaseEndpoint,
// AWS_ENDPOINT_URL_STS), retryer and HTTP client are used. Every parameter is
// checked here, before any call; failures are *ParamError.
func RoleConfig(parent aws.Config, roleARN string, optFns ...func(*AssumeRoleOptions)) (aws.Config, error) {
	var opts AssumeRoleOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	o := &opts.Options
	o.setDefaults()
	if err := o.validate(); err != nil {
		return aws.Config{}, err
	}
	if err := ValidateRoleARN(roleARN); err != nil {
		return aws.Config{}, err
	}
	a, err := newAssumer(roleARN, opts.AssumeRoleParams, o)
	if err != nil {
		return aws.Config{}, err
	}
	if parent.Credentials == nil {
		return aws.Config{}, perr("parent", "has no credentials provider: load it with config.LoadDefaultConfig or session.Config")
	}
	p := &roleProvider{
		roleARN: roleARN,
		parent:  parent.Credentials,
		client:  stsClient(parent, o),
		a:       a,
		cache:   newMemCache(o),
		disk:    newDiskLayer(o),
	}
	child := parent.Copy()
	if o.Region != "" {
		child.Region = o.Region
	}
	child.Credentials = p
	return child, nil
}

// roleProvider is the child's aws.CredentialsProvider.
type roleProvider struct {
	roleARN string
	parent  aws.CredentialsProvider
	client  *sts.Client
	a       *assumer
	cache   *memCache
	disk    *diskLayer
}

var _ aws.CredentialsProvider = (*roleProvider)(nil)

// Retrieve returns cached credentials, assuming the role when they are due
// for refresh. Concurrent callers share one STS call.
func (p *roleProvider) Retrieve(ctx context.Context) (aws.Credentials, error) {
	if creds, ok := p.cache.lookup(""); ok {
		return creds, nil
	}
	return p.cache.get(ctx, "", func(ctx context.Context) (aws.Credentials, error) {
		return p.disk.get(ctx, p.a, p.roleARN, p.parent, func(ctx context.Context) (aws.Credentials, error) {
			return p.a.assume(ctx, p.client, p.parent, p.roleARN)
		})
	})
}
