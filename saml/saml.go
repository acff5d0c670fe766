// Package saml reads a base64 SAMLResponse as an IdP hands it to AWS
// sign-in: the AWS Role values (role and principal ARNs, in either order),
// RoleSessionName, SessionDuration, SourceIdentity, NameID, Issuer,
// audiences, every other attribute and the assertion's validity window.
//
// Two ways in, one result type:
//
//   - Parse does no network I/O and does NOT check signatures. The CLI uses
//     it on an assertion it is about to hand to AWS STS, which checks it:
//     to pick a role and to know when the assertion expires, never to
//     decide whom to trust.
//   - Verify is for whoever must trust the assertion itself: the broker
//     (an SP) and the test STS. It returns the same *Response, but only
//     after github.com/crewjam/saml checked the XML signature against the
//     IdP's certificates (SHA-1 refused), the issuer, audience, recipient,
//     destination, InResponseTo and the validity window. See verify.go for
//     what rolehop adds to crewjam and why.
package saml

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/arn"
)

// Attribute names AWS sign-in reads.
const (
	AttrRole            = "https://aws.amazon.com/SAML/Attributes/Role"
	AttrRoleSessionName = "https://aws.amazon.com/SAML/Attributes/RoleSessionName"
	AttrSessionDuration = "https://aws.amazon.com/SAML/Attributes/SessionDuration"
	AttrSourceIdentity  = "https://aws.amazon.com/SAML/Attributes/SourceIdentity"
)

// SAML 2.0 names.
const (
	NSAssertion   = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSProtocol    = "urn:oasis:names:tc:SAML:2.0:protocol"
	StatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"
)

// Response is what Parse reads from a SAMLResponse, and what Verify
// returns once crewjam/saml verified it.
type Response struct {
	Issuer          string        // the Assertion's Issuer (the Response's if absent)
	NameID          string        // Subject NameID
	NameIDFormat    string        // its Format attribute
	Roles           []Role        // every AWS Role value, in document order
	RoleSessionName string        // the RoleSessionName attribute, if any
	SessionDuration time.Duration // the SessionDuration attribute; 0 if absent
	// NotOnOrAfter is the earliest of the Conditions and every
	// SubjectConfirmationData NotOnOrAfter; zero if none is given.
	NotOnOrAfter time.Time
	NotBefore    time.Time // Conditions NotBefore; zero if absent
	Audiences    []string  // AudienceRestriction/Audience values
	// SourceIdentity is the AWS SourceIdentity attribute, if any.
	SourceIdentity string
	// ID and IssueInstant are the Assertion's (ID is what a replay cache
	// records).
	ID           string
	IssueInstant time.Time
	// Recipient and InResponseTo are the first SubjectConfirmationData's.
	Recipient    string
	InResponseTo string
	// Attributes holds every attribute by Name (values trimmed, in document
	// order; a name given twice has its values appended), the AWS ones
	// included: what a broker reads groups or mail from.
	Attributes map[string][]string
	// Raw is the base64 input with whitespace removed: what
	// AssumeRoleWithSAML takes. It is a bearer secret: never log it.
	Raw string
}

// Role is one AWS Role attribute value.
type Role struct {
	RoleARN      string // arn:aws:iam::ACCOUNT:role/NAME
	PrincipalARN string // arn:aws:iam::ACCOUNT:saml-provider/NAME
}

// AccountID is the 12-digit account of the role.
func (r Role) AccountID() string {
	a, err := arn.Parse(r.RoleARN)
	if err != nil {
		return ""
	}
	return a.AccountID
}

// Name is the role's name, without its path.
func (r Role) Name() string {
	a, err := arn.Parse(r.RoleARN)
	if err != nil {
		return ""
	}
	res := strings.TrimPrefix(a.Resource, "role/")
	return res[strings.LastIndex(res, "/")+1:]
}

func (r Role) String() string { return r.RoleARN + "," + r.PrincipalARN }

// Expired reports whether the assertion may no longer be used at now: now is
// at or past NotOnOrAfter. An assertion without NotOnOrAfter never expires
// by this test.
func (r *Response) Expired(now time.Time) bool {
	return !r.NotOnOrAfter.IsZero() && !now.Before(r.NotOnOrAfter)
}

// RolesFor returns the roles in accountID whose name is roleName (role names
// compare case-insensitively, as IAM does; a name with a path such as
// "team/Dev" must match the whole path). An empty accountID or roleName
// matches any.
func (r *Response) RolesFor(accountID, roleName string) []Role {
	var out []Role
	for _, role := range r.Roles {
		if accountID != "" && role.AccountID() != accountID {
			continue
		}
		if roleName != "" && !roleNameMatches(role, roleName) {
			continue
		}
		out = append(out, role)
	}
	return out
}

func roleNameMatches(role Role, name string) bool {
	if strings.Contains(name, "/") {
		a, err := arn.Parse(role.RoleARN)
		if err != nil {
			return false
		}
		return strings.EqualFold(strings.TrimPrefix(a.Resource, "role/"), strings.Trim(name, "/"))
	}
	return strings.EqualFold(role.Name(), name)
}

// String describes the response without the raw assertion.
func (r Response) String() string {
	return fmt.Sprintf("saml response from %q for %q: %d roles, valid until %s",
		r.Issuer, r.NameID, len(r.Roles), r.NotOnOrAfter.Format(time.RFC3339))
}

// LogValue lets slog print a Response without the raw assertion.
func (r Response) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("issuer", r.Issuer),
		slog.String("name_id", r.NameID),
		slog.Int("roles", len(r.Roles)),
		slog.Time("not_on_or_after", r.NotOnOrAfter),
	)
}

// XML shapes. Only what AWS sign-in reads is declared; encoding/xml ignores
// the rest (signatures included).
type xmlResponse struct {
	XMLName    xml.Name
	Issuer     string         `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	Status     xmlStatus      `xml:"urn:oasis:names:tc:SAML:2.0:protocol Status"`
	Assertions []xmlAssertion `xml:"urn:oasis:names:tc:SAML:2.0:assertion Assertion"`
	Encrypted  []struct{}     `xml:"urn:oasis:names:tc:SAML:2.0:assertion EncryptedAssertion"`
}

type xmlStatus struct {
	Code struct {
		Value string `xml:"Value,attr"`
		Sub   struct {
			Value string `xml:"Value,attr"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusCode"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusCode"`
	Message string `xml:"urn:oasis:names:tc:SAML:2.0:protocol StatusMessage"`
}

type xmlAssertion struct {
	ID           string `xml:"ID,attr"`
	IssueInstant string `xml:"IssueInstant,attr"`
	Issuer       string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	Subject      struct {
		NameID struct {
			Format string `xml:"Format,attr"`
			Value  string `xml:",chardata"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion NameID"`
		Confirmations []struct {
			Data struct {
				NotOnOrAfter string `xml:"NotOnOrAfter,attr"`
				Recipient    string `xml:"Recipient,attr"`
				InResponseTo string `xml:"InResponseTo,attr"`
			} `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmationData"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion SubjectConfirmation"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Subject"`
	Conditions struct {
		NotBefore    string `xml:"NotBefore,attr"`
		NotOnOrAfter string `xml:"NotOnOrAfter,attr"`
		Restrictions []struct {
			Audiences []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion Audience"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion AudienceRestriction"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Conditions"`
	Statements []struct {
		Attributes []struct {
			Name   string   `xml:"Name,attr"`
			Values []string `xml:"urn:oasis:names:tc:SAML:2.0:assertion AttributeValue"`
		} `xml:"urn:oasis:names:tc:SAML:2.0:assertion Attribute"`
	} `xml:"urn:oasis:names:tc:SAML:2.0:assertion AttributeStatement"`
}

var b64Space = strings.NewReplacer(" ", "", "\t", "", "\r", "", "\n", "")

// Parse decodes a base64 SAMLResponse (standard alphabet; whitespace and
// line breaks are ignored, padding may be missing) and reads its assertion.
// A document whose root is an Assertion is accepted too. Malformed input
// gives a *ParseError whose Kind says what was wrong.
func Parse(b64 string) (*Response, error) {
	clean := b64Space.Replace(b64)
	if clean == "" {
		return nil, parseErr(ErrNotBase64, "input is empty", nil)
	}
	raw, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		var err2 error
		raw, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
		if err2 != nil {
			return nil, parseErr(ErrNotBase64, "decoding failed; pass the SAMLResponse form value as is", err)
		}
	}
	return parseXML(raw, clean)
}

func parseXML(raw []byte, clean string) (*Response, error) {
	var doc xmlResponse
	if err := xml.Unmarshal(raw, &doc); err != nil {
		return nil, parseErr(ErrNotXML, trimDetail(err.Error()), err)
	}
	var asserts []xmlAssertion
	issuer := doc.Issuer
	switch doc.XMLName {
	case xml.Name{Space: NSProtocol, Local: "Response"}:
		asserts = doc.Assertions
	case xml.Name{Space: NSAssertion, Local: "Assertion"}:
		var a xmlAssertion
		if err := xml.Unmarshal(raw, &a); err != nil {
			return nil, parseErr(ErrNotXML, trimDetail(err.Error()), err)
		}
		asserts = []xmlAssertion{a}
	case xml.Name{Space: NSAssertion, Local: "EncryptedAssertion"}:
		return nil, parseErr(ErrEncryptedAssertion, "configure the IdP to sign, not encrypt, assertions for AWS", nil)
	default:
		return nil, parseErr(ErrNoAssertion, fmt.Sprintf("root element is %s, want a SAML 2.0 Response", elemName(doc.XMLName)), nil)
	}
	switch {
	case len(asserts) == 0 && len(doc.Encrypted) > 0:
		return nil, parseErr(ErrEncryptedAssertion, "configure the IdP to sign, not encrypt, assertions for AWS", nil)
	case len(asserts) == 0:
		detail := "the response carries no Assertion"
		if st := doc.Status.Code.Value; st != "" && st != StatusSuccess {
			detail = "the IdP answered with status " + statusName(st)
			if sub := doc.Status.Code.Sub.Value; sub != "" {
				detail += "/" + statusName(sub)
			}
			if m := strings.TrimSpace(doc.Status.Message); m != "" {
				detail += ": " + trimDetail(m)
			}
		}
		return nil, parseErr(ErrNoAssertion, detail, nil)
	case len(asserts) > 1:
		return nil, parseErr(ErrMultipleAssertions, fmt.Sprintf("found %d", len(asserts)), nil)
	}
	a := asserts[0]

	r := &Response{
		Issuer:       strings.TrimSpace(a.Issuer),
		NameID:       strings.TrimSpace(a.Subject.NameID.Value),
		NameIDFormat: strings.TrimSpace(a.Subject.NameID.Format),
		ID:           strings.TrimSpace(a.ID),
		Raw:          clean,
	}
	if r.Issuer == "" {
		r.Issuer = strings.TrimSpace(issuer)
	}
	var err error
	if r.IssueInstant, err = parseTime("Assertion IssueInstant", a.IssueInstant); err != nil {
		return nil, err
	}
	if r.NotBefore, err = parseTime("Conditions NotBefore", a.Conditions.NotBefore); err != nil {
		return nil, err
	}
	if r.NotOnOrAfter, err = parseTime("Conditions NotOnOrAfter", a.Conditions.NotOnOrAfter); err != nil {
		return nil, err
	}
	for i, c := range a.Subject.Confirmations {
		t, err := parseTime("SubjectConfirmationData NotOnOrAfter", c.Data.NotOnOrAfter)
		if err != nil {
			return nil, err
		}
		r.keepEarliest(t)
		if i == 0 {
			r.Recipient, r.InResponseTo = strings.TrimSpace(c.Data.Recipient), strings.TrimSpace(c.Data.InResponseTo)
		}
	}
	for _, ar := range a.Conditions.Restrictions {
		for _, aud := range ar.Audiences {
			if aud = strings.TrimSpace(aud); aud != "" {
				r.Audiences = append(r.Audiences, aud)
			}
		}
	}
	for _, st := range a.Statements {
		for _, attr := range st.Attributes {
			if err := r.addAttribute(attr.Name, attr.Values); err != nil {
				return nil, err
			}
		}
	}
	return r, nil
}

// keepEarliest lowers NotOnOrAfter to t when t is set and earlier.
// KeepEarliest lowers NotOnOrAfter to t when t is earlier (a zero t is
// ignored): for readers that build a Response from an assertion's
// conditions (package samlverify).
func (r *Response) KeepEarliest(t time.Time) { r.keepEarliest(t) }

func (r *Response) keepEarliest(t time.Time) {
	if !t.IsZero() && (r.NotOnOrAfter.IsZero() || t.Before(r.NotOnOrAfter)) {
		r.NotOnOrAfter = t
	}
}

// AddAttribute records one Attribute as Parse does (samlverify's Verify
// reads them through here too): every attribute into Attributes, and the AWS
// ones into their fields.
func (r *Response) AddAttribute(name string, values []string) error {
	return r.addAttribute(name, values)
}

func (r *Response) addAttribute(name string, values []string) error {
	name = strings.TrimSpace(name)
	trimmed := make([]string, len(values))
	for i, v := range values {
		trimmed[i] = strings.TrimSpace(v)
	}
	if r.Attributes == nil {
		r.Attributes = map[string][]string{}
	}
	r.Attributes[name] = append(r.Attributes[name], trimmed...)
	switch name {
	case AttrRole:
		for _, v := range values {
			role, err := ParseRole(v)
			if err != nil {
				return err
			}
			r.Roles = append(r.Roles, role)
		}
	case AttrRoleSessionName:
		if len(trimmed) > 0 {
			r.RoleSessionName = trimmed[0]
		}
	case AttrSourceIdentity:
		if len(trimmed) > 0 {
			r.SourceIdentity = trimmed[0]
		}
	case AttrSessionDuration:
		if len(trimmed) > 0 {
			n, err := strconv.ParseInt(trimmed[0], 10, 32)
			if err != nil || n <= 0 {
				return parseErr(ErrBadValue, fmt.Sprintf("SessionDuration %q is not a positive number of seconds", trimDetail(trimmed[0])), err)
			}
			r.SessionDuration = time.Duration(n) * time.Second
		}
	}
	return nil
}

// isAccountID reports a 12-digit AWS account ID (no regexp to compile at
// every rolehop start).
func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// ParseRole reads one AWS Role attribute value: a role ARN and a
// saml-provider ARN separated by a comma, in either order, with any
// whitespace around them.
func ParseRole(value string) (Role, error) {
	parts := strings.Split(value, ",")
	if len(parts) != 2 {
		what := "no comma"
		if len(parts) > 2 {
			what = fmt.Sprintf("%d commas", len(parts)-1)
		}
		return Role{}, parseErr(ErrBadRoleValue, fmt.Sprintf("%q has %s; want \"ROLE_ARN,PRINCIPAL_ARN\"", trimDetail(value), what), nil)
	}
	var role Role
	for _, p := range parts {
		p = strings.TrimSpace(p)
		a, err := arn.Parse(p)
		if err != nil || a.Service != "iam" || !isAccountID(a.AccountID) {
			return Role{}, parseErr(ErrNotARN, fmt.Sprintf("%q is not an IAM ARN (arn:aws:iam::ACCOUNT:...)", trimDetail(p)), err)
		}
		switch {
		case strings.HasPrefix(a.Resource, "role/") && len(a.Resource) > len("role/") && role.RoleARN == "":
			role.RoleARN = p
		case strings.HasPrefix(a.Resource, "saml-provider/") && len(a.Resource) > len("saml-provider/") && role.PrincipalARN == "":
			role.PrincipalARN = p
		default:
			return Role{}, parseErr(ErrBadRoleValue, fmt.Sprintf("%q: want one role ARN and one saml-provider ARN", trimDetail(value)), nil)
		}
	}
	return role, nil
}

func parseTime(what, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, parseErr(ErrBadValue, fmt.Sprintf("%s %q is not an xs:dateTime", what, trimDetail(s)), err)
	}
	return t.UTC(), nil
}

func statusName(uri string) string {
	return uri[strings.LastIndex(uri, ":")+1:]
}

func elemName(n xml.Name) string {
	if n.Space == "" {
		return "<" + n.Local + ">"
	}
	return "<" + n.Local + "> in namespace " + n.Space
}

// trimDetail keeps error details short and on one line.
func trimDetail(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strings.ToValidUTF8(s, "?")
}
