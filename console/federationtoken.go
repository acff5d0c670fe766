package console

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

var nameChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^\w+=,.@-]`) })

// federationToken turns long-term IAM user keys into GetFederationToken
// credentials.
func federationToken(ctx context.Context, creds aws.Credentials, opts Options, partID, region string, log *slog.Logger) (aws.Credentials, error) {
	client := opts.STS
	if client == nil {
		keys := credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")
		if opts.STSConfig != nil {
			cfg := opts.STSConfig.Copy()
			if cfg.Region == "" {
				cfg.Region = region
			}
			cfg.Credentials = keys
			client = sts.NewFromConfig(cfg)
		} else {
			o := sts.Options{Region: region, Credentials: keys}
			if opts.HTTPClient != nil {
				o.HTTPClient = opts.HTTPClient
			}
			client = sts.New(o)
		}
	}
	name := opts.FederationName
	if name == "" {
		out, err := client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("%w: GetCallerIdentity to name the federated user: %w; set a federation name", ErrFederationToken, err)
		}
		name = "rolehop"
		if a, err := arn.Parse(aws.ToString(out.Arn)); err == nil {
			if _, user, ok := strings.Cut(a.Resource, "user/"); ok && user != "" {
				if i := strings.LastIndexByte(user, '/'); i >= 0 {
					user = user[i+1:]
				}
				name = user
			}
		}
	}
	name = nameChars().ReplaceAllString(name, "_")
	if len(name) > 32 {
		name = name[:32]
	}
	if len(name) < 2 {
		name += "-rolehop"
	}
	in := &sts.GetFederationTokenInput{Name: aws.String(name), Policy: aws.String(AllowAllPolicy)}
	if d := opts.SessionDuration; d != 0 {
		in.DurationSeconds = aws.Int32(int32(d / time.Second))
	}
	out, err := client.GetFederationToken(ctx, in)
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("%w for federated user %q: %w", ErrFederationToken, name, err)
	}
	c := out.Credentials
	if c == nil || aws.ToString(c.AccessKeyId) == "" || aws.ToString(c.SessionToken) == "" {
		return aws.Credentials{}, fmt.Errorf("%w: the answer has no credentials", ErrFederationToken)
	}
	log.Info("console: long-term IAM user keys exchanged for a federation token", "name", name, "partition", partID)
	return aws.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		CanExpire:       c.Expiration != nil,
		Expires:         aws.ToTime(c.Expiration),
	}, nil
}
