package stsfake

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/samlverify"
)

// SAML names AWS sign-in uses.
const (
	SAMLAudience      = "urn:amazon:webservices"
	SAMLRecipient     = "https://signin.aws.amazon.com/saml"
	nameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	maxAssertionChars = 100000
	// samlMaxAge is AWS's "Token must be redeemed within 5 minutes of
	// issuance".
	samlMaxAge = 5 * time.Minute
)

// SAMLAudiences are the audiences AWS sign-in accepts in an
// AudienceRestriction: its entity ID in each partition, and the sign-in
// URL some IdPs put there.
var SAMLAudiences = []string{
	SAMLAudience, "urn:amazon:webservices:govcloud", "urn:amazon:webservices:cn-north-1",
	SAMLRecipient,
}

// SAMLRecipients are AWS's SAML sign-in endpoints (one per partition): the
// SubjectConfirmationData Recipient, and the Response Destination, must
// name one.
var SAMLRecipients = []string{
	SAMLRecipient, "https://signin.amazonaws-us-gov.com/saml", "https://signin.amazonaws.cn/saml",
}

var (
	rePrincipalARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:saml-provider/[\w+=,.@-]{1,128}$`)
	reSessionClaim = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

type trustedIdP struct {
	entityID string // empty when trusted by certificate only
	certs    []*x509.Certificate
}

// TrustIdP registers an IAM SAML identity provider as principalARN
// (arn:aws:iam::ACCOUNT:saml-provider/NAME) and trusts the signing
// certificates in idp: SAML metadata XML (its entityID must then be the
// assertions' Issuer, as on AWS; every KeyDescriptor that is not
// use="encryption"), PEM certificates, or one DER certificate (any Issuer
// signed by them). Calling it again for the same ARN replaces the trust,
// as updating the provider's metadata does on AWS. AssumeRoleWithSAML is
// served from the first call on.
func (s *Server) TrustIdP(principalARN string, idp []byte) error {
	if !rePrincipalARN.MatchString(principalARN) {
		return fmt.Errorf("stsfake: principal %q is not a saml-provider ARN (arn:aws:iam::123456789012:saml-provider/NAME)", principalARN)
	}
	entityID, certs, err := samlverify.ParseIdP(idp)
	if err != nil {
		return fmt.Errorf("stsfake: trust idp %s: %w", principalARN, err)
	}
	st := s.samlState()
	st.mu.Lock()
	st.idps[principalARN] = &trustedIdP{entityID: entityID, certs: certs}
	st.mu.Unlock()
	s.Handle("AssumeRoleWithSAML", s.assumeRoleWithSAML)
	return nil
}

// trust is what AssumeRoleWithSAML verifies an assertion for this IdP
// against: AWS's audiences and sign-in endpoints, IdP-initiated (AWS sends
// no AuthnRequest), 5 minutes from issuance, the input size AWS accepts.
func (idp *trustedIdP) trust() samlverify.Trust {
	return samlverify.Trust{
		Issuer: idp.entityID, AnyIssuer: idp.entityID == "", Certs: idp.certs,
		Audiences: SAMLAudiences, Recipients: SAMLRecipients,
		AllowIdPInitiated: true, MaxAge: samlMaxAge, MaxSize: maxAssertionChars,
	}
}

type assumeRoleWithSAMLResponse struct {
	XMLName          xml.Name                 `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleWithSAMLResponse"`
	Result           assumeRoleWithSAMLResult `xml:"AssumeRoleWithSAMLResult"`
	ResponseMetadata ResponseMetadata         `xml:"ResponseMetadata"`
}

type assumeRoleWithSAMLResult struct {
	Issuer           string          `xml:"Issuer"`
	AssumedRoleUser  AssumedRoleUser `xml:"AssumedRoleUser"`
	Credentials      Credentials     `xml:"Credentials"`
	Audience         string          `xml:"Audience"`
	SubjectType      string          `xml:"SubjectType"`
	PackedPolicySize *int            `xml:"PackedPolicySize,omitempty"`
	NameQualifier    string          `xml:"NameQualifier"`
	SourceIdentity   string          `xml:"SourceIdentity,omitempty"`
	Subject          string          `xml:"Subject"`
}

const (
	msgSignature = "Response signature invalid"
	msgExpired   = "Token must be redeemed within 5 minutes of issuance"
	msgNotAuth   = "Not authorized to perform sts:AssumeRoleWithSAML"
)

func invalidToken(w http.ResponseWriter, msg string) {
	WriteError(w, http.StatusBadRequest, "InvalidIdentityToken", msg)
}

// refuseAssertion answers a *samlverify.VerifyError as AWS answers that fault.
func refuseAssertion(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, samlverify.ErrExpired):
		WriteError(w, http.StatusBadRequest, "ExpiredTokenException", msgExpired)
	case errors.Is(err, saml.ErrNotBase64):
		invalidToken(w, "Invalid base64 SAMLResponse")
	case errors.Is(err, saml.ErrBadRoleValue) || errors.Is(err, saml.ErrNotARN) || errors.Is(err, saml.ErrBadValue):
		// A signed claim AWS cannot read.
		WriteError(w, http.StatusForbidden, "IDPRejectedClaim", "Invalid SAML assertion claim: "+err.Error())
	case errors.Is(err, samlverify.ErrAudience):
		invalidToken(w, "Invalid audience: the assertion is not for "+SAMLAudience)
	case errors.Is(err, samlverify.ErrRecipient):
		invalidToken(w, "Invalid SubjectConfirmationData Recipient: the assertion is not for "+SAMLRecipient)
	case errors.Is(err, samlverify.ErrDestination):
		invalidToken(w, "Invalid Destination: the response is not for "+SAMLRecipient)
	case errors.Is(err, samlverify.ErrNotYetValid):
		invalidToken(w, "Assertion is not yet valid (NotBefore or IssueInstant is in the future)")
	case errors.Is(err, samlverify.ErrIssuer):
		invalidToken(w, "Issuer of the SAML response does not match the metadata of the identity provider")
	default:
		invalidToken(w, msgSignature)
	}
}

// assumeRoleWithSAML implements sts:AssumeRoleWithSAML with the checks AWS
// makes: parameters; the assertion through samlverify.Verify (crewjam/saml: the
// XML signature on the Response or Assertion against the principal's
// trusted certificates, SHA-1 refused, issuer, audience, recipient,
// destination, validity window, one assertion); then the role/principal
// pair among the Role values, RoleSessionName and DurationSeconds against
// SessionDuration and the role's maximum.
func (s *Server) assumeRoleWithSAML(w http.ResponseWriter, r *http.Request, form url.Values) {
	roleARN, principalARN, assertion := form.Get("RoleArn"), form.Get("PrincipalArn"), form.Get("SAMLAssertion")
	if !requireLength(w, roleARN, "roleArn", 20, 0) || !requireLength(w, principalARN, "principalArn", 20, 0) {
		return
	}
	switch {
	case assertion == "":
		validationError(w, constraint("", "SAMLAssertion", "Member must not be null"))
		return
	case len(assertion) < 4:
		validationError(w, "1 validation error detected: Value at 'SAMLAssertion' failed to satisfy constraint: Member must have length greater than or equal to 4")
		return
	case len(assertion) > maxAssertionChars:
		validationError(w, "1 validation error detected: Value at 'SAMLAssertion' failed to satisfy constraint: Member must have length less than or equal to 100000")
		return
	}
	d, haveD, ok := durationSeconds(w, form)
	if !ok {
		return
	}
	policy := form.Get("Policy")
	if !checkPolicy(w, policy) {
		return
	}
	if !reRoleARN.MatchString(roleARN) {
		validationError(w, roleARN+" is invalid")
		return
	}
	if !rePrincipalARN.MatchString(principalARN) {
		validationError(w, principalARN+" is invalid")
		return
	}

	st := s.samlState()
	st.mu.Lock()
	idp := st.idps[principalARN]
	st.mu.Unlock()
	if idp == nil {
		invalidToken(w, "Specified provider doesn't exist.")
		return
	}
	c, err := samlverify.Verify(assertion, idp.trust(), s.now())
	if err != nil {
		refuseAssertion(w, err)
		return
	}
	if c.SessionDuration != 0 && (c.SessionDuration < 900*time.Second || c.SessionDuration > 43200*time.Second) {
		WriteError(w, http.StatusForbidden, "IDPRejectedClaim", fmt.Sprintf("SessionDuration %d must be 900 to 43200 seconds", c.SessionDuration/time.Second))
		return
	}

	granted := false
	for _, p := range c.Roles {
		if p.RoleARN == roleARN && p.PrincipalARN == principalARN {
			granted = true
			break
		}
	}
	s.mu.Lock()
	denied := s.denied[roleARN]
	rs := s.roles[roleARN]
	s.mu.Unlock()
	if !granted || denied {
		WriteError(w, http.StatusForbidden, "AccessDenied", msgNotAuth)
		return
	}
	if c.RoleSessionName == "" {
		invalidToken(w, "RoleSessionName is required in AuthnResponse")
		return
	}
	if !reSessionClaim.MatchString(c.RoleSessionName) {
		WriteError(w, http.StatusForbidden, "IDPRejectedClaim", `RoleSessionName in AuthnResponse must be 2-64 characters of [\w+=,.@-]`)
		return
	}
	if c.SessionDuration != 0 {
		if haveD && d > c.SessionDuration {
			validationError(w, "The requested DurationSeconds exceeds the SessionDuration set in the SAML assertion.")
			return
		}
		if !haveD && d > c.SessionDuration {
			d = c.SessionDuration
		}
	}
	maxD := rs.MaxSessionDuration
	if maxD == 0 {
		maxD = 12 * time.Hour
	}
	if d > maxD {
		validationError(w, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		return
	}

	is, err := s.mint(r.Context(), MintRequest{RoleARN: roleARN, SessionName: c.RoleSessionName, Duration: d, Policy: policy})
	if err != nil {
		mintFailed(w)
		return
	}
	if c.SourceIdentity != "" {
		s.mu.Lock()
		s.issued[is.AccessKeyID].SourceIdentity = c.SourceIdentity
		s.mu.Unlock()
	}
	res := assumeRoleWithSAMLResult{
		Issuer:          c.Issuer,
		AssumedRoleUser: is.AssumedRole,
		Credentials:     is.Credentials,
		Audience:        c.Recipient, // AWS: the Recipient of the SubjectConfirmationData
		SubjectType:     subjectType(c.NameIDFormat),
		NameQualifier:   nameQualifier(c.Issuer, principalARN),
		SourceIdentity:  c.SourceIdentity,
		Subject:         c.NameID,
	}
	if packed := packedSize(form); packed > 0 {
		res.PackedPolicySize = &packed
	}
	WriteXML(w, assumeRoleWithSAMLResponse{Result: res, ResponseMetadata: NewResponseMetadata()})
}

// subjectType is AWS's SubjectType: "persistent" or "transient" for those
// NameID formats, else the format URI.
func subjectType(format string) string {
	switch format {
	case nameIDPersistent:
		return "persistent"
	case nameIDTransient:
		return "transient"
	case "":
		return "unspecified"
	}
	return format
}

// nameQualifier is AWS's NameQualifier: base64 of the SHA-1 of the Issuer,
// the account ID and "/" plus the SAML provider's name.
func nameQualifier(issuer, principalARN string) string {
	account, name := "", principalARN
	if p := strings.SplitN(principalARN, ":", 6); len(p) == 6 {
		account, name = p[4], strings.TrimPrefix(p[5], "saml-provider/")
	}
	sum := sha1.Sum([]byte(issuer + account + "/" + name))
	return base64.StdEncoding.EncodeToString(sum[:])
}
