package session

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// Provider gives credentials for an AWS account ID. Implementations are
// safe for concurrent use: one provider is shared by many goroutines.
//
// Config turns any Provider into an aws.Config for an account.
type Provider interface {
	Credentials(ctx context.Context, accountID string) (aws.Credentials, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(ctx context.Context, accountID string) (aws.Credentials, error)

// Credentials calls f.
func (f ProviderFunc) Credentials(ctx context.Context, accountID string) (aws.Credentials, error) {
	return f(ctx, accountID)
}

// BaseConfigProvider is implemented by providers whose credentials go with a
// configuration of their own (region, endpoints, HTTP client, retryer): the
// profile they were loaded from, the parent they assume roles with. Config
// starts from it.
type BaseConfigProvider interface {
	Provider
	// BaseConfig returns the configuration for accountID without fetching
	// credentials; its Credentials field is replaced by Config.
	BaseConfig(ctx context.Context, accountID string) (aws.Config, error)
}

// Config returns a configuration for accountID whose credentials come from p
// (through p's cache, refreshed as they age). It starts from p's own
// configuration when p is a BaseConfigProvider, else from
// config.LoadDefaultConfig. The credentials are fetched now, so an error (AccessDenied, a refused login)
// shows here rather than at first use.
func Config(ctx context.Context, p Provider, accountID string) (aws.Config, error) {
	if p == nil {
		return aws.Config{}, perr("provider", "must not be nil")
	}
	if _, err := p.Credentials(ctx, accountID); err != nil {
		return aws.Config{}, err
	}
	var cfg aws.Config
	if b, ok := p.(BaseConfigProvider); ok {
		c, err := b.BaseConfig(ctx, accountID)
		if err != nil {
			return aws.Config{}, err
		}
		cfg = c.Copy()
	} else {
		c, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return aws.Config{}, fmt.Errorf("load aws configuration: %w", err)
		}
		cfg = c
	}
	cfg.Credentials = CredentialsProvider(p, accountID)
	return cfg, nil
}

// CredentialsProvider returns an aws.CredentialsProvider whose every
// Retrieve asks p for accountID's credentials.
func CredentialsProvider(p Provider, accountID string) aws.CredentialsProvider {
	return accountCredentials{p: p, account: accountID}
}

type accountCredentials struct {
	p       Provider
	account string
}

func (a accountCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return a.p.Credentials(ctx, a.account)
}
