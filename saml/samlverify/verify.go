// Package samlverify holds Verify: the one place rolehop decides whether a
// SAMLResponse is genuine (the test STS and the broker both call it). It is
// its own package so that programs that only read assertions (package saml)
// do not link crewjam/saml and its XML-signature stack.
//
// The checks themselves are github.com/crewjam/saml's
// (ServiceProvider.ParseXMLResponse): the XML signature on the Response or
// on the Assertion against the trusted certificates only (goxmldsig >=
// v1.6.1 underneath; what is read afterwards is what the signature covers,
// so signature wrapping and comment injection change nothing), SHA-1
// refused (RejectSHA1Signatures), Issuer, Status, Destination, bearer
// SubjectConfirmationData Recipient and InResponseTo, an AuthnStatement,
// and the AudienceRestriction (through its ValidateAudienceRestriction
// hook, so that several audiences may be trusted, as AWS trusts
// urn:amazon:webservices and https://signin.aws.amazon.com/saml).
//
// What rolehop adds, and why:
//
//   - A size limit before anything is decoded or parsed (Trust.MaxSize).
//   - Exactly one Assertion: crewjam refuses several only in an unsigned
//     Response, and returns the first of a signed one; AWS sign-in and the
//     broker never expect two, so two are refused rather than guessed at.
//     EncryptedAssertion is refused (AWS sign-in assertions are signed,
//     not encrypted; rolehop holds no SP decryption key).
//   - Per-Trust time limits. crewjam's are process-wide variables
//     (MaxIssueDelay 90 s, MaxClockSkew 180 s); changing them would change
//     every other user of crewjam in the process (the broker next to the
//     test STS in one test binary). So crewjam is run with its clock set to
//     the assertion's own IssueInstant, which makes its time checks
//     neutral, and Verify then checks the verified assertion's
//     IssueInstant (Trust.MaxAge), Conditions NotBefore/NotOnOrAfter and
//     every SubjectConfirmationData NotBefore/NotOnOrAfter against the
//     caller's now with Trust.ClockSkew. The clock only moves time checks
//     that are all made again on verified values, and certificate validity
//     is not enforced (IgnoreCertificateExpiry, as AWS does not: SAML
//     metadata certificates are key containers), so choosing it from the
//     unverified document grants nothing.
//   - Several recipients (AWS has one sign-in endpoint per partition): the
//     ACS URL crewjam compares the signed Recipient with is chosen from
//     Trust.Recipients only.
//   - A replay cache consumed after every other check, with an expiry from
//     the same per-Trust limits (crewjam's own would use its globals).
//   - Errors: *VerifyError with a Kind sentinel; its message is written
//     here and never holds the assertion (crewjam's InvalidResponseError
//     keeps the whole document: it is dropped, only its cause is kept).
package samlverify

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"

	"github.com/rolehop/rolehop/saml"
	dsig "github.com/russellhaering/goxmldsig"
)

// Defaults of a Trust's zero fields.
const (
	// DefaultClockSkew is the allowed difference between the IdP's clock
	// and the verifier's (crewjam's and Shibboleth's figure).
	DefaultClockSkew = 3 * time.Minute
	// DefaultMaxAge is how long after its IssueInstant an assertion is
	// accepted (crewjam's MaxIssueDelay). AWS STS allows 5 minutes.
	DefaultMaxAge = 90 * time.Second
	// DefaultMaxSize bounds the base64 input (whitespace removed). AWS's
	// SAMLAssertion parameter is at most 100,000 characters.
	DefaultMaxSize = 256 << 10
)

// Sentinel kinds of a *VerifyError. Check them with errors.Is.
var (
	// ErrVerifyConfig means the Trust itself is unusable (no certificate,
	// no audience, ...): a programming or configuration error, not bad
	// input.
	ErrVerifyConfig = errors.New("saml trust configuration is invalid")
	// ErrTooLarge means the input exceeds Trust.MaxSize; nothing was parsed.
	ErrTooLarge = errors.New("saml response is too large")
	// ErrMalformed means the input is not a SAML 2.0 Response holding
	// exactly one plain Assertion, or a value in it cannot be read. The
	// *ParseError kinds (saml.ErrNotBase64, saml.ErrMultipleAssertions, ...) match
	// too where one applies.
	ErrMalformed = errors.New("saml response is malformed")
	// ErrSignature means no valid signature by a trusted certificate
	// covers the assertion: unsigned, altered after signing, signed by
	// another key, or signed with SHA-1.
	ErrSignature = errors.New("saml signature is invalid")
	// ErrIssuer means the Issuer is not the trusted IdP's entity ID.
	ErrIssuer = errors.New("saml issuer is not the trusted identity provider")
	// ErrAudience means no AudienceRestriction names a trusted audience.
	ErrAudience = errors.New("saml assertion is for another audience")
	// ErrRecipient means the SubjectConfirmationData Recipient is not a
	// trusted recipient (ACS URL).
	ErrRecipient = errors.New("saml assertion is for another recipient")
	// ErrDestination means the Response Destination is not the expected one.
	ErrDestination = errors.New("saml response is for another destination")
	// ErrRequestID means InResponseTo names no request the caller made, or
	// is absent while IdP-initiated logins are not allowed.
	ErrRequestID = errors.New("saml response answers no known request")
	// ErrStatus means the IdP answered with a non-success Status.
	ErrStatus = errors.New("saml response status is not success")
	// ErrExpired means the assertion is past a NotOnOrAfter or older than
	// Trust.MaxAge.
	ErrExpired = errors.New("saml assertion has expired")
	// ErrNotYetValid means a NotBefore or the IssueInstant is in the future.
	ErrNotYetValid = errors.New("saml assertion is not yet valid")
	// ErrReplay means the assertion was already used (Trust.Replay said so).
	ErrReplay = errors.New("saml assertion was already used")
	// ErrReplayCheck means Trust.Replay could not record the assertion (a
	// store outage, not the user's fault); the assertion is refused.
	ErrReplayCheck = errors.New("saml replay check failed")
)

// VerifyError is returned by Verify. Kind is one of the sentinels above;
// Detail says what was wrong and never holds the assertion or a value the
// caller did not configure beyond short, bounded names. errors.Is(err, Kind)
// holds, and errors.Is/As reach Err (a *ParseError, or crewjam's
// classified reason, e.g. crewsaml.ErrUntrustedCertificate).
type VerifyError struct {
	Kind   error
	Detail string
	Err    error
}

func (e *VerifyError) Error() string {
	msg := e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the kind and the underlying cause.
func (e *VerifyError) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

func verifyErr(kind error, detail string, cause error) *VerifyError {
	return &VerifyError{Kind: kind, Detail: detail, Err: cause}
}

// ReplayCache records assertion IDs so that each is accepted once. Consume
// atomically records id as used until until (after which the assertion is
// refused anyway and the record may be dropped) and returns an error
// wrapping ErrReplay (or crewjam's ErrAssertionReplayed) if id was already
// recorded, any other error if it cannot record it. It must be safe for
// concurrent use and shared by every replica that accepts assertions for
// the same audience.
type ReplayCache interface {
	Consume(id string, until time.Time) error
}

// Trust is what Verify trusts: one IdP (its entity ID and signing
// certificates, see ParseIdP) and what an assertion for this relying party
// must say. The zero durations take the defaults above.
type Trust struct {
	// Issuer is the IdP's entity ID; the Response and Assertion Issuer
	// must equal it. Required unless AnyIssuer is set.
	Issuer string
	// AnyIssuer accepts any Issuer from an IdP known only by its
	// certificates (a PEM or DER certificate has no entity ID). The
	// signature is still required.
	AnyIssuer bool
	// Certs are the IdP's signing certificates; one of them must have
	// signed the Response or the Assertion. Their validity period is not
	// enforced (as AWS does not).
	Certs []*x509.Certificate
	// Audiences: an AudienceRestriction must name one of them
	// (every AudienceRestriction present must be satisfied).
	Audiences []string
	// Recipients are the ACS URLs the bearer SubjectConfirmationData
	// Recipient may name (the first that the response names is used).
	Recipients []string
	// Destination, when set, is the URL the Response was received at: a
	// Destination on the Response must be it (or the chosen recipient).
	// When empty, the chosen recipient is used. A signed Response must
	// carry a Destination.
	Destination string
	// AllowIdPInitiated accepts responses without InResponseTo.
	AllowIdPInitiated bool
	// RequestIDs are the IDs of the AuthnRequests this caller sent and is
	// waiting for; an InResponseTo must be one of them.
	RequestIDs []string
	// ClockSkew is allowed on every NotBefore, NotOnOrAfter and on an
	// IssueInstant in the future (default DefaultClockSkew).
	ClockSkew time.Duration
	// MaxAge is how long after its IssueInstant an assertion is accepted
	// (default DefaultMaxAge).
	MaxAge time.Duration
	// MaxSize bounds the base64 input (default DefaultMaxSize).
	MaxSize int
	// Replay, when set, is consumed with the assertion ID after every other
	// check passed, until the assertion would expire anyway.
	Replay ReplayCache
}

// Verify checks raw (a base64 SAMLResponse as posted by a browser or sent
// to AssumeRoleWithSAML; whitespace ignored) against t at now, and returns
// what it says only when crewjam/saml verified it. Every failure is a
// *VerifyError; none holds the assertion.
func Verify(raw string, t Trust, now time.Time) (*saml.Response, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	maxSize := t.MaxSize
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	skew := t.ClockSkew
	if skew <= 0 {
		skew = DefaultClockSkew
	}
	maxAge := t.MaxAge
	if maxAge <= 0 {
		maxAge = DefaultMaxAge
	}
	if len(raw) > 2*maxSize { // before even copying it
		return nil, verifyErr(ErrTooLarge, fmt.Sprintf("over %d characters", maxSize), nil)
	}
	clean := b64Space.Replace(raw)
	if len(clean) > maxSize {
		return nil, verifyErr(ErrTooLarge, fmt.Sprintf("over %d characters", maxSize), nil)
	}
	if clean == "" {
		return nil, verifyErr(ErrMalformed, "input is empty", saml.NewParseError(saml.ErrNotBase64, "input is empty", nil))
	}
	doc, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		var err2 error
		if doc, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "=")); err2 != nil {
			return nil, verifyErr(ErrMalformed, "not base64", saml.NewParseError(saml.ErrNotBase64, "decoding failed", err))
		}
	}

	pre, err := precheck(doc)
	if err != nil {
		return nil, err
	}
	acs := t.Recipients[0]
	for _, r := range pre.recipients {
		if slices.Contains(t.Recipients, r) {
			acs = r
			break
		}
	}
	acsURL, _ := url.Parse(acs) // t.check parsed it
	current := *acsURL
	if t.Destination != "" {
		u, _ := url.Parse(t.Destination)
		current = *u
	}
	issuer := t.Issuer
	if t.AnyIssuer {
		issuer = pre.issuer
	}
	sp := &crewsaml.ServiceProvider{
		EntityID:                    t.Audiences[0],
		AcsURL:                      *acsURL,
		IDPMetadata:                 idpMetadata(issuer, t.Certs),
		AllowIDPInitiated:           t.AllowIdPInitiated,
		RejectSHA1Signatures:        true,
		IgnoreCertificateExpiry:     true,
		Clock:                       dsig.NewFakeClockAt(pre.issueInstant),
		ValidateAudienceRestriction: audienceCheck(t.Audiences),
	}
	a, err := sp.ParseXMLResponse(doc, t.RequestIDs, current)
	if err != nil {
		return nil, fromCrewjam(err)
	}

	r, err := fromAssertion(a, clean)
	if err != nil {
		return nil, verifyErr(ErrMalformed, printable(err.Error()), err)
	}
	until, err := checkTimes(a, now, skew, maxAge)
	if err != nil {
		return nil, err
	}
	if t.Replay != nil {
		if err := t.Replay.Consume(a.ID, until); err != nil {
			if errors.Is(err, ErrReplay) || errors.Is(err, crewsaml.ErrAssertionReplayed) {
				return nil, verifyErr(ErrReplay, "this assertion was already used; log in again", err)
			}
			return nil, verifyErr(ErrReplayCheck, "could not record the assertion as used", err)
		}
	}
	return r, nil
}

// check refuses an unusable Trust.
func (t *Trust) check() error {
	bad := func(detail string) error { return verifyErr(ErrVerifyConfig, detail, nil) }
	switch {
	case len(t.Certs) == 0:
		return bad("no IdP signing certificate")
	case t.Issuer == "" && !t.AnyIssuer:
		return bad("no IdP entity ID (Issuer); set AnyIssuer to trust the certificates alone")
	case len(t.Audiences) == 0 || slices.Contains(t.Audiences, ""):
		return bad("no audience (or an empty one)")
	case len(t.Recipients) == 0:
		return bad("no recipient (ACS URL)")
	}
	for _, c := range t.Certs {
		if c == nil {
			return bad("nil certificate")
		}
	}
	urls := slices.Clone(t.Recipients)
	if t.Destination != "" {
		urls = append(urls, t.Destination)
	}
	for _, r := range urls {
		u, err := url.Parse(r)
		if err != nil || u.String() != r || u.Scheme == "" || u.Host == "" {
			return bad(fmt.Sprintf("%q is not an absolute URL in canonical form", trimDetail(r)))
		}
	}
	return nil
}

// precheck is what Verify reads before crewjam verifies anything: only to
// refuse early and to choose the clock and ACS URL given to crewjam, never
// as a result.
type preread struct {
	issueInstant time.Time
	issuer       string
	recipients   []string
}

func precheck(doc []byte) (*preread, error) {
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		return nil, verifyErr(ErrMalformed, "not XML", saml.NewParseError(saml.ErrNotXML, trimDetail(err.Error()), err))
	}
	root := d.Root()
	if root == nil {
		return nil, verifyErr(ErrMalformed, "not XML (no root element)", saml.NewParseError(saml.ErrNotXML, "no root element", nil))
	}
	if root.Tag != "Response" || root.NamespaceURI() != saml.NSProtocol {
		what := "root element is <" + printable(trimDetail(root.Tag)) + ">"
		return nil, verifyErr(ErrMalformed, what+", want a SAML 2.0 samlp:Response", saml.NewParseError(saml.ErrNoAssertion, what, nil))
	}
	var asserts []*etree.Element
	for _, c := range root.ChildElements() {
		if c.NamespaceURI() != saml.NSAssertion {
			continue
		}
		switch c.Tag {
		case "Assertion":
			asserts = append(asserts, c)
		case "EncryptedAssertion":
			return nil, verifyErr(ErrMalformed, "the assertion is encrypted; configure the IdP to sign, not encrypt, it",
				saml.NewParseError(saml.ErrEncryptedAssertion, "", nil))
		}
	}
	switch len(asserts) {
	case 0:
		if st := root.FindElement("./Status/StatusCode"); st != nil {
			if v := st.SelectAttrValue("Value", ""); v != saml.StatusSuccess {
				return nil, verifyErr(ErrStatus, "the IdP answered "+trimDetail(statusName(v)), nil)
			}
		}
		return nil, verifyErr(ErrMalformed, "the response carries no Assertion", saml.NewParseError(saml.ErrNoAssertion, "", nil))
	case 1:
	default:
		return nil, verifyErr(ErrMalformed, fmt.Sprintf("the response carries %d assertions, want 1", len(asserts)),
			saml.NewParseError(saml.ErrMultipleAssertions, fmt.Sprintf("found %d", len(asserts)), nil))
	}
	a := asserts[0]
	if !hasSignature(root) && !hasSignature(a) {
		return nil, verifyErr(ErrSignature, "neither the Response nor the Assertion is signed", nil)
	}
	p := &preread{}
	if v := a.SelectAttrValue("IssueInstant", ""); v != "" {
		p.issueInstant, _ = time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	}
	if iss := a.SelectElement("Issuer"); iss != nil {
		p.issuer = strings.TrimSpace(iss.Text())
	}
	for _, scd := range a.FindElements("./Subject/SubjectConfirmation/SubjectConfirmationData") {
		p.recipients = append(p.recipients, scd.SelectAttrValue("Recipient", ""))
	}
	return p, nil
}

func hasSignature(el *etree.Element) bool {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace {
			return true
		}
	}
	return false
}

// idpMetadata is the minimal IdP metadata crewjam reads: the entity ID and
// the signing certificates.
func idpMetadata(entityID string, certs []*x509.Certificate) *crewsaml.EntityDescriptor {
	kd := crewsaml.KeyDescriptor{Use: "signing"}
	for _, c := range certs {
		kd.KeyInfo.X509Data.X509Certificates = append(kd.KeyInfo.X509Data.X509Certificates,
			crewsaml.X509Certificate{Data: base64.StdEncoding.EncodeToString(c.Raw)})
	}
	var idp crewsaml.IDPSSODescriptor
	idp.KeyDescriptors = []crewsaml.KeyDescriptor{kd}
	return &crewsaml.EntityDescriptor{EntityID: entityID, IDPSSODescriptors: []crewsaml.IDPSSODescriptor{idp}}
}

// audienceCheck is crewjam's rule (every AudienceRestriction satisfied, at
// least one present) with several acceptable audiences.
func audienceCheck(audiences []string) func(*crewsaml.Assertion) error {
	return func(a *crewsaml.Assertion) error {
		if a.Conditions == nil || len(a.Conditions.AudienceRestrictions) == 0 {
			return errors.New("no AudienceRestriction")
		}
		for i := range a.Conditions.AudienceRestrictions {
			ok := false
			for _, au := range a.Conditions.AudienceRestrictions[i].AllAudiences() {
				if slices.Contains(audiences, strings.TrimSpace(au.Value)) {
					ok = true
					break
				}
			}
			if !ok {
				return errors.New("an AudienceRestriction names none of the trusted audiences")
			}
		}
		return nil
	}
}

// fromCrewjam maps crewjam's error to a *VerifyError. crewjam's
// InvalidResponseError holds the whole document, so only its cause is
// kept; crewjam's message is not shown (it may quote values from the
// document), except trimmed for malformed input.
func fromCrewjam(err error) *VerifyError {
	var ire *crewsaml.InvalidResponseError
	if errors.As(err, &ire) {
		err = ire.PrivateErr
	}
	var status crewsaml.ErrBadStatus
	switch {
	case err == nil:
		return verifyErr(ErrSignature, "refused", nil)
	case errors.Is(err, crewsaml.ErrInvalidSignature) || errors.Is(err, crewsaml.ErrUntrustedCertificate) ||
		errors.Is(err, crewsaml.ErrInvalidCertificate):
		detail := "no valid signature by a trusted IdP certificate covers the assertion"
		if errors.Is(err, crewsaml.ErrUnsupported) && strings.Contains(err.Error(), "SHA-1") {
			detail = "signed with SHA-1, which is refused; configure the IdP to sign with RSA-SHA256"
		} else if errors.Is(err, crewsaml.ErrUntrustedCertificate) {
			detail = "signed by a certificate that is not the trusted IdP's; update the IdP metadata or certificate"
		}
		return verifyErr(ErrSignature, detail, err)
	case err.Error() == "signature element not present":
		return verifyErr(ErrSignature, "the assertion is not signed", err)
	case errors.Is(err, crewsaml.ErrIssuerMismatch):
		return verifyErr(ErrIssuer, "the issuer is not the trusted IdP's entity ID", err)
	case errors.Is(err, crewsaml.ErrAudienceMismatch):
		return verifyErr(ErrAudience, "the assertion is not for this audience", err)
	case errors.Is(err, crewsaml.ErrDestinationMismatch):
		// crewjam uses one kind for both checks; its message starts by
		// naming which (a prefix the document cannot influence).
		if strings.HasPrefix(err.Error(), "`Destination`") {
			return verifyErr(ErrDestination, "the Response Destination is not where it was received", err)
		}
		return verifyErr(ErrRecipient, "the SubjectConfirmationData Recipient is not a trusted ACS URL", err)
	case errors.Is(err, crewsaml.ErrRequestIDMismatch):
		return verifyErr(ErrRequestID, "InResponseTo names no pending request (or is missing)", err)
	case errors.As(err, &status):
		return verifyErr(ErrStatus, "the IdP answered "+trimDetail(statusName(status.Status)), err)
	case errors.Is(err, crewsaml.ErrExpired):
		return verifyErr(ErrExpired, "the response is too old", err)
	case errors.Is(err, crewsaml.ErrNotYetValid):
		return verifyErr(ErrNotYetValid, "the response is dated in the future", err)
	}
	return verifyErr(ErrMalformed, printable(trimDetail(err.Error())), err)
}

// printable drops control and other non-printable characters.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return -1
		}
		return r
	}, s)
}

// fromAssertion is the Response of a verified assertion.
func fromAssertion(a *crewsaml.Assertion, clean string) (*saml.Response, error) {
	r := &saml.Response{
		Issuer:       strings.TrimSpace(a.Issuer.Value),
		ID:           a.ID,
		IssueInstant: a.IssueInstant.UTC(),
		Raw:          clean,
	}
	if s := a.Subject; s != nil {
		if s.NameID != nil {
			r.NameID, r.NameIDFormat = strings.TrimSpace(s.NameID.Value), strings.TrimSpace(s.NameID.Format)
		}
		for i, sc := range s.SubjectConfirmations {
			if d := sc.SubjectConfirmationData; d != nil {
				r.KeepEarliest(d.NotOnOrAfter.UTC())
				if i == 0 {
					r.Recipient, r.InResponseTo = d.Recipient, d.InResponseTo
				}
			}
		}
	}
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() {
			r.NotBefore = c.NotBefore.UTC()
		}
		r.KeepEarliest(c.NotOnOrAfter.UTC())
		for i := range c.AudienceRestrictions {
			for _, au := range c.AudienceRestrictions[i].AllAudiences() {
				if v := strings.TrimSpace(au.Value); v != "" {
					r.Audiences = append(r.Audiences, v)
				}
			}
		}
	}
	for _, st := range a.AttributeStatements {
		for _, at := range st.Attributes {
			values := make([]string, len(at.Values))
			for i, v := range at.Values {
				values[i] = v.Value
			}
			if err := r.AddAttribute(at.Name, values); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// checkTimes checks the verified assertion's time limits at now and
// returns until when it stays acceptable (for the replay cache).
func checkTimes(a *crewsaml.Assertion, now time.Time, skew, maxAge time.Duration) (time.Time, error) {
	stamp := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	if a.IssueInstant.IsZero() {
		return time.Time{}, verifyErr(ErrMalformed, "the assertion has no IssueInstant", nil)
	}
	until := a.IssueInstant.Add(maxAge)
	if now.After(until) {
		return time.Time{}, verifyErr(ErrExpired, fmt.Sprintf("issued at %s, more than %s ago; log in again", stamp(a.IssueInstant), maxAge), nil)
	}
	if a.IssueInstant.Add(-skew).After(now) {
		return time.Time{}, verifyErr(ErrNotYetValid, fmt.Sprintf("issued at %s, in the future; check the clocks", stamp(a.IssueInstant)), nil)
	}
	notBefore := func(what string, t time.Time) error {
		if !t.IsZero() && t.Add(-skew).After(now) {
			return verifyErr(ErrNotYetValid, fmt.Sprintf("%s NotBefore is %s; check the clocks", what, stamp(t)), nil)
		}
		return nil
	}
	notOnOrAfter := func(what string, t time.Time) error {
		if t.IsZero() {
			return nil
		}
		end := t.Add(skew)
		if !now.Before(end) {
			return verifyErr(ErrExpired, fmt.Sprintf("%s NotOnOrAfter was %s; log in again", what, stamp(t)), nil)
		}
		if end.Before(until) {
			until = end
		}
		return nil
	}
	if c := a.Conditions; c != nil {
		if err := notBefore("Conditions", c.NotBefore); err != nil {
			return time.Time{}, err
		}
		if err := notOnOrAfter("Conditions", c.NotOnOrAfter); err != nil {
			return time.Time{}, err
		}
	}
	if a.Subject != nil {
		for _, sc := range a.Subject.SubjectConfirmations {
			d := sc.SubjectConfirmationData
			if d == nil {
				continue
			}
			if err := notBefore("SubjectConfirmationData", d.NotBefore); err != nil {
				return time.Time{}, err
			}
			if d.NotOnOrAfter.IsZero() {
				return time.Time{}, verifyErr(ErrExpired, "a SubjectConfirmationData has no NotOnOrAfter", nil)
			}
			if err := notOnOrAfter("SubjectConfirmationData", d.NotOnOrAfter); err != nil {
				return time.Time{}, err
			}
		}
	}
	return until, nil
}

// ParseIdP reads an IdP's entity ID and signing certificates from SAML
// metadata XML (the first EntityDescriptor's entityID; every
// IDPSSODescriptor KeyDescriptor not marked use="encryption"), from PEM
// certificates, or from one DER certificate (the last two have no entity
// ID: entityID is empty).
func ParseIdP(b []byte) (entityID string, certs []*x509.Certificate, err error) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case bytes.Contains(trimmed, []byte("-----BEGIN")):
		for rest := trimmed; ; {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return "", nil, fmt.Errorf("parse pem certificate: %w", err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return "", nil, errors.New("no CERTIFICATE block in the pem input")
		}
		return "", certs, nil
	case bytes.HasPrefix(trimmed, []byte("<")):
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(trimmed); err != nil {
			return "", nil, fmt.Errorf("parse idp metadata: %w", err)
		}
		ed := doc.FindElement("//EntityDescriptor")
		if ed == nil {
			return "", nil, errors.New("idp metadata has no EntityDescriptor")
		}
		entityID = strings.TrimSpace(ed.SelectAttrValue("entityID", ""))
		for _, kd := range ed.FindElements("./IDPSSODescriptor/KeyDescriptor") {
			if kd.SelectAttrValue("use", "signing") == "encryption" {
				continue
			}
			for _, xc := range kd.FindElements(".//X509Certificate") {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
				if err != nil {
					return "", nil, fmt.Errorf("idp metadata certificate is not base64: %w", err)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return "", nil, fmt.Errorf("parse idp metadata certificate: %w", err)
				}
				certs = append(certs, c)
			}
		}
		if len(certs) == 0 {
			return "", nil, errors.New("idp metadata has no signing certificate (IDPSSODescriptor/KeyDescriptor/X509Certificate)")
		}
		if entityID == "" {
			return "", nil, errors.New("idp metadata EntityDescriptor has no entityID")
		}
		return entityID, certs, nil
	default:
		c, err := x509.ParseCertificate(trimmed)
		if err != nil {
			return "", nil, fmt.Errorf("not metadata xml, pem or a der certificate: %w", err)
		}
		return "", []*x509.Certificate{c}, nil
	}
}

// statusName is the last part of a status URI.
func statusName(uri string) string {
	return uri[strings.LastIndex(uri, ":")+1:]
}

// trimDetail is s on one line, at most 120 bytes, valid UTF-8.
func trimDetail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}

// b64Space removes the whitespace base64 encoders put in long lines.
var b64Space = strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "")
