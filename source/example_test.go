package source_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/rolehop/rolehop/source"
)

// A Go program uses a rolehop source the way the CLI does: resolve it from
// the AWS config file, then take an aws.Config whose credentials come from
// the shared on-disk cache and refresh themselves.
func Example() {
	ctx := context.Background()
	src, err := source.Resolve(ctx, "prod", nil) // [profile prod] with rolehop_base, rolehop_role_arn
	if err != nil {
		log.Fatal(err) // unknown profile, cycle, bad ARN or duration: no network call was made
	}
	cfg, err := src.Config(ctx)
	if err != nil {
		log.Fatal(err)
	}
	out, err := s3.NewFromConfig(cfg).ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(src.RoleARN(), len(out.Buckets))
}
