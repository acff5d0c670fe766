package session

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CrossAccount assumes a role of one name in any account that trusts a base
// account: arn:<partition>:iam::<account>:role/<name>, with the base
// provider's credentials for the base account. Credentials are cached per
// account; concurrent callers for one account share one STS call.
type CrossAccount struct {
	base        Provider
	baseAccount string
	roleName    string
	opts        *options
	cache       *credCache

	mu        sync.Mutex
	parent    aws.Config
	client    *sts.Client
	haveBase  bool
	providers sync.Map // account ID -> *accountCredentials
}

var _ Provider = (*CrossAccount)(nil)

// NewCrossAccount returns a provider assuming roleName (optionally with a
// path, "path/Name") in any account, from base's configuration for
// baseAccount. opts are the AssumeRole options (ExternalId, duration, session
// name, ...), validated here.
func NewCrossAccount(base Provider, baseAccount, roleName string, opts ...Option) (*CrossAccount, error) {
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
	if err := ValidateRoleARN("arn:aws:iam::" + baseAccount + ":role/" + roleName); err != nil {
		return nil, err
	}
	o, err := newOptions(opts)
	if err != nil {
		return nil, err
	}
	return &CrossAccount{
		base:        base,
		baseAccount: baseAccount,
		roleName:    roleName,
		opts:        o,
		cache:       newCredCache(o.refreshShare, o.now),
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
	return fmt.Sprintf("arn:%s:iam::%s:role/%s", Partition(region), accountID, c.roleName)
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
		_, chained := parent.Credentials.(assumedRole)
		return c.opts.assume(ctx, client, parent.Credentials, chained, c.roleARN(parent.Region, accountID))
	})
}

// Config returns a configuration for accountID whose credentials are the
// role's, refreshed as they age. The credentials are fetched now, so an
// error (AccessDenied, ...) shows here rather than at first use.
func (c *CrossAccount) Config(ctx context.Context, accountID string) (aws.Config, error) {
	if _, err := c.Credentials(ctx, accountID); err != nil {
		return aws.Config{}, err
	}
	c.mu.Lock()
	cfg := c.parent.Copy()
	c.mu.Unlock()
	if c.opts.region != "" {
		cfg.Region = c.opts.region
	}
	p, ok := c.providers.Load(accountID)
	if !ok {
		p, _ = c.providers.LoadOrStore(accountID, &accountCredentials{c: c, account: accountID})
	}
	cfg.Credentials = p.(*accountCredentials)
	return cfg, nil
}

// baseConfig loads the base account's configuration and STS client once.
func (c *CrossAccount) baseConfig(ctx context.Context) (aws.Config, *sts.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.haveBase {
		return c.parent, c.client, nil
	}
	parent, err := c.base.Config(ctx, c.baseAccount)
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("load base account %s: %w", c.baseAccount, err)
	}
	if parent.Credentials == nil {
		return aws.Config{}, nil, perr("base config", "has no credentials provider")
	}
	c.parent, c.client, c.haveBase = parent, c.opts.stsClient(parent), true
	return c.parent, c.client, nil
}

// accountCredentials is the aws.CredentialsProvider of a Config for one
// account.
type accountCredentials struct {
	c       *CrossAccount
	account string
}

func (a *accountCredentials) assumedRole() {}

func (a *accountCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return a.c.Credentials(ctx, a.account)
}
