package session

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidParameter: a parameter failed validation; no call was made.
	ErrInvalidParameter = errors.New("invalid parameter")
	// ErrAssumeRole: STS refused or failed an AssumeRole call.
	ErrAssumeRole = errors.New("assume role failed")
	// ErrProfileNotFound: no shared config profile matched.
	ErrProfileNotFound = errors.New("profile not found")
)

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

// AssumeRoleError reports a failed AssumeRole call. Code and Message are those
// STS returned (empty when the call never got an answer, e.g. a network
// error); Err is the underlying error.
type AssumeRoleError struct {
	RoleARN string
	Code    string
	Message string
	Err     error
}

func (e *AssumeRoleError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("assume role %s: %s: %s", e.RoleARN, e.Code, e.Message)
	}
	return fmt.Sprintf("assume role %s: %v", e.RoleARN, e.Err)
}

// Unwrap returns the underlying error.
func (e *AssumeRoleError) Unwrap() error { return e.Err }

// Is reports whether target is ErrAssumeRole.
func (e *AssumeRoleError) Is(target error) bool { return target == ErrAssumeRole }

// ProfileNotFoundError reports that none of the profiles tried exists in the
// shared config or credentials files.
type ProfileNotFoundError struct {
	AccountID string
	Tried     []string // profile names, in the order tried
	Files     []string // files searched
}

func (e *ProfileNotFoundError) Error() string {
	q := make([]string, len(e.Tried))
	for i, p := range e.Tried {
		q[i] = fmt.Sprintf("%q", p)
	}
	return fmt.Sprintf("no AWS profile %s in %s: add a [profile %s] section or set AWS_PROFILE",
		strings.Join(q, " or "), filesOrDefault(e.Files), e.AccountID)
}

// Is reports whether target is ErrProfileNotFound.
func (e *ProfileNotFoundError) Is(target error) bool { return target == ErrProfileNotFound }

func filesOrDefault(files []string) string {
	if len(files) == 0 {
		return "the shared config and credentials files"
	}
	return strings.Join(files, ", ")
}
