package saml

import "errors"

// Sentinel kinds of a *ParseError. Check them with errors.Is.
var (
	// ErrNotBase64 means the input is not standard base64.
	ErrNotBase64 = errors.New("saml response is not base64")
	// ErrNotXML means the decoded input is not a well-formed XML document.
	ErrNotXML = errors.New("saml response is not xml")
	// ErrNoAssertion means the document holds no SAML 2.0 Assertion (for
	// example a Response whose Status is not Success).
	ErrNoAssertion = errors.New("saml response has no assertion")
	// ErrEncryptedAssertion means the assertion is encrypted
	// (EncryptedAssertion), which rolehop does not support: AWS sign-in
	// assertions are signed, not encrypted.
	ErrEncryptedAssertion = errors.New("saml assertion is encrypted (not supported)")
	// ErrMultipleAssertions means the response holds more than one Assertion,
	// which AWS sign-in never sends; it is refused rather than guessed at.
	ErrMultipleAssertions = errors.New("saml response has more than one assertion")
	// ErrBadRoleValue means a Role attribute value is not two ARNs separated
	// by a comma, one role and one saml-provider.
	ErrBadRoleValue = errors.New("bad aws role attribute value")
	// ErrNotARN means a part of a Role attribute value is not an IAM ARN.
	ErrNotARN = errors.New("aws role attribute value is not an arn")
	// ErrBadValue means another field (SessionDuration, a timestamp) cannot
	// be read.
	ErrBadValue = errors.New("bad value in saml assertion")
)

// ParseError is returned by Parse for malformed input. Kind is one of the
// sentinel errors above; Detail says what was found (never the whole
// assertion). errors.Is(err, Kind) holds.
type ParseError struct {
	Kind   error
	Detail string
	Err    error // underlying cause, if any
}

func (e *ParseError) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the kind and the underlying cause.
func (e *ParseError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// NewParseError is a *ParseError of kind (one of the Err values above), for
// readers of SAML responses outside this package (samlverify).
func NewParseError(kind error, detail string, cause error) *ParseError {
	return parseErr(kind, detail, cause)
}

func parseErr(kind error, detail string, cause error) *ParseError {
	return &ParseError{Kind: kind, Detail: detail, Err: cause}
}
