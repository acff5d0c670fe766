// Package orgsfake is an in-process AWS Organizations for tests: an
// httptest server speaking Organizations' published wire protocol (AWS
// JSON 1.1: POST /, X-Amz-Target: AWSOrganizationsV20161128.<Action>,
// Content-Type application/x-amz-json-1.1, JSON bodies; errors as HTTP 400
// with {"__type": CODE, "Message": ...}), for what no peer here can play.
//
// It answers ListRoots, ListAccounts, ListAccountsForParent,
// ListOrganizationalUnitsForParent and ListTagsForResource over an
// organization the test builds (AddOU, AddAccount), with NextToken
// pagination (MaxResults 1..20, default PageSize), ParentNotFoundException,
// InvalidInputException (bad IDs, a NextToken it did not issue),
// AccessDeniedException for callers it does not know, and
// TooManyRequestsException throttling on demand (ThrottleNext,
// ThrottleEvery). Every request's SigV4 signature (service
// "organizations") is verified with the secret of its access key, by
// internal/sigcheck on the SDK's own signer.
package orgsfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/sigcheck"
)

// TargetPrefix is the X-Amz-Target prefix of every action.
const TargetPrefix = "AWSOrganizationsV20161128."

// PageSize is the page size when a request gives no MaxResults.
const PageSize = 10

// Org is the organization ID of the fake's ARNs.
const Org = "o-exampleorgid"

var (
	reOU      = regexp.MustCompile(`^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$`)
	reRoot    = regexp.MustCompile(`^r-[0-9a-z]{4,32}$`)
	reAccount = regexp.MustCompile(`^\d{12}$`)
)

// Account is an account of the organization.
type Account struct {
	ID     string
	Name   string
	Email  string
	Parent string // root or OU ID
	State  string // ACTIVE (default), SUSPENDED, PENDING_CLOSURE, CLOSED
	Tags   map[string]string
	Joined time.Time
}

type ou struct {
	ID, Name, Parent string
}

// Server is the fake.
type Server struct {
	URL string
	// Root is the organization's root ID.
	Root string

	ts *httptest.Server

	mu            sync.Mutex
	keys          map[string]string // access key ID -> secret
	ous           []ou
	accounts      []*Account
	calls         map[string]int
	throttleNext  int
	throttleEvery int
	served        int
	tokens        map[string]bool
	nextID        int
}

// New starts a fake with an empty organization (one root) that accepts
// signatures by keys (access key ID → secret).
func New(keys map[string]string) *Server {
	s := &Server{Root: "r-ab12", keys: map[string]string{}, calls: map[string]int{}, tokens: map[string]bool{}}
	for k, v := range keys {
		s.keys[k] = v
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// NewForTest is New, closed when t ends.
func NewForTest(t testing.TB, keys map[string]string) *Server {
	s := New(keys)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// AddOU adds an organizational unit under parent (the root or an OU) and
// returns its ID.
func (s *Server) AddOU(parent, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("ou-ab12-%08d", s.nextID)
	s.ous = append(s.ous, ou{ID: id, Name: name, Parent: parent})
	return id
}

// AddAccount adds an account (State "" means ACTIVE).
func (s *Server) AddAccount(a Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.State == "" {
		a.State = "ACTIVE"
	}
	if a.Parent == "" {
		a.Parent = s.Root
	}
	if a.Email == "" {
		a.Email = "aws+" + a.ID + "@example.com"
	}
	if a.Joined.IsZero() {
		a.Joined = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	}
	s.accounts = append(s.accounts, &a)
}

// ThrottleNext makes the next n requests fail with TooManyRequestsException.
func (s *Server) ThrottleNext(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleNext = n
}

// ThrottleEvery makes every n-th request fail with TooManyRequestsException
// (0 stops).
func (s *Server) ThrottleEvery(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttleEvery = n
}

// Calls returns how many requests named action (throttled ones included).
func (s *Server) Calls(action string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[action]
}

// writeError answers an Organizations error.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "Message": msg})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-RequestId", requestID())
	_ = json.NewEncoder(w).Encode(v)
}

var reqN struct {
	sync.Mutex
	n int
}

func requestID() string {
	reqN.Lock()
	defer reqN.Unlock()
	reqN.n++
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", reqN.n)
}

type request struct {
	ParentID   string `json:"ParentId"`
	ResourceID string `json:"ResourceId"`
	NextToken  string `json:"NextToken"`
	MaxResults *int   `json:"MaxResults"`
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "unreadable body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	target := r.Header.Get("X-Amz-Target")
	action, ok := strings.CutPrefix(target, TargetPrefix)
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
		return
	}
	s.mu.Lock()
	s.calls[action]++
	s.served++
	throttle := s.throttleNext > 0 || (s.throttleEvery > 0 && s.served%s.throttleEvery == 0)
	if s.throttleNext > 0 {
		s.throttleNext--
	}
	s.mu.Unlock()
	if !s.authenticate(w, r, body) {
		return
	}
	if throttle {
		writeError(w, http.StatusBadRequest, "TooManyRequestsException", "AWS Organizations can't complete your request because another request is already in progress. Try again later.")
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		writeError(w, http.StatusBadRequest, "SerializationException", "Start of structure or map found where not expected.")
		return
	}
	limit := PageSize
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 20 {
			writeError(w, http.StatusBadRequest, "InvalidInputException", "You provided a value that does not match the required pattern.")
			return
		}
		limit = *req.MaxResults
	}
	start := 0
	if req.NextToken != "" {
		s.mu.Lock()
		known := s.tokens[req.NextToken]
		s.mu.Unlock()
		_, n, _ := strings.Cut(req.NextToken, ":")
		v, err := strconv.Atoi(n)
		if !known || err != nil {
			writeError(w, http.StatusBadRequest, "InvalidInputException", "The provided token is invalid.")
			return
		}
		start = v
	}
	switch action {
	case "ListRoots":
		s.page(w, "Roots", []any{map[string]any{"Id": s.Root, "Arn": "arn:aws:organizations::111111111111:root/" + Org + "/" + s.Root, "Name": "Root", "PolicyTypes": []any{}}}, start, limit, action)
	case "ListAccounts":
		s.page(w, "Accounts", s.accountsUnder(""), start, limit, action)
	case "ListAccountsForParent":
		if !s.parentExists(w, req.ParentID) {
			return
		}
		s.page(w, "Accounts", s.accountsUnder(req.ParentID), start, limit, action)
	case "ListOrganizationalUnitsForParent":
		if !s.parentExists(w, req.ParentID) {
			return
		}
		s.page(w, "OrganizationalUnits", s.ousUnder(req.ParentID), start, limit, action)
	case "ListTagsForResource":
		tags, ok := s.tagsOf(req.ResourceID)
		if !ok {
			writeError(w, http.StatusBadRequest, "TargetNotFoundException", "We can't find a resource with the specified ID.")
			return
		}
		s.page(w, "Tags", tags, start, limit, action)
	default:
		writeError(w, http.StatusBadRequest, "UnknownOperationException", "")
	}
}

func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, body []byte) bool {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		writeError(w, http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token")
		return false
	}
	a, err := sigcheck.Parse(auth)
	if err != nil || a.Service != "organizations" {
		writeError(w, http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters.")
		return false
	}
	s.mu.Lock()
	secret, ok := s.keys[a.AccessKeyID]
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return false
	}
	if !sigcheck.Verify(r, body, a, secret) {
		writeError(w, http.StatusBadRequest, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided.")
		return false
	}
	return true
}

func (s *Server) parentExists(w http.ResponseWriter, id string) bool {
	if !reOU.MatchString(id) && !reRoot.MatchString(id) {
		writeError(w, http.StatusBadRequest, "InvalidInputException", "You specified an invalid value.")
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if id == s.Root {
		return true
	}
	for _, o := range s.ous {
		if o.ID == id {
			return true
		}
	}
	writeError(w, http.StatusBadRequest, "ParentNotFoundException", "We can't find a root or OU with the ParentId that you specified.")
	return false
}

// accountsUnder lists the accounts directly under parent ("" for all).
func (s *Server) accountsUnder(parent string) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, a := range s.accounts {
		if parent != "" && a.Parent != parent {
			continue
		}
		status := a.State
		if status == "CLOSED" {
			status = "SUSPENDED"
		}
		out = append(out, map[string]any{
			"Id": a.ID, "Name": a.Name, "Email": a.Email,
			"Arn":             "arn:aws:organizations::111111111111:account/" + Org + "/" + a.ID,
			"State":           a.State,
			"Status":          status,
			"JoinedMethod":    "CREATED",
			"JoinedTimestamp": float64(a.Joined.UnixNano()) / 1e9,
		})
	}
	return out
}

func (s *Server) ousUnder(parent string) []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []any
	for _, o := range s.ous {
		if o.Parent == parent {
			out = append(out, map[string]any{"Id": o.ID, "Name": o.Name, "Arn": "arn:aws:organizations::111111111111:ou/" + Org + "/" + o.ID})
		}
	}
	return out
}

func (s *Server) tagsOf(id string) ([]any, bool) {
	if !reAccount.MatchString(id) && !reOU.MatchString(id) && !reRoot.MatchString(id) {
		return nil, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.accounts {
		if a.ID == id {
			keys := make([]string, 0, len(a.Tags))
			for k := range a.Tags {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			out := make([]any, 0, len(keys))
			for _, k := range keys {
				out = append(out, map[string]string{"Key": k, "Value": a.Tags[k]})
			}
			return out, true
		}
	}
	return nil, false
}

// page answers items[start:start+limit] under key, with a NextToken when
// more remain.
func (s *Server) page(w http.ResponseWriter, key string, items []any, start, limit int, action string) {
	if start > len(items) {
		start = len(items)
	}
	end := min(start+limit, len(items))
	out := map[string]any{key: items[start:end]}
	if end < len(items) {
		tok := fmt.Sprintf("%s-%s:%d", action, requestID(), end)
		s.mu.Lock()
		s.tokens[tok] = true
		s.mu.Unlock()
		out["NextToken"] = tok
	}
	writeJSON(w, out)
}
