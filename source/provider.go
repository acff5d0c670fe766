package source

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/session"
)

// SessionProvider returns p as a session.Provider, to be the base of a
// session.CrossAccount (`rolehop run --via PROFILE`): a profile names one
// set of credentials, so the account ID asked for is ignored. Its
// BaseConfig is the profile's configuration (region, endpoints, retries),
// loaded once.
func (p *Profile) SessionProvider() session.BaseConfigProvider {
	return &profileProvider{p: p}
}

type profileProvider struct {
	p    *Profile
	mu   sync.Mutex
	cfg  aws.Config
	have bool
}

func (pp *profileProvider) Credentials(ctx context.Context, _ string) (aws.Credentials, error) {
	return pp.p.Credentials(ctx)
}

func (pp *profileProvider) BaseConfig(ctx context.Context, _ string) (aws.Config, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if !pp.have {
		cfg, err := pp.p.Config(ctx)
		if err != nil {
			return aws.Config{}, err
		}
		pp.cfg, pp.have = cfg, true
	}
	return pp.cfg.Copy(), nil
}

// AccountID returns the account the profile's credentials are in: the
// account of a rolehop source's final role, else sts:GetCallerIdentity's
// answer (one call).
func (p *Profile) AccountID(ctx context.Context) (string, error) {
	if arn := p.RoleARN(); arn != "" {
		if a := awsarn.AccountOf(arn); awsarn.IsAccountID(a) {
			return a, nil
		}
	}
	cfg, err := p.Config(ctx)
	if err != nil {
		return "", err
	}
	id, err := session.CallerIdentity(ctx, cfg)
	if err != nil {
		return "", err
	}
	return id.Account, nil
}
