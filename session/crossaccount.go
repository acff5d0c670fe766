package session

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/awsarn"
)

// CrossAccount assumes a role of one name in any account that trusts a base
// account: arn:<partition>:iam::<account>:role/<name>, with the base
// provider's credentials for the base account. Credentials are cached per
// account; concurrent callers for one account share one STS call, callers
// for other accounts never wait on it.
type CrossAccount struct {
	base        Provider
	baseAccount string
	roleName    string
	a           *assumer
	o           *Options
	cache       *memCache
	disk        *diskLayer

	mu       sync.Mutex
	parent   aws.Config
	client   *sts.Client
	haveBase bool
}

var _ BaseConfigProvider = (*CrossAccount)(nil)

// NewCrossAccount returns a provider assuming roleName (optionally with a
// path, "path/Name") in any account, from base's credentials for
// baseAccount. Every option is validated here, before any call.
func NewCrossAccount(base Provider, baseAccount, roleName string, optFns ...func(*AssumeRoleOptions)) (*CrossAccount, error) {
	if base == nil {
		return nil, perr("base provider", "must not be nil")
	}
	if err := ValidateAccountID(baseAccount); err != nil {
		return nil, err
	}
	roleName = strings.TrimPrefix(roleName, "/")
	if err := validateRoleName(roleName); err != nil {
		return nil, err
	}
	if err := ValidateRoleARN(awsarn.RoleARN("aws", baseAccount, roleName)); err != nil {
		return nil, err
	}
	var opts AssumeRoleOptions
	for _, fn := range optFns {
		fn(&opts)
	}
	o := &opts.Options
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	a, err := newAssumer("", opts.AssumeRoleParams, o)
	if err != nil {
		return nil, err
	}
	return &CrossAccount{
		base:        base,
		baseAccount: baseAccount,
		roleName:    roleName,
		a:           a,
		o:           o,
		cache:       newMemCache(o),
		disk:        newDiskLayer(o),
	}, nil
}

// RoleARN returns the role ARN assumed in accountID, in the base region's
// partition (known once the base configuration is loaded; aws before).
func (c *CrossAccount) RoleARN(accountID string) string {
	c.mu.Lock()
	region := c.parent.Region
	c.mu.Unlock()
	return c.roleARN(region, accountID)
}

func (c *CrossAccount) roleARN(region, accountID string) string {
	return awsarn.RoleARN(awsarn.PartitionOf(region).ID, accountID, c.roleName)
}

// Credentials returns the role's credentials in accountID.
func (c *CrossAccount) Credentials(ctx context.Context, accountID string) (aws.Credentials, error) {
	if creds, ok := c.cache.lookup(accountID); ok {
		return creds, nil
	}
	if err := ValidateAccountID(accountID); err != nil {
		return aws.Credentials{}, err
	}
	return c.cache.get(ctx, accountID, func(ctx context.Context) (aws.Credentials, error) {
		parent, client, err := c.baseConfig(ctx)
		if err != nil {
			return aws.Credentials{}, err
		}
		arn := c.roleARN(parent.Region, accountID)
		return c.disk.get(ctx, c.a, arn, parent.Credentials, func(ctx context.Context) (aws.Credentials, error) {
			return c.a.assume(ctx, client, parent.Credentials, arn)
		})
	})
}

// BaseConfig returns the base account's configuration (region: Options.Region
// when set), without credentials for accountID.
func (c *CrossAccount) BaseConfig(ctx context.Context, accountID string) (aws.Config, error) {
	parent, _, err := c.baseConfig(ctx)
	if err != nil {
		return aws.Config{}, err
	}
	cfg := parent.Copy()
	if c.o.Region != "" {
		cfg.Region = c.o.Region
	}
	return cfg, nil
}

// baseConfig loads the base account's configuration and STS client once.
func (c *CrossAccount) baseConfig(ctx context.Context) (aws.Config, *sts.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveBase {
		return c.parent, c.client, nil
	}
	parent, err := Config(ctx, c.base, c.baseAccount)
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("load base account %s: %w", c.baseAccount, err)
	}
	c.parent, c.client, c.haveBase = parent, stsClient(parent, c.o), true
	return c.parent, c.client, nil
}
