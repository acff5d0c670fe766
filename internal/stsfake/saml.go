package stsfake

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// SAML names AWS sign-in uses.
const (
	SAMLAudience      = "urn:amazon:webservices"
	SAMLRecipient     = "https://signin.aws.amazon.com/saml"
	attrRole          = "https://aws.amazon.com/SAML/Attributes/Role"
	attrSessionName   = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	attrSessionDur    = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	attrSourceID      = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
	nsAssertion       = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol        = "urn:oasis:names:tc:SAML:2.0:protocol"
	nameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	maxAssertionChars = 100000
	samlClockSkew     = 5 * time.Minute
)

var (
	rePrincipalARN = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:saml-provider/[\w+=,.@-]{1,128}$`)
	reSessionClaim = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

type trustedIdP struct {
	certs []*x509.Certificate
}

// TrustIdP registers an IAM SAML identity provider as principalARN
// (arn:aws:iam::ACCOUNT:saml-provider/NAME) and trusts the signing
// certificates in idp: SAML metadata XML (every KeyDescriptor that is not
// use="encryption"), PEM certificates, or one DER certificate. Calling it
// again for the same ARN replaces the certificates, as updating the
// provider's metadata does on AWS. AssumeRoleWithSAML is served from the
// first call on.
func (s *Server) TrustIdP(principalARN string, idp []byte) error {
	if !rePrincipalARN.MatchString(principalARN) {
		return fmt.Errorf("stsfake: principal %q is not a saml-provider ARN (arn:aws:iam::123456789012:saml-provider/NAME)", principalARN)
	}
	certs, err := parseIdPCerts(idp)
	if err != nil {
		return fmt.Errorf("stsfake: trust idp %s: %w", principalARN, err)
	}
	st := s.samlState()
	st.mu.Lock()
	st.idps[principalARN] = &trustedIdP{certs: certs}
	st.mu.Unlock()
	s.Handle("AssumeRoleWithSAML", s.assumeRoleWithSAML)
	return nil
}

// parseIdPCerts reads signing certificates from metadata, PEM or DER.
func parseIdPCerts(b []byte) ([]*x509.Certificate, error) {
	trimmed := bytes.TrimSpace(b)
	switch {
	case bytes.Contains(trimmed, []byte("-----BEGIN")):
		var certs []*x509.Certificate
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
				return nil, fmt.Errorf("parse pem certificate: %w", err)
			}
			certs = append(certs, c)
		}
		if len(certs) == 0 {
			return nil, errors.New("no CERTIFICATE block in the pem input")
		}
		return certs, nil
	case bytes.HasPrefix(trimmed, []byte("<")):
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(trimmed); err != nil {
			return nil, fmt.Errorf("parse idp metadata: %w", err)
		}
		var certs []*x509.Certificate
		for _, kd := range doc.FindElements("//IDPSSODescriptor/KeyDescriptor") {
			if kd.SelectAttrValue("use", "signing") == "encryption" {
				continue
			}
			for _, xc := range kd.FindElements(".//X509Certificate") {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Text()), ""))
				if err != nil {
					return nil, fmt.Errorf("idp metadata certificate is not base64: %w", err)
				}
				c, err := x509.ParseCertificate(der)
				if err != nil {
					return nil, fmt.Errorf("parse idp metadata certificate: %w", err)
				}
				certs = append(certs, c)
			}
		}
		if len(certs) == 0 {
			return nil, errors.New("idp metadata has no signing certificate (IDPSSODescriptor/KeyDescriptor/X509Certificate)")
		}
		return certs, nil
	default:
		c, err := x509.ParseCertificate(trimmed)
		if err != nil {
			return nil, fmt.Errorf("not metadata xml, pem or a der certificate: %w", err)
		}
		return []*x509.Certificate{c}, nil
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

// samlClaims is what the verified assertion says.
type samlClaims struct {
	issuer, subject, subjectFormat string
	audiences                      []string
	recipients                     []string
	notBefore, notOnOrAfter        time.Time
	roles                          [][2]string // role ARN, principal ARN
	sessionName                    string
	sessionDuration                time.Duration
	haveDuration                   bool
	sourceIdentity                 string
}

const (
	msgSignature = "Response signature invalid"
	msgExpired   = "Token must be redeemed within 5 minutes of issuance"
	msgNotAuth   = "Not authorized to perform sts:AssumeRoleWithSAML"
)

func invalidToken(w http.ResponseWriter, msg string) {
	WriteError(w, http.StatusBadRequest, "InvalidIdentityToken", msg)
}

// assumeRoleWithSAML implements sts:AssumeRoleWithSAML with the checks AWS
// makes: parameters, the XML signature (Response or Assertion) against the
// principal's trusted certificates, audience, recipient, validity window,
// the role/principal pair among the Role values, RoleSessionName and
// DurationSeconds against SessionDuration and the role's maximum.
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

	raw, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(assertion), ""))
	if err != nil {
		invalidToken(w, "Invalid base64 SAMLResponse")
		return
	}
	el, err := verifiedAssertion(raw, idp.certs)
	if err != nil {
		invalidToken(w, msgSignature)
		return
	}
	c, err := readClaims(el)
	if err != nil {
		WriteError(w, http.StatusForbidden, "IDPRejectedClaim", err.Error())
		return
	}

	now := s.now()
	if !contains(c.audiences, SAMLAudience) {
		invalidToken(w, "Invalid audience: the assertion is not for "+SAMLAudience)
		return
	}
	for _, rcp := range c.recipients {
		if !strings.HasPrefix(rcp, "https://") || !strings.HasSuffix(rcp, "signin.aws.amazon.com/saml") {
			invalidToken(w, "Invalid SubjectConfirmationData Recipient: the assertion is not for "+SAMLRecipient)
			return
		}
	}
	if c.notOnOrAfter.IsZero() || !now.Before(c.notOnOrAfter) {
		WriteError(w, http.StatusBadRequest, "ExpiredTokenException", msgExpired)
		return
	}
	if !c.notBefore.IsZero() && now.Add(samlClockSkew).Before(c.notBefore) {
		invalidToken(w, "Assertion is not yet valid (NotBefore is in the future)")
		return
	}
	granted := false
	for _, p := range c.roles {
		if p[0] == roleARN && p[1] == principalARN {
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
	if c.sessionName == "" {
		invalidToken(w, "RoleSessionName is required in AuthnResponse")
		return
	}
	if !reSessionClaim.MatchString(c.sessionName) {
		WriteError(w, http.StatusForbidden, "IDPRejectedClaim", `RoleSessionName in AuthnResponse must be 2-64 characters of [\w+=,.@-]`)
		return
	}
	if c.haveDuration {
		if haveD && d > c.sessionDuration {
			validationError(w, "The requested DurationSeconds exceeds the SessionDuration set in the SAML assertion.")
			return
		}
		if !haveD && d > c.sessionDuration {
			d = c.sessionDuration
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

	is, err := s.mint(r.Context(), MintRequest{RoleARN: roleARN, SessionName: c.sessionName, Duration: d, Policy: policy})
	if err != nil {
		mintFailed(w)
		return
	}
	if c.sourceIdentity != "" {
		s.mu.Lock()
		s.issued[is.AccessKeyID].SourceIdentity = c.sourceIdentity
		s.mu.Unlock()
	}
	res := assumeRoleWithSAMLResult{
		Issuer:          c.issuer,
		AssumedRoleUser: is.AssumedRole,
		Credentials:     is.Credentials,
		Audience:        SAMLRecipient,
		SubjectType:     subjectType(c.subjectFormat),
		NameQualifier:   nameQualifier(c.issuer, principalARN),
		SourceIdentity:  c.sourceIdentity,
		Subject:         c.subject,
	}
	if len(c.recipients) > 0 {
		res.Audience = c.recipients[0]
	}
	if packed := packedSize(form); packed > 0 {
		res.PackedPolicySize = &packed
	}
	WriteXML(w, assumeRoleWithSAMLResponse{Result: res, ResponseMetadata: NewResponseMetadata()})
}

// verifiedAssertion returns the Assertion covered by a valid signature from
// one of certs: the Response's (then its one Assertion) or the Assertion's
// own. Only the element goxmldsig returns as verified is read afterwards, so
// content outside the signed part (XML signature wrapping) is never seen.
func verifiedAssertion(raw []byte, certs []*x509.Certificate) (*etree.Element, error) {
	if err := xrv.Validate(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("xml does not round-trip: %w", err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, err
	}
	root := doc.Root()
	if root == nil {
		return nil, errors.New("empty document")
	}
	switch {
	case root.Tag == "Assertion" && root.NamespaceURI() == nsAssertion:
		return verify(root, certs)
	case root.Tag == "Response" && root.NamespaceURI() == nsProtocol:
	default:
		return nil, errors.New("root is neither a samlp:Response nor a saml:Assertion")
	}
	if hasSignature(root) {
		resp, err := verify(root, certs)
		if err != nil {
			return nil, err
		}
		return oneAssertion(resp)
	}
	a, err := oneAssertion(root)
	if err != nil {
		return nil, err
	}
	return verify(a, certs)
}

func hasSignature(el *etree.Element) bool {
	for _, c := range el.ChildElements() {
		if c.Tag == "Signature" && c.NamespaceURI() == dsig.Namespace {
			return true
		}
	}
	return false
}

func oneAssertion(resp *etree.Element) (*etree.Element, error) {
	var found []*etree.Element
	for _, c := range resp.ChildElements() {
		switch {
		case c.Tag == "Assertion" && c.NamespaceURI() == nsAssertion:
			found = append(found, c)
		case c.Tag == "EncryptedAssertion":
			return nil, errors.New("encrypted assertions are not supported")
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("response holds %d assertions, want 1", len(found))
	}
	return found[0], nil
}

// verify checks el's enveloped signature against each trusted certificate.
// Like AWS, the certificates' own validity period is not enforced.
func verify(el *etree.Element, certs []*x509.Certificate) (*etree.Element, error) {
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	if ctx, err = ctx.SubContext(el); err != nil {
		return nil, err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	var last error = errors.New("no trusted certificate")
	for _, c := range certs {
		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{c}})
		vc.IdAttribute = "ID"
		vc.Clock = dsig.NewFakeClockAt(c.NotBefore.Add(time.Second))
		out, err := vc.Validate(detached)
		if err == nil {
			return out, nil
		}
		last = err
	}
	return nil, last
}

// readClaims reads the verified assertion's claims.
func readClaims(a *etree.Element) (*samlClaims, error) {
	c := &samlClaims{}
	child := func(el *etree.Element, tag string) *etree.Element {
		if el == nil {
			return nil
		}
		for _, ch := range el.ChildElements() {
			if ch.Tag == tag {
				return ch
			}
		}
		return nil
	}
	parseTime := func(el *etree.Element, attr string) (time.Time, error) {
		v := el.SelectAttrValue(attr, "")
		if v == "" {
			return time.Time{}, nil
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return time.Time{}, fmt.Errorf("%s %q is not an xs:dateTime", attr, v)
		}
		return t, nil
	}
	earliest := func(t time.Time) {
		if !t.IsZero() && (c.notOnOrAfter.IsZero() || t.Before(c.notOnOrAfter)) {
			c.notOnOrAfter = t
		}
	}
	if iss := child(a, "Issuer"); iss != nil {
		c.issuer = strings.TrimSpace(iss.Text())
	}
	subj := child(a, "Subject")
	if nid := child(subj, "NameID"); nid != nil {
		c.subject = strings.TrimSpace(nid.Text())
		c.subjectFormat = nid.SelectAttrValue("Format", "")
	}
	if subj != nil {
		for _, sc := range subj.ChildElements() {
			if sc.Tag != "SubjectConfirmation" {
				continue
			}
			if scd := child(sc, "SubjectConfirmationData"); scd != nil {
				t, err := parseTime(scd, "NotOnOrAfter")
				if err != nil {
					return nil, err
				}
				earliest(t)
				if rcp := scd.SelectAttrValue("Recipient", ""); rcp != "" {
					c.recipients = append(c.recipients, rcp)
				}
			}
		}
	}
	if cond := child(a, "Conditions"); cond != nil {
		t, err := parseTime(cond, "NotOnOrAfter")
		if err != nil {
			return nil, err
		}
		earliest(t)
		if c.notBefore, err = parseTime(cond, "NotBefore"); err != nil {
			return nil, err
		}
		for _, ar := range cond.ChildElements() {
			if ar.Tag != "AudienceRestriction" {
				continue
			}
			for _, au := range ar.ChildElements() {
				if au.Tag == "Audience" {
					c.audiences = append(c.audiences, strings.TrimSpace(au.Text()))
				}
			}
		}
	}
	for _, as := range a.ChildElements() {
		if as.Tag != "AttributeStatement" {
			continue
		}
		for _, at := range as.ChildElements() {
			if at.Tag != "Attribute" {
				continue
			}
			var values []string
			for _, v := range at.ChildElements() {
				if v.Tag == "AttributeValue" {
					values = append(values, strings.TrimSpace(v.Text()))
				}
			}
			switch at.SelectAttrValue("Name", "") {
			case attrRole:
				for _, v := range values {
					role, principal, ok := splitRoleValue(v)
					if !ok {
						return nil, fmt.Errorf("invalid Role attribute value %q: want a role ARN and a saml-provider ARN separated by a comma", v)
					}
					c.roles = append(c.roles, [2]string{role, principal})
				}
			case attrSessionName:
				if len(values) > 0 {
					c.sessionName = values[0]
				}
			case attrSourceID:
				if len(values) > 0 {
					c.sourceIdentity = values[0]
				}
			case attrSessionDur:
				if len(values) > 0 {
					n, err := strconv.Atoi(values[0])
					if err != nil || n < 900 || n > 43200 {
						return nil, fmt.Errorf("SessionDuration %q must be 900 to 43200 seconds", values[0])
					}
					c.sessionDuration, c.haveDuration = time.Duration(n)*time.Second, true
				}
			}
		}
	}
	return c, nil
}

// splitRoleValue reads "role,principal" or "principal,role".
func splitRoleValue(v string) (role, principal string, ok bool) {
	a, b, found := strings.Cut(v, ",")
	if !found {
		return "", "", false
	}
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if rePrincipalARN.MatchString(a) {
		a, b = b, a
	}
	if !reRoleARN.MatchString(a) || !rePrincipalARN.MatchString(b) {
		return "", "", false
	}
	return a, b, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
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
