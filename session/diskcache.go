package session

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/credcache"
)

// diskLayer is the optional on-disk cache (Options.DiskCache) under a
// provider's in-memory cache. A nil *diskLayer fetches directly.
type diskLayer struct {
	cache *credcache.Cache
	scope string
}

func newDiskLayer(o *Options) *diskLayer {
	if o.DiskCache == nil {
		return nil
	}
	return &diskLayer{cache: o.DiskCache, scope: o.DiskCacheScope}
}

// get returns the credentials of the AssumeRole call a would make for
// roleARN: from the disk cache while fresh, else from fetch (written to the
// cache). Several processes that miss at once make one fetch.
func (d *diskLayer) get(ctx context.Context, a *assumer, roleARN string, parent aws.CredentialsProvider, fetch func(context.Context) (aws.Credentials, error)) (aws.Credentials, error) {
	if d == nil {
		return fetch(ctx)
	}
	scope := d.scope
	if scope == "" {
		pc, err := parent.Retrieve(ctx)
		if err != nil {
			return aws.Credentials{}, fmt.Errorf("parent credentials of %s: %w", roleARN, err)
		}
		scope = "akid:" + pc.AccessKeyID
	}
	key, err := diskKey(roleARN, scope, a.params, a.policy)
	if err != nil {
		return aws.Credentials{}, err
	}
	return d.cache.Get(ctx, key, fetch)
}

// diskKey is the cache entry's name: botocore's cache-key hash
// (credcache.HashArgs) of the AssumeRole arguments as botocore spells them,
// plus "RolehopBase", the scope (where the parent credentials come from), so
// that entries of different parents never mix and the AWS CLI, which never
// adds RolehopBase, never reads or overwrites them. Secrets (ExternalId)
// only enter the hash.
func diskKey(roleARN, scope string, p AssumeRoleParams, policy string) (string, error) {
	args := map[string]any{"RoleArn": roleARN, "RolehopBase": scope}
	if p.RoleSessionName != "" {
		args["RoleSessionName"] = p.RoleSessionName
	}
	if p.ExternalID != "" {
		args["ExternalId"] = p.ExternalID
	}
	if p.Duration != 0 {
		args["DurationSeconds"] = int64(p.Duration / time.Second)
	}
	if policy != "" {
		args["Policy"] = policy
	}
	if len(p.PolicyARNs) > 0 {
		args["PolicyArns"] = append([]string(nil), p.PolicyARNs...)
	}
	if len(p.Tags) > 0 {
		args["Tags"] = p.Tags
		keys := append([]string(nil), p.TransitiveTagKeys...)
		sort.Strings(keys)
		args["TransitiveTagKeys"] = keys
	}
	if p.SourceIdentity != "" {
		args["SourceIdentity"] = p.SourceIdentity
	}
	if p.MFA != nil {
		args["SerialNumber"] = p.MFA.SerialNumber
	}
	key, err := credcache.HashArgs(args)
	if err != nil {
		return "", fmt.Errorf("disk cache key for %s: %w", roleARN, err)
	}
	return key, nil
}

// samlDiskKey names one SAML role's credentials in the disk cache: the
// role, the principal, the scope (the login they come from) and the
// parameters.
func samlDiskKey(roleARN, principalARN, scope string, p SAMLParams, policy string) (string, error) {
	args := map[string]any{"RoleArn": roleARN, "PrincipalArn": principalARN, "RolehopBase": scope}
	if p.Duration != 0 {
		args["DurationSeconds"] = int64(p.Duration / time.Second)
	}
	if policy != "" {
		args["Policy"] = policy
	}
	if len(p.PolicyARNs) > 0 {
		args["PolicyArns"] = append([]string(nil), p.PolicyARNs...)
	}
	key, err := credcache.HashArgs(args)
	if err != nil {
		return "", fmt.Errorf("disk cache key for %s: %w", roleARN, err)
	}
	return key, nil
}
