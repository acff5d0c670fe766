package stsfake

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

var (
	reRoleARN     = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::\d{12}:role/(?:[\x21-\x7E]*/)?[\w+=,.@-]{1,64}$`)
	reSessionName = regexp.MustCompile(`^[\w+=,.@-]*$`)
	reExternalID  = regexp.MustCompile(`^[\w+=,.@:/-]*$`)
	reTokenCode   = regexp.MustCompile(`^[\d]*$`)
)

type assumeRoleResponse struct {
	XMLName          xml.Name         `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
	Result           assumeRoleResult `xml:"AssumeRoleResult"`
	ResponseMetadata ResponseMetadata `xml:"ResponseMetadata"`
}

type assumeRoleResult struct {
	SourceIdentity   string          `xml:"SourceIdentity,omitempty"`
	AssumedRoleUser  AssumedRoleUser `xml:"AssumedRoleUser"`
	Credentials      Credentials     `xml:"Credentials"`
	PackedPolicySize *int            `xml:"PackedPolicySize,omitempty"`
}

func validationError(w http.ResponseWriter, msg string) {
	WriteError(w, http.StatusBadRequest, "ValidationError", msg)
}

func constraint(value, field, rule string) string {
	if value == "" {
		return fmt.Sprintf("1 validation error detected: Value null at '%s' failed to satisfy constraint: %s", field, rule)
	}
	return fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, rule)
}

// requireLength answers AWS's ValidationError when value is missing, shorter
// than min or (max > 0) longer than max, and reports whether it fits.
func requireLength(w http.ResponseWriter, value, field string, min, max int) bool {
	switch {
	case value == "":
		validationError(w, constraint("", field, "Member must not be null"))
	case len(value) < min:
		validationError(w, constraint(value, field, fmt.Sprintf("Member must have length greater than or equal to %d", min)))
	case max > 0 && len(value) > max:
		validationError(w, constraint(value, field, fmt.Sprintf("Member must have length less than or equal to %d", max)))
	default:
		return true
	}
	return false
}

// durationSeconds reads DurationSeconds (1 hour when absent) with STS's
// checks (an integer, 900..43200); on a bad value it answers the error and
// ok is false.
func durationSeconds(w http.ResponseWriter, form url.Values) (d time.Duration, given, ok bool) {
	v := form.Get("DurationSeconds")
	if v == "" {
		return time.Hour, false, true
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		validationError(w, fmt.Sprintf("Value '%s' for parameter DurationSeconds is invalid. Must be an integer", v))
	case n < 900:
		validationError(w, constraint(v, "durationSeconds", "Member must have value greater than or equal to 900"))
	case n > 43200:
		validationError(w, constraint(v, "durationSeconds", "Member must have value less than or equal to 43200"))
	default:
		return time.Duration(n) * time.Second, true, true
	}
	return 0, false, false
}

// checkPolicy answers AWS's error for a session policy over 2,048
// characters or not JSON, and reports whether it is acceptable.
func checkPolicy(w http.ResponseWriter, p string) bool {
	if utf8.RuneCountInString(p) > 2048 {
		validationError(w, "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048")
		return false
	}
	if p != "" && !json.Valid([]byte(p)) {
		WriteError(w, http.StatusBadRequest, "MalformedPolicyDocument", "The policy is not in the valid JSON format.")
		return false
	}
	return true
}

// assumeRole implements sts:AssumeRole with AWS's checks.
func (s *Server) assumeRole(w http.ResponseWriter, r *http.Request, form url.Values) {
	caller, _ := CallerFrom(r)
	roleARN := form.Get("RoleArn")
	name := form.Get("RoleSessionName")
	if !requireLength(w, roleARN, "roleArn", 20, 0) || !requireLength(w, name, "roleSessionName", 2, 64) {
		return
	}
	if !reSessionName.MatchString(name) {
		validationError(w, constraint(name, "roleSessionName", `Member must satisfy regular expression pattern: [\w+=,.@-]*`))
		return
	}
	d, _, ok := durationSeconds(w, form)
	if !ok {
		return
	}
	if ext := form.Get("ExternalId"); ext != "" {
		if len(ext) < 2 || len(ext) > 1224 || !reExternalID.MatchString(ext) {
			validationError(w, constraint(ext, "externalId", `Member must satisfy regular expression pattern: [\w+=,.@:\/-]*`))
			return
		}
	}
	if !checkPolicy(w, form.Get("Policy")) {
		return
	}
	if src := form.Get("SourceIdentity"); src != "" {
		if len(src) < 2 || len(src) > 64 || !reSessionName.MatchString(src) {
			validationError(w, constraint(src, "sourceIdentity", `Member must satisfy regular expression pattern: [\w+=,.@-]*`))
			return
		}
	}
	if code := form.Get("TokenCode"); code != "" && (len(code) != 6 || !reTokenCode.MatchString(code)) {
		validationError(w, constraint(code, "tokenCode", "Member must have length less than or equal to 6"))
		return
	}
	if !reRoleARN.MatchString(roleARN) {
		validationError(w, roleARN+" is invalid")
		return
	}

	s.mu.Lock()
	denied := s.denied[roleARN]
	rs := s.roles[roleARN]
	s.mu.Unlock()
	notAuthorized := fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller.Arn, roleARN)
	if denied || (rs.ExternalID != "" && form.Get("ExternalId") != rs.ExternalID) {
		WriteError(w, http.StatusForbidden, "AccessDenied", notAuthorized)
		return
	}
	if rs.RequireMFA {
		if form.Get("SerialNumber") == "" || form.Get("TokenCode") == "" {
			WriteError(w, http.StatusForbidden, "AccessDenied", notAuthorized)
			return
		}
		if rs.TokenCode != "" && form.Get("TokenCode") != rs.TokenCode {
			WriteError(w, http.StatusForbidden, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time pass code. ")
			return
		}
	}
	if caller.Depth > 0 && d > time.Hour {
		validationError(w, "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.")
		return
	}
	maxD := rs.MaxSessionDuration
	if maxD == 0 {
		maxD = 12 * time.Hour
	}
	if d > maxD {
		validationError(w, "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.")
		return
	}

	is := s.IssueCredentials(roleARN, name, d, caller.Depth+1)
	src := form.Get("SourceIdentity")
	if src != "" {
		s.mu.Lock()
		s.issued[is.AccessKeyID].SourceIdentity = src
		s.mu.Unlock()
	}
	res := assumeRoleResult{SourceIdentity: src, AssumedRoleUser: is.AssumedRole, Credentials: is.Credentials}
	if packed := packedSize(form); packed > 0 {
		res.PackedPolicySize = &packed
	}
	WriteXML(w, assumeRoleResponse{Result: res, ResponseMetadata: NewResponseMetadata()})
}

// packedSize approximates PackedPolicySize, the percentage of the packed
// session policy and tag limit used; 0 when neither was sent.
func packedSize(form url.Values) int {
	n := len(form.Get("Policy"))
	for k, v := range form {
		if len(k) > 5 && k[:5] == "Tags." || len(k) > 11 && k[:11] == "PolicyArns." {
			n += len(v[0])
		}
	}
	if n == 0 {
		return 0
	}
	p := n * 100 / 2048
	if p < 1 {
		p = 1
	}
	return p
}

type getCallerIdentityResponse struct {
	XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ GetCallerIdentityResponse"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	ResponseMetadata ResponseMetadata `xml:"ResponseMetadata"`
}

func (s *Server) getCallerIdentity(w http.ResponseWriter, r *http.Request, _ url.Values) {
	c, _ := CallerFrom(r)
	var resp getCallerIdentityResponse
	resp.Result.Arn, resp.Result.UserID, resp.Result.Account = c.Arn, c.UserID, c.Account
	resp.ResponseMetadata = NewResponseMetadata()
	WriteXML(w, resp)
}
