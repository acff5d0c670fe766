// Package fedfake is an in-process stand-in for the AWS console federation
// endpoint (https://signin.aws.amazon.com/federation), which no peer on a
// test machine can play, plus the two STS actions a console sign-in with
// long-term IAM user keys needs (GetFederationToken, GetCallerIdentity).
//
// It follows AWS's documented formats ("Enable custom identity broker access
// to the AWS console"):
//
//	GET /federation?Action=getSigninToken[&SessionDuration=N]&Session=<url-encoded JSON
//	    {"sessionId": AccessKeyId, "sessionKey": SecretAccessKey, "sessionToken": SessionToken}>
//	  -> 200 {"SigninToken": "..."}
//	GET /federation?Action=login&Issuer=...&Destination=<url>&SigninToken=...
//	  -> 302 Location: Destination
//
// and checks what it receives the way AWS does, answering 400 otherwise:
// the Session JSON's three fields present and non-empty and naming a
// session this server issued (Issue, or GetFederationToken); SessionDuration
// an integer in 900..43200, at most 3600 for chained role sessions, and
// absent for GetFederationToken sessions; login with a known, unused,
// unexpired sign-in token and an https Destination.
//
// STS requests (POST, AWS Query protocol) are answered in STS's XML format
// and authenticated as AWS does: the SigV4 signature is computed again with
// the secret of the access key (internal/sigcheck, the AWS SDK's own
// signer) and compared; an unknown key, a long-term key sent with a token
// or issued credentials without their own token is InvalidClientTokenId,
// a wrong signature SignatureDoesNotMatch (HTTP 403, AWS's messages).
//
// Every successful getSigninToken is recorded (SigninTokenRequests): the
// SessionDuration the client sent, if any, and the session's kind.
package fedfake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/sigcheck"
)

// Kind is how a temporary session was obtained; it decides the
// SessionDuration rules.
type Kind int

const (
	// Role: AssumeRole / AssumeRoleWithSAML / AssumeRoleWithWebIdentity
	// called with long-term credentials or an IdP assertion.
	// SessionDuration 900..43200 allowed.
	Role Kind = iota + 1
	// Chained: a role session obtained with another role's temporary
	// credentials. SessionDuration over 3600 is refused.
	Chained
	// FederationToken: from sts:GetFederationToken. SessionDuration is
	// refused; the console session lasts as long as the token.
	FederationToken
)

func (k Kind) String() string {
	switch k {
	case Role:
		return "role"
	case Chained:
		return "chained"
	case FederationToken:
		return "federation-token"
	}
	return "unknown"
}

// Counts are the requests the server has seen.
type Counts struct {
	GetSigninToken     int // successful getSigninToken
	Login              int // successful login redirects
	GetFederationToken int // successful sts:GetFederationToken
	GetCallerIdentity  int // successful sts:GetCallerIdentity
	Rejected           int // requests answered 4xx
}

type session struct {
	secret, token string
	kind          Kind
	expires       time.Time
	user          string // for long-term users: the IAM user name
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	// URL is the federation endpoint, e.g. http://127.0.0.1:PORT/federation.
	URL string
	// STSURL is the STS endpoint (use as the sts client's BaseEndpoint).
	STSURL string
	// Account is the account ID of the issued sessions and users.
	Account string

	srv *httptest.Server

	mu       sync.Mutex
	sessions map[string]*session // by access key ID
	users    map[string]*session // long-term keys by access key ID
	tokens   map[string]time.Time
	counts   Counts
	rejects  []string
	fedNames []string
	fedPols  []string
	signins  []SigninTokenRequest
	verify   func(accessKeyID, secret, token string) (time.Time, bool)
}

// SigninTokenRequest is what a successful getSigninToken asked for.
type SigninTokenRequest struct {
	// SessionDuration is the parameter as sent; "" when it was not sent.
	SessionDuration string
	// Kind is the kind of the session the token was issued for.
	Kind Kind
}

// New starts a fake on loopback, closed by t.Cleanup.
func New(t testing.TB) *Server {
	s := Start()
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake on loopback for programs that are not tests (the
// demo); Close stops it.
func Start() *Server {
	s := &Server{
		Account:  "111111111111",
		sessions: map[string]*session{},
		users:    map[string]*session{},
		tokens:   map[string]time.Time{},
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/federation"
	s.STSURL = s.srv.URL + "/"
	return s
}

// Close stops the fake.
func (s *Server) Close() { s.srv.Close() }

// SetVerifier makes the endpoint also take role sessions that verify
// accepts (credentials issued by another fake, such as the test STS), as
// AWS's endpoint takes any STS session: verify says whether the three
// values are a live session and when it expires.
func (s *Server) SetVerifier(verify func(accessKeyID, secret, token string) (expires time.Time, ok bool)) {
	s.mu.Lock()
	s.verify = verify
	s.mu.Unlock()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randKey(prefix string) string {
	return prefix + strings.ToUpper(randHex(8))
}

// Issue makes temporary credentials of the given kind that the endpoint
// accepts, valid for life.
func (s *Server) Issue(kind Kind, life time.Duration) aws.Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issueLocked(kind, life)
}

func (s *Server) issueLocked(kind Kind, life time.Duration) aws.Credentials {
	c := aws.Credentials{
		AccessKeyID:     randKey("ASIA"),
		SecretAccessKey: randHex(20),
		SessionToken:    "FwoGZXIvYXdzE" + randHex(64),
		CanExpire:       true,
		Expires:         time.Now().Add(life).UTC().Truncate(time.Second),
	}
	s.sessions[c.AccessKeyID] = &session{secret: c.SecretAccessKey, token: c.SessionToken, kind: kind, expires: c.Expires}
	return c
}

// Accept makes the endpoint take temporary credentials issued elsewhere (by
// the test STS, as AWS's federation endpoint takes any STS session).
func (s *Server) Accept(c aws.Credentials, kind Kind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[c.AccessKeyID] = &session{secret: c.SecretAccessKey, token: c.SessionToken, kind: kind, expires: c.Expires}
}

// AddUser makes long-term access keys for IAM user name, usable with STS
// GetFederationToken and GetCallerIdentity (not with the federation
// endpoint, like AWS).
func (s *Server) AddUser(name string) aws.Credentials {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := aws.Credentials{AccessKeyID: randKey("AKIA"), SecretAccessKey: randHex(20)}
	s.users[c.AccessKeyID] = &session{secret: c.SecretAccessKey, user: name}
	return c
}

// Counts returns the request counts so far.
func (s *Server) Counts() Counts {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts
}

// Rejections returns the reasons of every 4xx answer so far.
func (s *Server) Rejections() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.rejects...)
}

// FederationRequests returns the Name and Policy of every
// GetFederationToken call so far.
func (s *Server) FederationRequests() (names, policies []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.fedNames...), append([]string(nil), s.fedPols...)
}

// SigninTokenRequests returns every successful getSigninToken so far, in
// order: which SessionDuration the client actually sent.
func (s *Server) SigninTokenRequests() []SigninTokenRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SigninTokenRequest(nil), s.signins...)
}

// reject answers 400 the way the federation endpoint does (a short text
// body) and records why. Caller holds s.mu.
func (s *Server) reject(w http.ResponseWriter, code int, reason string) {
	s.counts.Rejected++
	s.rejects = append(s.rejects, reason)
	http.Error(w, reason, code)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method == http.MethodPost {
		s.serveSTS(w, r)
		return
	}
	if r.Method != http.MethodGet || r.URL.Path != "/federation" {
		s.reject(w, http.StatusNotFound, "not found: "+r.Method+" "+r.URL.Path)
		return
	}
	q := r.URL.Query()
	switch q.Get("Action") {
	case "getSigninToken":
		s.getSigninToken(w, q)
	case "login":
		s.login(w, r, q)
	default:
		s.reject(w, http.StatusBadRequest, "unknown Action")
	}
}

func (s *Server) getSigninToken(w http.ResponseWriter, q url.Values) {
	raw := q.Get("Session")
	if raw == "" {
		s.reject(w, http.StatusBadRequest, "Session parameter missing")
		return
	}
	var sess map[string]any
	if err := json.Unmarshal([]byte(raw), &sess); err != nil {
		s.reject(w, http.StatusBadRequest, "Session is not a JSON object")
		return
	}
	var id, key, tok string
	for name, dst := range map[string]*string{"sessionId": &id, "sessionKey": &key, "sessionToken": &tok} {
		v, ok := sess[name].(string)
		if !ok || v == "" {
			s.reject(w, http.StatusBadRequest, "Session JSON field "+name+" missing or empty")
			return
		}
		*dst = v
	}
	known := s.sessions[id]
	if known == nil && s.verify != nil {
		if exp, ok := s.verify(id, key, tok); ok {
			known = &session{secret: key, token: tok, kind: Role, expires: exp}
		}
	}
	switch {
	case known == nil:
		if s.users[id] != nil {
			s.reject(w, http.StatusBadRequest, "long-term credentials are not accepted; use GetFederationToken")
		} else {
			s.reject(w, http.StatusBadRequest, "unknown sessionId")
		}
		return
	case known.secret != key || known.token != tok:
		s.reject(w, http.StatusBadRequest, "sessionKey or sessionToken does not match sessionId")
		return
	case time.Now().After(known.expires):
		s.reject(w, http.StatusBadRequest, "session expired")
		return
	}
	if _, present := q["SessionDuration"]; present {
		d, err := strconv.Atoi(q.Get("SessionDuration"))
		switch {
		case err != nil:
			s.reject(w, http.StatusBadRequest, "SessionDuration is not an integer")
			return
		case known.kind == FederationToken:
			s.reject(w, http.StatusBadRequest, "SessionDuration is not allowed for GetFederationToken sessions")
			return
		case d < 900 || d > 43200:
			s.reject(w, http.StatusBadRequest, "SessionDuration out of range 900..43200")
			return
		case known.kind == Chained && d > 3600:
			s.reject(w, http.StatusBadRequest, "SessionDuration over 3600 for a role-chaining session")
			return
		}
	}
	st := randHex(32)
	s.tokens[st] = time.Now().Add(15 * time.Minute)
	s.counts.GetSigninToken++
	s.signins = append(s.signins, SigninTokenRequest{SessionDuration: q.Get("SessionDuration"), Kind: known.kind})
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": st})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request, q url.Values) {
	st := q.Get("SigninToken")
	exp, ok := s.tokens[st]
	if st == "" || !ok || time.Now().After(exp) {
		s.reject(w, http.StatusBadRequest, "SigninToken missing, unknown, used or expired")
		return
	}
	dest, err := url.Parse(q.Get("Destination"))
	if err != nil || dest.Scheme != "https" || dest.Host == "" {
		s.reject(w, http.StatusBadRequest, "Destination is not an https URL")
		return
	}
	delete(s.tokens, st)
	s.counts.Login++
	http.Redirect(w, r, dest.String(), http.StatusFound)
}

const stsNS = "https://sts.amazonaws.com/doc/2011-06-15/"

type stsError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	NS      string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

func (s *Server) stsFail(w http.ResponseWriter, code int, errCode, msg string) {
	s.counts.Rejected++
	s.rejects = append(s.rejects, "sts: "+errCode+": "+msg)
	var e stsError
	e.NS = stsNS
	e.Error.Type = "Sender"
	e.Error.Code = errCode
	e.Error.Message = msg
	e.RequestID = randHex(8)
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(code)
	_ = xml.NewEncoder(w).Encode(e)
}

// AWS's answers to an STS request it cannot authenticate.
const (
	msgInvalidToken = "The security token included in the request is invalid."
	msgSigMismatch  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// authenticate verifies the SigV4 signature of an STS request (body
// already read) and returns the caller's access key ID; on failure it has
// answered AWS's error. Caller holds s.mu.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) (string, bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		s.stsFail(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return "", false
	}
	a, err := sigcheck.Parse(auth)
	if err != nil || a.Service != "sts" {
		s.stsFail(w, http.StatusBadRequest, "IncompleteSignature", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and must start with AWS4-HMAC-SHA256.")
		return "", false
	}
	token := r.Header.Get("X-Amz-Security-Token")
	var secret string
	switch sess, user := s.sessions[a.AccessKeyID], s.users[a.AccessKeyID]; {
	case sess != nil && token == sess.token:
		secret = sess.secret
	case user != nil && token == "":
		secret = user.secret
	default:
		s.stsFail(w, http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
		return "", false
	}
	if !sigcheck.Verify(r, body, a, secret) {
		s.stsFail(w, http.StatusForbidden, "SignatureDoesNotMatch", msgSigMismatch)
		return "", false
	}
	if sess := s.sessions[a.AccessKeyID]; sess != nil && time.Now().After(sess.expires) {
		s.stsFail(w, http.StatusBadRequest, "ExpiredToken", "The security token included in the request is expired")
		return "", false
	}
	return a.AccessKeyID, true
}

func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20+1))
	if err != nil || len(body) > 1<<20 {
		s.stsFail(w, http.StatusBadRequest, "MalformedInput", "cannot read the request body (at most 1 MiB)")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		s.stsFail(w, http.StatusBadRequest, "MalformedInput", "cannot parse form body")
		return
	}
	if r.PostForm.Get("Version") != "2011-06-15" {
		s.stsFail(w, http.StatusBadRequest, "InvalidParameterValue", "Version must be 2011-06-15")
		return
	}
	id, ok := s.authenticate(w, r, body)
	if !ok {
		return
	}
	user := s.users[id]
	w.Header().Set("Content-Type", "text/xml")
	switch r.PostForm.Get("Action") {
	case "GetCallerIdentity":
		arn := ""
		switch {
		case user != nil:
			arn = "arn:aws:iam::" + s.Account + ":user/" + user.user
		case s.sessions[id] != nil:
			arn = "arn:aws:sts::" + s.Account + ":assumed-role/Role/session"
		default:
			s.stsFail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
			return
		}
		s.counts.GetCallerIdentity++
		fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="%s">
  <GetCallerIdentityResult>
    <Arn>%s</Arn>
    <UserId>AIDA%s</UserId>
    <Account>%s</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</GetCallerIdentityResponse>`, stsNS, arn, strings.ToUpper(randHex(8)), s.Account, randHex(8))
	case "GetFederationToken":
		if user == nil {
			// AWS: temporary credentials cannot call GetFederationToken.
			s.stsFail(w, http.StatusForbidden, "AccessDenied", "Cannot call GetFederationToken with session credentials")
			return
		}
		name := r.PostForm.Get("Name")
		if len(name) < 2 || len(name) > 32 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-") != "" {
			s.stsFail(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to 32 and match [\\w+=,.@-]*")
			return
		}
		life := 43200 * time.Second
		if ds := r.PostForm.Get("DurationSeconds"); ds != "" {
			d, err := strconv.Atoi(ds)
			if err != nil || d < 900 || d > 129600 {
				s.stsFail(w, http.StatusBadRequest, "ValidationError", "DurationSeconds must be in 900..129600")
				return
			}
			life = time.Duration(d) * time.Second
		}
		s.fedNames = append(s.fedNames, name)
		s.fedPols = append(s.fedPols, r.PostForm.Get("Policy"))
		c := s.issueLocked(FederationToken, life)
		s.counts.GetFederationToken++
		fmt.Fprintf(w, `<GetFederationTokenResponse xmlns="%s">
  <GetFederationTokenResult>
    <Credentials>
      <SessionToken>%s</SessionToken>
      <SecretAccessKey>%s</SecretAccessKey>
      <Expiration>%s</Expiration>
      <AccessKeyId>%s</AccessKeyId>
    </Credentials>
    <FederatedUser>
      <Arn>arn:aws:sts::%s:federated-user/%s</Arn>
      <FederatedUserId>%s:%s</FederatedUserId>
    </FederatedUser>
    <PackedPolicySize>6</PackedPolicySize>
  </GetFederationTokenResult>
  <ResponseMetadata>
    <RequestId>%s</RequestId>
  </ResponseMetadata>
</GetFederationTokenResponse>`, stsNS, c.SessionToken, c.SecretAccessKey, c.Expires.Format(time.RFC3339),
			c.AccessKeyID, s.Account, name, s.Account, name, randHex(8))
	default:
		s.stsFail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+r.PostForm.Get("Action")+" for version 2011-06-15")
	}
}
