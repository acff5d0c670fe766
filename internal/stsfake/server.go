// Package stsfake is an in-process AWS STS for tests: an httptest server
// speaking STS's Query/XML wire format exactly (POST form
// Action=...&Version=2011-06-15, SigV4 Authorization header, XML responses in
// the https://sts.amazonaws.com/doc/2011-06-15/ namespace, ErrorResponse
// documents with AWS's codes, messages and HTTP statuses).
//
// It plays what no real peer here can: AssumeRole with AWS's validation (role
// chaining's 1 hour limit, MaxSessionDuration, required ExternalId and MFA),
// GetCallerIdentity, AssumeRoleWithSAML (once TrustIdP registers an IdP: the
// assertion goes through samlverify.Verify, rolehop's one SAML verifier on
// crewjam/saml, with AWS's audiences, sign-in endpoints and 5-minute limit,
// then the role/principal pair is checked as AWS does; WithMinter can hand
// out real MinIO credentials), many
// accounts, AccessDenied, throttling and outages, latency, expired credentials
// and an injectable clock. Credentials it issues are remembered, so a later
// call signed with them is attributed to the assumed role (ChainDepth shows
// how deep a chain went).
//
// Signed actions are authenticated as AWS authenticates them: the SigV4
// signature is computed again with the secret key the server knows for the
// access key (internal/sigcheck, the AWS SDK's own signer) and compared;
// a key it does not know is InvalidClientTokenId, a wrong signature
// SignatureDoesNotMatch (HTTP 403, AWS's messages), and credentials it
// issued must come with their own session token. It knows the credentials
// it issued (AssumeRole, AssumeRoleWithSAML, IssueCredentials, the MinIO
// minter's) and long-term keys: TestKeys by default (the pairs rolehop's
// tests sign with), plus WithKey / AddKey; WithoutTestKeys leaves only
// those. AssumeRoleWithSAML (and AssumeRoleWithWebIdentity) are unsigned,
// as on AWS. Other actions are added with Handle, IssueCredentials and
// WriteError.
package stsfake

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/sigcheck"
)

// Namespace is the XML namespace of every STS response.
const Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// APIVersion is the only Version STS accepts.
const APIVersion = "2011-06-15"

// DefaultAccount is the account of long-term (non-issued) callers.
const DefaultAccount = "123456789012"

// ActionFunc handles one STS action. form is the parsed request form; the
// authenticated caller (for signed actions) is CallerFrom(r).
type ActionFunc func(w http.ResponseWriter, r *http.Request, form url.Values)

// RoleSettings are a role's properties as IAM would hold them.
type RoleSettings struct {
	// MaxSessionDuration bounds DurationSeconds; zero means 12h.
	MaxSessionDuration time.Duration
	// ExternalID, when set, must be sent as ExternalId.
	ExternalID string
	// RequireMFA demands SerialNumber and TokenCode.
	RequireMFA bool
	// TokenCode, when set with RequireMFA, is the only accepted code.
	TokenCode string
}

// Option configures a Server.
type Option func(*Server)

// WithLatency delays every call by d.
func WithLatency(d time.Duration) Option { return func(s *Server) { s.latency.Store(int64(d)) } }

// WithClock sets the clock used for expirations and expiry checks.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithAccount sets the account of long-term callers (default 123456789012).
func WithAccount(id string) Option { return func(s *Server) { s.account = id } }

// Key is a long-term access key pair the server accepts signatures of.
type Key struct {
	AccessKeyID     string
	SecretAccessKey string
}

// TestKeys are the long-term key pairs every Server knows unless
// WithoutTestKeys is given: the base credentials rolehop's tests sign with
// (in their AWS files, environments and configs). An access key may appear
// with more than one secret because different tests chose different
// secrets for the same example key ID; a signature by any of them is
// accepted (on AWS a key has one secret). New tests should prefer WithKey
// with a pair of their own.
var TestKeys = []Key{
	{"AKIABASE", "base-secret"},                     // source, session/profile_test.go
	{"AKIABASE", "s"},                               // ecsserver
	{"AKIABASEEXAMPLE", "base-secret-key"},          // session/helpers_test.go baseConfig
	{"AKIABASEEXAMPLE", "base-secret-do-not-print"}, // internal/cli whoami
	{"AKIABASEKEY", "base-secret"},                  // internal/cli credential-process
	{"AKIAENVEXAMPLE", "env-secret-do-not-print"},   // internal/cli whoami (environment)
	{"AKIABINEXAMPLE", "bin-secret-do-not-print"},   // cmd/rolehop
	{"AKIASEVEN", "seven-secret"},                   // session/profile_test.go
}

// WithKey makes the server accept signatures by the long-term key pair
// akid/secret (a caller of the server's account, see WithAccount).
func WithKey(akid, secret string) Option {
	return func(s *Server) { s.keys[akid] = append(s.keys[akid], secret) }
}

// WithoutTestKeys drops TestKeys: only keys given with WithKey or AddKey,
// and credentials the server issued, are accepted.
func WithoutTestKeys() Option { return func(s *Server) { s.noTestKeys = true } }

// AddKey is WithKey for a running server.
func (s *Server) AddKey(akid, secret string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[akid] = append(s.keys[akid], secret)
}

type failure struct {
	n    int
	code string
}

// Issued is what the server remembers about credentials it issued.
type Issued struct {
	Credentials
	RoleARN        string
	Account        string
	SessionName    string
	AssumedRole    AssumedRoleUser
	Depth          int // 1 for a role assumed with long-term credentials
	SourceIdentity string
}

// Server is the fake STS.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:PORT.
	URL string

	ts      *httptest.Server
	now     func() time.Time
	account string
	latency atomic.Int64

	mu        sync.Mutex
	calls     map[string]int
	roleCalls map[string]int
	denied    map[string]bool
	fail      map[string][]failure
	roles     map[string]RoleSettings
	issued    map[string]*Issued
	handlers  map[string]ActionFunc
	keys      map[string][]string // long-term access key ID -> accepted secrets

	noTestKeys bool

	samlOnce sync.Once
	saml     *samlServerState // AssumeRoleWithSAML: trusted IdPs and minter
}

// New starts a fake STS on loopback.
func New(opts ...Option) *Server {
	s := &Server{
		now:       time.Now,
		account:   DefaultAccount,
		calls:     map[string]int{},
		roleCalls: map[string]int{},
		denied:    map[string]bool{},
		fail:      map[string][]failure{},
		roles:     map[string]RoleSettings{},
		issued:    map[string]*Issued{},
		keys:      map[string][]string{},
	}
	for _, fn := range opts {
		fn(s)
	}
	if !s.noTestKeys {
		for _, k := range TestKeys {
			s.keys[k.AccessKeyID] = append(s.keys[k.AccessKeyID], k.SecretAccessKey)
		}
	}
	s.handlers = map[string]ActionFunc{
		"AssumeRole":        s.assumeRole,
		"GetCallerIdentity": s.getCallerIdentity,
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewForTest starts a fake STS closed when t ends.
func NewForTest(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := New(opts...)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// Now returns the server's time.
func (s *Server) Now() time.Time { return s.now() }

// SetLatency changes the delay of every later call.
func (s *Server) SetLatency(d time.Duration) { s.latency.Store(int64(d)) }

// Handle sets the handler of action (replacing a built-in one).
func (s *Server) Handle(action string, h ActionFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[action] = h
}

// Handler returns the current handler of action (nil when none), e.g. to wrap
// the built-in AssumeRole.
func (s *Server) Handler(action string) ActionFunc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handlers[action]
}

// Calls returns how many requests for action arrived (failed ones included).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// RoleCalls returns how many requests named roleARN as RoleArn.
func (s *Server) RoleCalls(roleARN string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roleCalls[roleARN]
}

// Deny makes every AssumeRole into roleARN fail with AccessDenied.
func (s *Server) Deny(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.denied[roleARN] = true
}

// Allow undoes Deny.
func (s *Server) Allow(roleARN string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.denied, roleARN)
}

// FailNext makes the next n calls of action fail with code (Throttling,
// ServiceUnavailable, AccessDenied, ...), with AWS's status for that code.
func (s *Server) FailNext(action string, n int, code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[action] = append(s.fail[action], failure{n: n, code: code})
}

// SetRole sets roleARN's settings.
func (s *Server) SetRole(roleARN string, rs RoleSettings) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[roleARN] = rs
}

// ChainDepth returns how many AssumeRole calls lie behind accessKeyID: 0 for
// long-term or unknown keys, 1 for a role assumed with long-term keys, ...
func (s *Server) ChainDepth(accessKeyID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := s.issued[accessKeyID]; ok {
		return is.Depth
	}
	return 0
}

// Issued returns what the server remembers of accessKeyID.
func (s *Server) Issued(accessKeyID string) (Issued, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	is, ok := s.issued[accessKeyID]
	if !ok {
		return Issued{}, false
	}
	return *is, true
}

// unsigned actions are called without credentials, as on AWS.
var unsigned = map[string]bool{"AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		WriteError(w, http.StatusBadRequest, "InvalidAction", "STS accepts only POST requests with a form body")
		return
	}
	// The body is read once, for the signature (its SHA-256) and the form.
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		WriteError(w, http.StatusBadRequest, "MalformedQueryString", "the request body is unreadable or over 1 MiB")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		WriteError(w, http.StatusBadRequest, "MalformedQueryString", "the request body is not a valid form")
		return
	}
	form := r.Form
	action := form.Get("Action")

	s.mu.Lock()
	s.calls[action]++
	if arn := form.Get("RoleArn"); arn != "" {
		s.roleCalls[arn]++
	}
	var injected string
	if f := s.fail[action]; len(f) > 0 {
		injected = f[0].code
		if f[0].n--; f[0].n <= 0 {
			s.fail[action] = f[1:]
		}
	}
	h := s.handlers[action]
	s.mu.Unlock()

	if d := time.Duration(s.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if injected != "" {
		WriteError(w, StatusOf(injected), injected, defaultMessage(injected))
		return
	}
	if action == "" {
		WriteError(w, http.StatusBadRequest, "MissingAction", "Missing Action")
		return
	}
	if v := form.Get("Version"); v != APIVersion {
		WriteError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, v))
		return
	}
	if !unsigned[action] {
		c, ok := s.authenticate(w, r, body)
		if !ok {
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), callerKey{}, c))
	}
	if h == nil {
		WriteError(w, http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", action, APIVersion))
		return
	}
	h(w, r, form)
}

// Caller is the identity behind a signed request.
type Caller struct {
	AccessKeyID string
	Account     string
	Arn         string
	UserID      string
	// Depth is 0 for long-term credentials, n for credentials issued by the
	// n-th AssumeRole of a chain.
	Depth int
}

type callerKey struct{}

// CallerFrom returns the authenticated caller of a signed request.
func CallerFrom(r *http.Request) (Caller, bool) {
	c, ok := r.Context().Value(callerKey{}).(Caller)
	return c, ok
}

// maxBody bounds a request body (AWS's Query API allows far less).
const maxBody = 1 << 20

// AWS's answers to a request it cannot authenticate.
const (
	msgInvalidToken = "The security token included in the request is invalid."
	msgSigMismatch  = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// authenticate identifies the caller of a signed request and verifies its
// SigV4 signature with the secret the server knows for the access key
// (internal/sigcheck: the AWS SDK's signer, constant-time compare); issued
// credentials must carry their session token and not be expired.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) (Caller, bool) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		WriteError(w, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
		return Caller{}, false
	}
	a, err := sigcheck.Parse(auth)
	if err != nil || a.Service != "sts" {
		WriteError(w, http.StatusBadRequest, "IncompleteSignature",
			"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and must start with AWS4-HMAC-SHA256. Authorization="+firstWord(auth))
		return Caller{}, false
	}
	akid := a.AccessKeyID
	token := r.Header.Get("X-Amz-Security-Token")
	s.mu.Lock()
	is, issued := s.issued[akid]
	var cp Issued
	if issued {
		cp = *is
	}
	secrets := s.keys[akid]
	s.mu.Unlock()

	switch {
	case issued:
		secrets = []string{cp.SecretAccessKey}
		if token != cp.SessionToken {
			WriteError(w, http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
			return Caller{}, false
		}
	case len(secrets) == 0 || token != "":
		// Unknown, or a long-term key sent with a session token.
		WriteError(w, http.StatusForbidden, "InvalidClientTokenId", msgInvalidToken)
		return Caller{}, false
	}
	signed := false
	for _, secret := range secrets {
		if sigcheck.Verify(r, body, a, secret) {
			signed = true
			break
		}
	}
	if !signed {
		WriteError(w, http.StatusForbidden, "SignatureDoesNotMatch", msgSigMismatch)
		return Caller{}, false
	}
	if !issued {
		return Caller{
			AccessKeyID: akid,
			Account:     s.account,
			Arn:         "arn:aws:iam::" + s.account + ":user/rolehop-test",
			UserID:      "AIDA" + idFor("user:"+akid),
		}, true
	}
	if !s.now().Before(cp.Expiration) {
		WriteError(w, http.StatusBadRequest, "ExpiredToken", "The security token included in the request is expired")
		return Caller{}, false
	}
	return Caller{
		AccessKeyID: akid,
		Account:     cp.Account,
		Arn:         cp.AssumedRole.Arn,
		UserID:      cp.AssumedRole.AssumedRoleID,
		Depth:       cp.Depth,
	}, true
}

func firstWord(s string) string {
	w, _, _ := strings.Cut(s, " ")
	return w
}
