package session

import (
	"errors"
	"fmt"
	"strings"

	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/rolehop/rolehop/internal/safetext"
	"github.com/rolehop/rolehop/internal/stsparam"
)

// Sentinel errors, for errors.Is.
var (
	// ErrInvalidParameter: a parameter failed validation; no call was made.
	ErrInvalidParameter = stsparam.ErrInvalidParameter
	// ErrAssumeRole: STS refused or failed an AssumeRole (or
	// AssumeRoleWithSAML) call.
	ErrAssumeRole = errors.New("assume role failed")
	// ErrProfileNotFound: no shared config profile matched.
	ErrProfileNotFound = errors.New("profile not found")
	// ErrNoCredentials: nothing in the environment, the shared files or the
	// instance metadata provides AWS credentials.
	ErrNoCredentials = errors.New("no AWS credentials found")
)

// ParamError reports a parameter that failed validation before any network
// call. Field is the STS (or rolehop) parameter name, Rule what it must
// satisfy. The offending value is not included: some values (ExternalId, MFA
// codes) are better kept out of logs. (It is package stsparam's, which the
// SDK-free credential_process fast path shares.)
type ParamError = stsparam.ParamError

// AssumeRoleError reports a failed AssumeRole or AssumeRoleWithSAML call.
// Code and Message are those STS returned (empty when the call never got an
// answer, e.g. a network error); Status is the HTTP status when there was an
// answer; Err is the underlying error.
//
// Error() never holds the call's secrets (the SAML assertion, the
// ExternalId), even when a server echoes them: they are replaced by
// "[redacted]", control characters are dropped and the text is cut to
// maxServerText characters.
type AssumeRoleError struct {
	RoleARN string
	Code    string
	Message string
	Status  int
	Err     error

	secrets []string
}

// maxServerText bounds how much server-provided text an error carries.
const maxServerText = 300

func (e *AssumeRoleError) Error() string {
	var s string
	switch {
	case e.Code != "" && e.Code != "UnknownError":
		s = fmt.Sprintf("%s: %s", e.Code, e.Message)
	case e.Status != 0:
		// The SDK could not read the answer (not STS's XML: a proxy, an
		// HTML error page): its status is what the user can act on.
		s = fmt.Sprintf("HTTP %d from the sts endpoint (not an sts error answer)", e.Status)
		if e.Code == "" && e.Err != nil {
			s += ": " + e.Err.Error()
		}
	case e.Err != nil:
		s = e.Err.Error()
	}
	return fmt.Sprintf("assume role %s: %s", e.RoleARN, cleanServerText(s, e.secrets))
}

// Unwrap returns the underlying error.
func (e *AssumeRoleError) Unwrap() error { return e.Err }

// Is reports whether target is ErrAssumeRole.
func (e *AssumeRoleError) Is(target error) bool { return target == ErrAssumeRole }

// httpStatus returns the HTTP status of an SDK operation error (0 when the
// request got no answer).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// cleanServerText removes secrets, control and bidi-override characters from
// s and bounds its length.
func cleanServerText(s string, secrets []string) string {
	for _, sec := range secrets {
		if len(sec) >= 4 {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return safetext.Clean(s, maxServerText)
}

// ProfileNotFoundError reports that none of the profiles tried exists in the
// shared config or credentials files.
type ProfileNotFoundError struct {
	AccountID string   // the account asked for; "" when a profile was named
	Tried     []string // profile names, in the order tried
	Files     []string // files searched
}

func (e *ProfileNotFoundError) Error() string {
	q := make([]string, len(e.Tried))
	for i, p := range e.Tried {
		q[i] = fmt.Sprintf("%q", p)
	}
	if e.AccountID == "" {
		return fmt.Sprintf("AWS profile %s not found in %s; add a [profile %s] section, name another profile or set AWS_PROFILE",
			strings.Join(q, " or "), filesOrDefault(e.Files), e.Tried[0])
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
