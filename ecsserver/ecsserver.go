// Package ecsserver is a local credentials endpoint in the ECS container
// credentials format, for long-running tools: every AWS SDK and the AWS CLI
// read credentials from it when AWS_CONTAINER_CREDENTIALS_FULL_URI and
// AWS_CONTAINER_AUTHORIZATION_TOKEN are set, and come back for fresh ones
// before the previous ones expire.
//
// The server listens on loopback only (127.0.0.1, a random port by default)
// and answers only requests whose Authorization header is its token (a
// random 32-byte value per server, compared in constant time); anything
// else gets 401. A GET of any path answers
//
//	{"AccessKeyId": "...", "SecretAccessKey": "...", "Token": "...",
//	 "Expiration": "2026-11-22T16:00:00Z", "RoleArn": "..."}
//
// with credentials from the Provider, called on every request: give it one
// that caches and refreshes (a source.Source's Provider refreshes through
// the on-disk cache 15 minutes before expiry).
//
// Other local users can connect to a loopback port, so the server is built
// to stay healthy under a flood from a user without the token:
//
//   - timeouts on every phase (request headers 5 s, the whole request 10 s,
//     the answer 1 min, an idle keep-alive connection 30 s);
//   - at most Options.MaxConns connections (default 64): when all are in
//     use, the one that has waited longest without a request in progress
//     (just opened, or idle between requests) is closed to make room, and
//     when every one is busy the next waits in the kernel's queue;
//   - a refused request (wrong Host, missing or wrong token) is answered
//     with "Connection: close", so it cannot keep its connection;
//   - the warning for refused requests is logged at most once a minute,
//     with the number left out since, so a flood does not scroll the
//     user's terminal; its request path is sanitised (internal/safetext);
//   - the Host header must name the server itself (127.0.0.1, localhost
//     or [::1] with its port): defence in depth against DNS rebinding from
//     a browser, on top of the token.
package ecsserver

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/internal/safetext"
)

// Options configure New; the zero value works.
type Options struct {
	// Addr is the listen address; "" means 127.0.0.1:0 (a random port).
	// Only loopback addresses are accepted.
	Addr string
	// Token is the bearer token; "" means 32 random bytes, hex-encoded.
	Token string
	// RoleARN, when set, is reported as RoleArn.
	RoleARN string
	// Logger receives one line per request (never a secret); nil discards.
	Logger *slog.Logger
	// MaxConns bounds the open connections; 0 means DefaultMaxConns.
	MaxConns int
}

// DefaultMaxConns is the default connection limit: far more than the tools
// of one user keep open to a credentials endpoint.
const DefaultMaxConns = 64

// Timeouts of the HTTP server, and how often a refused request is warned
// about (variables only so that this package's tests can shorten them).
var (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = time.Minute
	idleTimeout       = 30 * time.Second
	warnEvery         = time.Minute
)

// ErrNotLoopback is returned for a listen address outside loopback.
var ErrNotLoopback = errors.New("ecsserver: listen address is not loopback")

// Server is a running credentials endpoint.
type Server struct {
	provider aws.CredentialsProvider
	token    []byte
	roleARN  string
	log      *slog.Logger
	ln       *limitListener
	srv      *http.Server
	hosts    map[string]bool // Host header values naming this server

	warnMu     sync.Mutex
	lastWarn   time.Time
	suppressed int
}

// Response is the ECS container credentials document.
type Response struct {
	AccessKeyId     string //nolint:revive // the wire name
	SecretAccessKey string
	Token           string
	Expiration      string `json:",omitempty"`
	RoleArn         string `json:",omitempty"` //nolint:revive // the wire name
}

// New listens on opts.Addr and returns the server; call Serve to answer
// requests and Close (or cancel Serve's context) to stop.
func New(provider aws.CredentialsProvider, opts Options) (*Server, error) {
	if provider == nil {
		return nil, errors.New("ecsserver: no credentials provider")
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("ecsserver: listen address %q: want host:port: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: %q; use 127.0.0.1", ErrNotLoopback, addr)
	}
	token := opts.Token
	if token == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, fmt.Errorf("ecsserver: generate token: %w", err)
		}
		token = hex.EncodeToString(b)
	}
	inner, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ecsserver: listen on %s: %w", addr, err)
	}
	max := opts.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	ln := newLimitListener(inner, max)
	s := &Server{provider: provider, token: []byte(token), roleARN: opts.RoleARN, log: opts.Logger, ln: ln}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	_, port, _ := net.SplitHostPort(inner.Addr().String())
	s.hosts = map[string]bool{}
	for _, h := range []string{"127.0.0.1", "localhost", "::1", host} {
		s.hosts[strings.ToLower(net.JoinHostPort(h, port))] = true
	}
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ConnState:         ln.track,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	return s, nil
}

// URL is the value for AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Addr is the listener's address (always loopback).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Token is the value for AWS_CONTAINER_AUTHORIZATION_TOKEN.
func (s *Server) Token() string { return string(s.token) }

// Env returns the two environment variables, as KEY=VALUE.
func (s *Server) Env() []string {
	return []string{
		"AWS_CONTAINER_CREDENTIALS_FULL_URI=" + s.URL(),
		"AWS_CONTAINER_AUTHORIZATION_TOKEN=" + s.Token(),
	}
}

// Serve answers requests until ctx ends or Close is called; it returns nil
// then.
func (s *Server) Serve(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { _ = s.Close() })
	defer stop()
	err := s.srv.Serve(s.ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return s.srv.Shutdown(ctx)
}

// ServeHTTP answers one credentials request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.hosts[strings.ToLower(r.Host)] {
		s.refuse(w, r, http.StatusForbidden, `{"message":"wrong Host header; use the URL in AWS_CONTAINER_CREDENTIALS_FULL_URI"}`, "a Host header that is not this server")
		return
	}
	got := r.Header.Get("Authorization")
	// Some clients send "Bearer <token>"; accept both spellings.
	got = strings.TrimPrefix(got, "Bearer ")
	if subtle.ConstantTimeCompare([]byte(got), s.token) != 1 {
		s.refuse(w, r, http.StatusUnauthorized, `{"message":"missing or wrong authorization token"}`, "without the right authorization token")
		return
	}
	if r.Method != http.MethodGet {
		http.Error(w, `{"message":"use GET"}`, http.StatusMethodNotAllowed)
		return
	}
	c, err := s.provider.Retrieve(r.Context())
	if err != nil {
		s.log.Error("ecsserver: credentials unavailable", "err", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_ = json.NewEncoder(w).Encode(map[string]string{"code": "CredentialsUnavailable", "message": oneLine(err.Error())})
		return
	}
	resp := Response{AccessKeyId: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, Token: c.SessionToken, RoleArn: s.roleARN}
	if c.CanExpire {
		resp.Expiration = c.Expires.UTC().Format(time.RFC3339)
	}
	s.log.Debug("ecsserver: served credentials", "remote", r.RemoteAddr, "expires", resp.Expiration)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// refuse answers a request that is not let in, closes its connection, and
// warns at most once per warnEvery.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, body, why string) {
	w.Header().Set("Connection", "close")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")

	now := time.Now()
	s.warnMu.Lock()
	if !s.lastWarn.IsZero() && now.Sub(s.lastWarn) < warnEvery {
		s.suppressed++
		s.warnMu.Unlock()
		return
	}
	n := s.suppressed
	s.lastWarn, s.suppressed = now, 0
	s.warnMu.Unlock()
	args := []any{"remote", r.RemoteAddr, "path", safetext.Clean(r.URL.EscapedPath(), 80)}
	if n > 0 {
		args = append(args, "refused_since_last_warning", n)
	}
	s.log.Warn("ecsserver: refused a request "+why, args...)
}

func oneLine(s string) string { return safetext.Clean(s, 400) }
