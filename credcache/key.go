package credcache

import "github.com/rolehop/rolehop/internal/credfile"

// AssumeRoleArgs are the sts:AssumeRole parameters that name a cache entry,
// spelled as botocore spells them (see credfile.AssumeRoleArgs).
type AssumeRoleArgs = credfile.AssumeRoleArgs

// ErrInvalidArgs is returned by AssumeRoleKey and HashArgs for arguments
// that cannot be turned into a cache key.
var ErrInvalidArgs = credfile.ErrInvalidArgs

// AssumeRoleKey returns the AWS CLI's cache key (the file name without
// ".json") for an assume-role call with these arguments. It is exactly
// botocore's BaseAssumeRoleCredentialFetcher._create_cache_key, so an entry
// written by rolehop in ~/.aws/cli/cache is used by the AWS CLI and the
// other way round.
func AssumeRoleKey(a AssumeRoleArgs) (string, error) { return credfile.AssumeRoleKey(a) }

// HashArgs returns the sha1 hex digest of args serialised the way Python's
// json.dumps(args, sort_keys=True) does (default separators ", " and ": ",
// ensure_ascii), with ':' and '/' replaced by '_' as botocore's
// _make_file_safe does (a hex digest contains neither).
//
// Values may be string, bool, nil, int, int32, int64, float64, json.Number,
// []any, []string, map[string]any and map[string]string.
func HashArgs(args map[string]any) (string, error) { return credfile.HashArgs(args) }
