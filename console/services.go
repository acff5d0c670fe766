package console

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/rolehop/rolehop/awsarn"
)

// service is a console path; regional ones get ?region=.
type service struct {
	path     string
	regional bool
	fragment string
}

// services is built on first use (every rolehop process links this
// package; few open the console).
var services = sync.OnceValue(func() map[string]service {
	return map[string]service{
		"home":           {"console/home", true, ""},
		"console":        {"console/home", true, ""},
		"s3":             {"s3/home", true, ""},
		"ec2":            {"ec2/home", true, ""},
		"iam":            {"iam/home", false, "/home"},
		"lambda":         {"lambda/home", true, "/functions"},
		"cloudwatch":     {"cloudwatch/home", true, ""},
		"logs":           {"cloudwatch/home", true, "logsV2:log-groups"},
		"cloudformation": {"cloudformation/home", true, ""},
		"cloudtrail":     {"cloudtrail/home", true, ""},
		"dynamodb":       {"dynamodbv2/home", true, ""},
		"rds":            {"rds/home", true, ""},
		"vpc":            {"vpc/home", true, ""},
		"ecs":            {"ecs/v2/home", true, ""},
		"eks":            {"eks/home", true, ""},
		"ecr":            {"ecr/home", true, ""},
		"sqs":            {"sqs/v3/home", true, ""},
		"sns":            {"sns/v3/home", true, ""},
		"kms":            {"kms/home", true, ""},
		"secretsmanager": {"secretsmanager/home", true, ""},
		"ssm":            {"systems-manager/home", true, ""},
		"route53":        {"route53/v2/home", false, ""},
		"cloudfront":     {"cloudfront/v4/home", false, ""},
		"billing":        {"billing/home", false, ""},
		"organizations":  {"organizations/v2/home", false, ""},
		"apigateway":     {"apigateway/main/apis", true, ""},
		"stepfunctions":  {"states/home", true, ""},
		"athena":         {"athena/home", true, ""},
		"glue":           {"glue/home", true, ""},
		"elasticache":    {"elasticache/home", true, ""},
		"kinesis":        {"kinesis/home", true, ""},
		"events":         {"events/home", true, ""},
		"acm":            {"acm/home", true, ""},
		"config":         {"config/home", true, ""},
		"guardduty":      {"guardduty/home", true, ""},
		"securityhub":    {"securityhub/home", true, ""},
		"codebuild":      {"codesuite/codebuild/home", true, ""},
		"codepipeline":   {"codesuite/codepipeline/home", true, ""},
		"backup":         {"backup/home", true, ""},
		"redshift":       {"redshiftv2/home", true, ""},
	}
})

// Services returns the known destination shortcuts, sorted.
func Services() []string {
	out := make([]string, 0, len(services()))
	for k := range services() {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// DestinationURL resolves a destination (shortcut or URL) for a partition
// and region ("" = defaults) without signing in.
func DestinationURL(dest, partitionID, region string) (string, error) {
	p, err := partitionFor(partitionID, region)
	if err != nil {
		return "", err
	}
	if region == "" {
		region = p.DefaultRegion
	}
	return destinationURL(dest, p, region)
}

func destinationURL(dest string, p awsarn.Partition, region string) (string, error) {
	if dest == "" {
		dest = "home"
	}
	if strings.Contains(dest, "://") {
		u, err := url.Parse(dest)
		if err != nil || u.Scheme != "https" || u.User != nil ||
			(u.Host != p.ConsoleHost && !strings.HasSuffix(u.Host, "."+p.ConsoleHost)) {
			return "", fmt.Errorf("%w: %q; use an https://%s/... URL or a service shortcut", ErrBadDestination, dest, p.ConsoleHost)
		}
		return u.String(), nil
	}
	s, ok := services()[strings.ToLower(dest)]
	if !ok {
		return "", fmt.Errorf("%w %q; use one of %s or an https console URL", ErrUnknownService, dest, strings.Join(Services(), ", "))
	}
	u := url.URL{Scheme: "https", Host: p.ConsoleHost, Path: "/" + s.path, Fragment: s.fragment}
	if s.regional {
		u.RawQuery = "region=" + url.QueryEscape(region)
	}
	return u.String(), nil
}
