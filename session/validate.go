package session

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rolehop/rolehop/internal/stsparam"
)

// Limits STS enforces, checked here before any call.
const (
	MinDuration        = stsparam.MinDuration        // shortest AssumeRole session
	MaxDuration        = stsparam.MaxDuration        // longest AssumeRole session
	MaxChainedDuration = stsparam.MaxChainedDuration // longest session for a chained role
	maxPolicyChars     = 2048
	maxPolicyARNs      = 10
	maxTags            = 50
)

// The patterns are compiled on first use, not at program start: every
// rolehop process links this package, and compiling them all up front cost
// credential-process (a hot path the AWS CLI runs on every command) ~1.5 ms.
var (
	reRoleName  = lazyRegexp(`^(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,64}$`)
	reSession   = lazyRegexp(`^[\w+=,.@-]{2,64}$`)
	rePolicyARN = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}|aws):policy/(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,128}$`)
	reMFASerial = lazyRegexp(`^(arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:mfa/[\w+=,.@/-]{1,128}|[\w+=,.@-]{9,256})$`)
	reTokenCode = lazyRegexp(`^\d{6}$`)
	reTagKey    = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	reTagValue  = lazyRegexp(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

func perr(field, rule string) error { return stsparam.Err(field, rule) }

// ValidateAccountID checks that id is a 12-digit AWS account ID.
func ValidateAccountID(id string) error { return stsparam.ValidateAccountID(id) }

// ValidateRoleARN checks the shape of an IAM role ARN.
func ValidateRoleARN(arn string) error { return stsparam.ValidateRoleARN(arn) }

// ValidateSessionName checks an STS RoleSessionName.
func ValidateSessionName(name string) error { return stsparam.ValidateSessionName(name) }

func validateRoleName(name string) error {
	if !reRoleName().MatchString(name) {
		return perr("role name", `must be [path/]NAME with NAME 1-64 characters of [\w+=,.@-]`)
	}
	return nil
}

func validateDuration(d time.Duration) error { return stsparam.ValidateDuration(d) }

// validate checks the session policy and returns the inline policy as JSON.
func (p SessionPolicy) validate() (string, error) {
	if p.Policy != nil && p.PolicyJSON != "" {
		return "", perr("Policy", "set Policy or PolicyJSON, not both")
	}
	if p.Policy != nil {
		if len(p.Policy.Statement) == 0 {
			return "", perr("Policy", "needs at least one statement")
		}
		for _, s := range p.Policy.Statement {
			if s.Effect != "Allow" && s.Effect != "Deny" {
				return "", perr("Policy", `each statement's Effect must be "Allow" or "Deny"`)
			}
		}
	}
	text, err := p.policyText()
	if err != nil {
		return "", perr("Policy", "must marshal to JSON: "+err.Error())
	}
	if utf8.RuneCountInString(text) > maxPolicyChars {
		return "", perr("Policy", "must be at most 2048 characters once marshalled to JSON")
	}
	if len(p.PolicyARNs) > maxPolicyARNs {
		return "", perr("PolicyArns", "must hold at most 10 managed policy ARNs")
	}
	for _, a := range p.PolicyARNs {
		if !rePolicyARN().MatchString(a) {
			return "", perr("PolicyArns", "each must look like arn:aws:iam::123456789012:policy/NAME or arn:aws:iam::aws:policy/NAME")
		}
	}
	return text, nil
}

// validate checks every AssumeRole parameter before any network call and
// returns the inline policy as JSON.
func (p AssumeRoleParams) validate() (string, error) {
	if p.RoleSessionName != "" {
		if err := ValidateSessionName(p.RoleSessionName); err != nil {
			return "", err
		}
	}
	if err := validateDuration(p.Duration); err != nil {
		return "", err
	}
	if err := stsparam.ValidateExternalID(p.ExternalID); err != nil {
		return "", err
	}
	if si := p.SourceIdentity; si != "" {
		if strings.HasPrefix(strings.ToLower(si), "aws:") {
			return "", perr("SourceIdentity", `must not start with "aws:"`)
		}
		if !reSession().MatchString(si) {
			return "", perr("SourceIdentity", `must be 2-64 characters of [\w+=,.@-]`)
		}
	}
	policy, err := p.SessionPolicy.validate()
	if err != nil {
		return "", err
	}
	if len(p.Tags) > maxTags {
		return "", perr("Tags", "must hold at most 50 session tags")
	}
	for k, v := range p.Tags {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 || !reTagKey().MatchString(k) {
			return "", perr("Tags", `each key must be 1-128 characters of letters, digits, spaces and _.:/=+-@`)
		}
		if n := utf8.RuneCountInString(v); n > 256 || !reTagValue().MatchString(v) {
			return "", perr("Tags", `each value must be 0-256 characters of letters, digits, spaces and _.:/=+-@`)
		}
	}
	for _, k := range p.TransitiveTagKeys {
		if _, ok := p.Tags[k]; !ok {
			return "", perr("TransitiveTagKeys", "each key must also be set in Tags")
		}
	}
	if p.MFA != nil {
		if !reMFASerial().MatchString(p.MFA.SerialNumber) {
			return "", perr("SerialNumber", "must be an MFA device ARN (arn:aws:iam::123456789012:mfa/NAME) or a 9-256 character hardware serial")
		}
		if p.MFA.TokenCode == nil {
			return "", perr("TokenCode", "MFA needs a TokenCode callback")
		}
	}
	return policy, nil
}

// Validate checks every parameter with STS's rules, without any network
// call. Failures are *ParamError.
func (p AssumeRoleParams) Validate() error {
	_, err := p.validate()
	return err
}

// validate checks the AssumeRoleWithSAML parameters and returns the inline
// policy as JSON.
func (p SAMLParams) validate() (string, error) {
	if err := validateDuration(p.Duration); err != nil {
		return "", err
	}
	return p.SessionPolicy.validate()
}

// Validate checks every parameter with STS's rules, without any network
// call. Failures are *ParamError.
func (p SAMLParams) Validate() error {
	_, err := p.validate()
	return err
}

// lazyRegexp returns a function that compiles expr once, on first call.
func lazyRegexp(expr string) func() *regexp.Regexp { return stsparam.Lazy(expr) }
