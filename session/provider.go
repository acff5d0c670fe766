package session

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Provider gives an aws.Config, or the raw credentials, for an AWS account ID.
// Implementations are safe for concurrent use: one provider is shared by many
// goroutines.
type Provider interface {
	// Config returns a configuration whose credentials work in accountID.
	Config(ctx context.Context, accountID string) (aws.Config, error)
	// Credentials returns credentials for accountID.
	Credentials(ctx context.Context, accountID string) (aws.Credentials, error)
}
