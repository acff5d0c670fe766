package cli

import (
	"errors"
	"io/fs"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/safetext"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// Exit codes of the rolehop command.
const (
	ExitOK           = 0 // success
	ExitFailure      = 1 // any other failure
	ExitUsage        = 2 // bad input: flags, arguments, parameters, unknown profile
	ExitIdPRejected  = 3 // the IdP rejected the login
	ExitRoleNotFound = 4 // the role asked for is not granted
	ExitAWS          = 5 // an STS/AWS call failed
	ExitFile         = 6 // a file could not be read or written
	ExitPartial      = 7 // some of several roles or accounts failed, the others succeeded
)

// ExitError carries the exit code for an error. Commands wrap errors whose
// class the generic mapping in ExitCode cannot see.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return "exit code " + itoa(e.Code)
	}
	return e.Err.Error()
}

// Unwrap returns the wrapped error.
func (e *ExitError) Unwrap() error { return e.Err }

// usageError marks err as bad input (exit code 2).
func usageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// UsageError marks err as bad input (exit code 2), for commands built
// outside this package (rolehop-broker).
func UsageError(err error) error { return usageError(err) }

// ExitCode maps an error returned by the root command to the process exit
// code: an ExitError's code; 2 for invalid parameters and unknown profiles;
// 3 when the IdP rejected the login; 5 for a failed AWS call (an API error
// or any SDK operation error); 6 for file errors; 1 for anything else and 0
// for nil.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	var missingProfile config.SharedConfigProfileNotExistError
	switch {
	case errors.Is(err, session.ErrInvalidParameter), errors.Is(err, session.ErrProfileNotFound),
		errors.As(err, &missingProfile):
		return ExitUsage
	case errors.Is(err, idp.ErrAccessDenied), errors.Is(err, idp.ErrMFARequired):
		return ExitIdPRejected
	}
	var apiErr smithy.APIError
	var opErr *smithy.OperationError
	if errors.Is(err, session.ErrAssumeRole) || errors.As(err, &apiErr) || errors.As(err, &opErr) {
		return ExitAWS
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) || errors.Is(err, awsfile.ErrMalformed) || errors.Is(err, awsfile.ErrNotRegular) ||
		errors.Is(err, awsfile.ErrUnsafePath) || errors.Is(err, awsfile.ErrLocked) {
		return ExitFile
	}
	return ExitFailure
}

// OneLine returns err's message on a single line (the SDK's messages can
// span several) without control or bidi-override characters (any part may
// come from a server), for `rolehop: <message>` on stderr.
func OneLine(err error) string {
	if err == nil {
		return ""
	}
	return safetext.Clean(strings.Join(strings.Fields(err.Error()), " "), maxErrorLine)
}

// maxErrorLine bounds one error line.
const maxErrorLine = 2000
