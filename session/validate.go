package session

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Limits STS enforces, checked here before any call.
const (
	MinDuration        = 15 * time.Minute // shortest AssumeRole session
	MaxDuration        = 12 * time.Hour   // longest AssumeRole session
	MaxChainedDuration = time.Hour        // longest session for a chained role
	maxPolicyChars     = 2048
	maxPolicyARNs      = 10
	maxTags            = 50
)

// The patterns are compiled on first use, not at program start: every
// rolehop process links this package, and compiling them all up front cost
// credential-process (a hot path the AWS CLI runs on every command) ~1.5 ms.
var (
	reAccountID  = lazyRegexp(`^\d{12}$`)
	reRoleARN    = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,64}$`)
	reRoleName   = lazyRegexp(`^(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,64}$`)
	reSession    = lazyRegexp(`^[\w+=,.@-]{2,64}$`)
	reExternalID = lazyRegexp(`^[\w+=,.@:/-]+$`)
	rePolicyARN  = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy/(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,128}$`)
	reMFASerial  = lazyRegexp(`^(arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:mfa/[\w+=,.@/-]{1,128}|[\w+=,.@-]{9,256})$`)
	reTokenCode  = lazyRegexp(`^\d{6}$`)
	reTagKey     = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	reTagValue   = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func perr(field, rule string) error { return &ParamError{Field: field, Rule: rule} }

// ValidateAccountID checks that id is a 12-digit AWS account ID.
func ValidateAccountID(id string) error {
	if !reAccountID().MatchString(id) {
		return perr("account ID", "must be exactly 12 digits, e.g. 123456789012")
	}
	return nil
}

// ValidateRoleARN checks the shape of an IAM role ARN.
func ValidateRoleARN(arn string) error {
	if !reRoleARN().MatchString(arn) {
		return perr("RoleArn", "must look like arn:aws:iam::123456789012:role/[path/]NAME (partition aws, aws-cn or aws-us-gov; name [\\w+=,.@-]{1,64})")
	}
	return nil
}

// ValidateSessionName checks an STS RoleSessionName.
func ValidateSessionName(name string) error {
	if !reSession().MatchString(name) {
		return perr("RoleSessionName", `must be 2-64 characters of [\w+=,.@-]`)
	}
	return nil
}

func validateRoleName(name string) error {
	if !reRoleName().MatchString(name) {
		return perr("role name", `must be [path/]NAME with NAME 1-64 characters of [\w+=,.@-]`)
	}
	return nil
}

// validate checks every option before any network call.
func (o *options) validate() error {
	if o.sessionName != "" {
		if err := ValidateSessionName(o.sessionName); err != nil {
			return err
		}
	}
	if o.duration != 0 && (o.duration < MinDuration || o.duration > MaxDuration) {
		return perr("DurationSeconds", "must be between 900s (15m) and 43200s (12h)")
	}
	if o.externalID != "" && (len(o.externalID) < 2 || len(o.externalID) > 1224 || !reExternalID().MatchString(o.externalID)) {
		return perr("ExternalId", `must be 2-1224 characters of [\w+=,.@:/-]`)
	}
	if o.sourceIdentity != "" {
		if strings.HasPrefix(strings.ToLower(o.sourceIdentity), "aws:") {
			return perr("SourceIdentity", `must not start with "aws:"`)
		}
		if !reSession().MatchString(o.sourceIdentity) {
			return perr("SourceIdentity", `must be 2-64 characters of [\w+=,.@-]`)
		}
	}
	if o.policyErr != nil {
		return perr("Policy", "must marshal to JSON: "+o.policyErr.Error())
	}
	if utf8.RuneCountInString(o.policy) > maxPolicyChars {
		return perr("Policy", "must be at most 2048 characters once marshalled to JSON")
	}
	if len(o.policyARNs) > maxPolicyARNs {
		return perr("PolicyArns", "must hold at most 10 managed policy ARNs")
	}
	for _, a := range o.policyARNs {
		if !rePolicyARN().MatchString(a) {
			return perr("PolicyArns", "each must look like arn:aws:iam::123456789012:policy/NAME or arn:aws:iam::aws:policy/NAME")
		}
	}
	if len(o.tags) > maxTags {
		return perr("Tags", "must hold at most 50 session tags")
	}
	for k, v := range o.tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 || !reTagKey().MatchString(k) {
			return perr("Tags", `each key must be 1-128 characters of letters, digits, spaces and _.:/=+-@`)
		}
		if n := utf8.RuneCountInString(v); n > 256 || !reTagValue().MatchString(v) {
			return perr("Tags", `each value must be 0-256 characters of letters, digits, spaces and _.:/=+-@`)
		}
	}
	for _, k := range o.transitiveTagKeys {
		if _, ok := o.tags[k]; !ok {
			return perr("TransitiveTagKeys", "each key must also be set with WithTags")
		}
	}
	if o.mfaSerial != "" || o.tokenCode != nil {
		if !reMFASerial().MatchString(o.mfaSerial) {
			return perr("SerialNumber", "must be an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) or a 9-256 character hardware serial")
		}
		if o.tokenCode == nil {
			return perr("TokenCode", "WithMFA needs a token-code callback")
		}
	}
	if o.refreshShare <= 0 || o.refreshShare > 1 {
		return perr("refresh share", "must be in (0, 1], e.g. 0.5 to refresh at half life")
	}
	return nil
}

// lazyRegexp returns a function that compiles expr once, on first call.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

// ParseDuration reads a duration as Go writes it ("1h", "90m", "1h30m") or
// as a whole number of seconds ("3600"), the two ways AWS tools and rolehop's
// files spell one. Negative values are errors; the range a use allows
// (900 s to 12 h for AssumeRole) is checked where it is used.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(1<<62/time.Second) {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("duration %q: want a duration like 1h, 90m or a number of seconds", s)
	}
	return d, nil
}
