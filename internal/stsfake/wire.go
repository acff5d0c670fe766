package stsfake

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"strings"
	"time"
)

// Credentials is the <Credentials> element of STS responses. Expiration is
// UTC, whole seconds, so it is written as RFC 3339 ("2026-01-02T15:04:05Z").
type Credentials struct {
	AccessKeyID     string    `xml:"AccessKeyId"`
	SecretAccessKey string    `xml:"SecretAccessKey"`
	SessionToken    string    `xml:"SessionToken"`
	Expiration      time.Time `xml:"Expiration"`
}

// AssumedRoleUser is the <AssumedRoleUser> element.
type AssumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

// ResponseMetadata is the <ResponseMetadata> element.
type ResponseMetadata struct {
	RequestID string `xml:"RequestId"`
}

// NewResponseMetadata returns metadata with a fresh request ID.
func NewResponseMetadata() ResponseMetadata { return ResponseMetadata{RequestID: requestID()} }

type errorResponse struct {
	XMLName   xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ ErrorResponse"`
	Error     errorBody
	RequestID string `xml:"RequestId"`
}

type errorBody struct {
	Type    string `xml:"Type"`
	Code    string `xml:"Code"`
	Message string `xml:"Message"`
}

// statuses are AWS's HTTP statuses for STS error codes.
var statuses = map[string]int{
	"AccessDenied":                         http.StatusForbidden,
	"ValidationError":                      http.StatusBadRequest,
	"Throttling":                           http.StatusBadRequest,
	"ExpiredToken":                         http.StatusBadRequest,
	"InvalidClientTokenId":                 http.StatusForbidden,
	"ServiceUnavailable":                   http.StatusServiceUnavailable,
	"InternalFailure":                      http.StatusInternalServerError,
	"IncompleteSignature":                  http.StatusBadRequest,
	"MissingAuthenticationToken":           http.StatusForbidden,
	"SignatureDoesNotMatch":                http.StatusForbidden,
	"InvalidAction":                        http.StatusBadRequest,
	"MissingAction":                        http.StatusBadRequest,
	"MalformedPolicyDocument":              http.StatusBadRequest,
	"PackedPolicyTooLarge":                 http.StatusBadRequest,
	"RegionDisabledException":              http.StatusForbidden,
	"IDPRejectedClaim":                     http.StatusForbidden,
	"InvalidIdentityToken":                 http.StatusBadRequest,
	"InvalidAuthorizationMessageException": http.StatusBadRequest,
}

// StatusOf returns AWS's HTTP status for an STS error code (400 if unknown).
func StatusOf(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusBadRequest
}

func defaultMessage(code string) string {
	switch code {
	case "Throttling":
		return "Rate exceeded"
	case "ServiceUnavailable":
		return "Service Unavailable"
	case "InternalFailure":
		return "An internal error occurred."
	case "AccessDenied":
		return "Access denied"
	case "ExpiredToken":
		return "The security token included in the request is expired"
	case "InvalidClientTokenId":
		return "The security token included in the request is invalid."
	}
	return code
}

// WriteError writes an STS ErrorResponse document with status, code and
// message (Type Receiver for 5xx statuses, else Sender).
func WriteError(w http.ResponseWriter, status int, code, msg string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	id := requestID()
	w.Header().Set("x-amzn-RequestId", id)
	writeXML(w, status, errorResponse{Error: errorBody{Type: typ, Code: code, Message: msg}, RequestID: id})
}

// WriteXML writes v (an STS response document) with status 200.
func WriteXML(w http.ResponseWriter, v any) { writeXML(w, http.StatusOK, v) }

func writeXML(w http.ResponseWriter, status int, v any) {
	b, err := xml.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(xml.Header))
	_, _ = w.Write(b)
}

// IssueCredentials creates and remembers temporary credentials for a session
// of roleARN valid for d from the server's clock; depth is the chain depth
// of the new credentials (1 when assumed with long-term credentials). Later
// calls signed with them are attributed to the assumed role.
func (s *Server) IssueCredentials(roleARN, sessionName string, d time.Duration, depth int) Issued {
	parts := strings.SplitN(roleARN, ":", 6)
	partition, account, name := "aws", "", roleARN
	if len(parts) == 6 {
		partition, account = parts[1], parts[4]
		name = parts[5][strings.LastIndex(parts[5], "/")+1:]
	}
	roleID := "AROA" + idFor("role:"+roleARN)
	is := &Issued{
		Credentials: Credentials{
			AccessKeyID:     "ASIA" + randomID(16),
			SecretAccessKey: randomB64(30),
			SessionToken:    randomB64(150),
			Expiration:      s.now().Add(d).UTC().Truncate(time.Second),
		},
		RoleARN:     roleARN,
		Account:     account,
		SessionName: sessionName,
		AssumedRole: AssumedRoleUser{
			Arn:           "arn:" + partition + ":sts::" + account + ":assumed-role/" + name + "/" + sessionName,
			AssumedRoleID: roleID + ":" + sessionName,
		},
		Depth: depth,
	}
	s.mu.Lock()
	s.issued[is.AccessKeyID] = is
	s.mu.Unlock()
	return *is
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// idFor is a stable 17-character upper-case ID derived from s.
func idFor(s string) string {
	sum := sha256.Sum256([]byte(s))
	return b32.EncodeToString(sum[:])[:17]
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b32.EncodeToString(b)[:n]
}

func randomB64(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

func requestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
