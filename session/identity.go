package session

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/awsarn"
)

// Identity is who a set of credentials is (sts:GetCallerIdentity).
type Identity struct {
	UserID  string
	Account string
	ARN     string
}

// CallerIdentity asks STS who cfg's credentials are. STS is global: with no
// region configured it is called in us-east-1, as the AWS CLI does.
func CallerIdentity(ctx context.Context, cfg aws.Config, optFns ...func(*sts.Options)) (Identity, error) {
	cfg = cfg.Copy()
	cfg.Region = awsarn.GlobalRegion(cfg.Region)
	out, err := sts.NewFromConfig(cfg, optFns...).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return Identity{}, fmt.Errorf("sts get-caller-identity: %w", err)
	}
	return Identity{UserID: aws.ToString(out.UserId), Account: aws.ToString(out.Account), ARN: aws.ToString(out.Arn)}, nil
}
