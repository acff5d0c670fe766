// Package stsparam checks STS request parameters with STS's own rules,
// before any call and without the AWS SDK: role ARNs, session names,
// durations, ExternalIds. Package session exposes these checks (its
// ParamError and ErrInvalidParameter are this package's); the source
// definitions the credential_process fast path reads are checked with the
// same functions, so the fast path and the full CLI agree on what is valid.
//
// The patterns are compiled on first use, not at program start: every
// rolehop process links this package, and compiling them all up front cost
// credential-process (a hot path the AWS CLI runs on every command) ~1.5 ms.
package stsparam

import (
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/rolehop/rolehop/awsarn"
)

// Limits STS enforces.
const (
	MinDuration        = 15 * time.Minute // shortest AssumeRole session
	MaxDuration        = 12 * time.Hour   // longest AssumeRole session
	MaxChainedDuration = time.Hour        // longest session for a chained role
)

// ErrInvalidParameter: a parameter failed validation; no call was made.
var ErrInvalidParameter = errors.New("invalid parameter")

// ParamError reports a parameter that failed validation before any network
// call. Field is the STS (or rolehop) parameter name, Rule what it must
// satisfy. The offending value is not included: some values (ExternalId, MFA
// codes) are better kept out of logs.
type ParamError struct {
	Field string
	Rule  string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Rule)
}

// Is reports whether target is ErrInvalidParameter.
func (e *ParamError) Is(target error) bool { return target == ErrInvalidParameter }

// Err is a *ParamError for field and rule.
func Err(field, rule string) error { return &ParamError{Field: field, Rule: rule} }

// Lazy returns a function that compiles expr once, on first call.
func Lazy(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}

var (
	reRoleARN    = Lazy(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role/(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,64}$`)
	reSession    = Lazy(`^[\w+=,.@-]{2,64}$`)
	reExternalID = Lazy(`^[\w+=,.@:/-]+$`)
	reSAMLPrinc  = Lazy(`^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):saml-provider/[\w+=,.@-]{1,128}$`)
)

// ValidateAccountID checks that id is a 12-digit AWS account ID.
func ValidateAccountID(id string) error {
	if !awsarn.IsAccountID(id) {
		return Err("account ID", "must be exactly 12 digits, e.g. 123456789012")
	}
	return nil
}

// ValidateRoleARN checks the shape of an IAM role ARN.
func ValidateRoleARN(arn string) error {
	if !reRoleARN().MatchString(arn) {
		return Err("RoleArn", "must look like arn:aws:iam::123456789012:role/[path/]NAME (partition aws, aws-cn or aws-us-gov; name [\\w+=,.@-]{1,64})")
	}
	return nil
}

// ValidatePrincipalARN checks the shape of a SAML provider ARN (the
// PrincipalArn of AssumeRoleWithSAML).
func ValidatePrincipalARN(arn string) error {
	if !reSAMLPrinc().MatchString(arn) {
		return Err("PrincipalArn", "must look like arn:aws:iam::123456789012:saml-provider/NAME")
	}
	return nil
}

// ValidateSessionName checks an STS RoleSessionName (and SourceIdentity's
// character set).
func ValidateSessionName(name string) error {
	if !reSession().MatchString(name) {
		return Err("RoleSessionName", `must be 2-64 characters of [\w+=,.@-]`)
	}
	return nil
}

// ValidateDuration checks a session duration: 0 (STS's default) or 15
// minutes to 12 hours.
func ValidateDuration(d time.Duration) error {
	if d != 0 && (d < MinDuration || d > MaxDuration) {
		return Err("DurationSeconds", "must be between 900s (15m) and 43200s (12h)")
	}
	return nil
}

// ValidateExternalID checks an ExternalId ("" is none).
func ValidateExternalID(id string) error {
	if id != "" && (len(id) < 2 || len(id) > 1224 || !reExternalID().MatchString(id)) {
		return Err("ExternalId", `must be 2-1224 characters of [\w+=,.@:/-]`)
	}
	return nil
}
