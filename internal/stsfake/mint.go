package stsfake

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// MintRequest is what a Minter is asked for: credentials for a session of
// RoleARN named SessionName, valid for Duration, limited by Policy (an inline
// session policy, empty for none).
type MintRequest struct {
	RoleARN     string
	SessionName string
	Duration    time.Duration
	Policy      string
}

// Minter makes the temporary credentials the fake hands out for
// AssumeRoleWithSAML. The default mints random ones only this server knows;
// NewMinIOMinter gets real ones from MinIO, usable on its S3.
type Minter interface {
	Mint(ctx context.Context, req MintRequest) (Credentials, error)
}

// MinterFunc adapts a function to Minter.
type MinterFunc func(ctx context.Context, req MintRequest) (Credentials, error)

// Mint calls f.
func (f MinterFunc) Mint(ctx context.Context, req MintRequest) (Credentials, error) {
	return f(ctx, req)
}

// WithMinter makes AssumeRoleWithSAML hand out credentials minted by m (for
// example NewMinIOMinter's real MinIO credentials). The server still remembers
// them, so calls signed with them (a chained AssumeRole) are attributed to the
// SAML session.
func WithMinter(m Minter) Option { return func(s *Server) { s.samlState().setMinter(m) } }

// SetMinter is WithMinter for a running server.
func (s *Server) SetMinter(m Minter) { s.samlState().setMinter(m) }

// NewMinIOMinter returns a Minter that calls MinIO's STS AssumeRole with the
// root credentials (signed by the SDK's STS client), forwarding the duration
// and session policy: the credentials it mints work on MinIO's S3. MinIO
// ignores the role ARN, so every role gets root's permissions minus the
// session policy.
func NewMinIOMinter(endpoint, rootUser, rootPass, region string) Minter {
	if region == "" {
		region = "us-east-1"
	}
	client := sts.NewFromConfig(aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(rootUser, rootPass, ""),
		BaseEndpoint: aws.String(endpoint),
	})
	return MinterFunc(func(ctx context.Context, req MintRequest) (Credentials, error) {
		in := &sts.AssumeRoleInput{
			RoleArn:         aws.String(req.RoleARN),
			RoleSessionName: aws.String(req.SessionName),
		}
		if req.Duration > 0 {
			in.DurationSeconds = aws.Int32(int32(req.Duration / time.Second))
		}
		if req.Policy != "" {
			in.Policy = aws.String(req.Policy)
		}
		out, err := client.AssumeRole(ctx, in)
		if err != nil {
			return Credentials{}, fmt.Errorf("minio assume role: %w", err)
		}
		c := out.Credentials
		if c == nil || c.Expiration == nil {
			return Credentials{}, errors.New("minio assume role answered without credentials")
		}
		return Credentials{
			AccessKeyID:     aws.ToString(c.AccessKeyId),
			SecretAccessKey: aws.ToString(c.SecretAccessKey),
			SessionToken:    aws.ToString(c.SessionToken),
			Expiration:      c.Expiration.UTC().Truncate(time.Second),
		}, nil
	})
}

// randomMinter mints random credentials valid for the requested duration on
// the server's clock (what AssumeRole hands out too).
func (s *Server) randomMinter() Minter {
	return MinterFunc(func(_ context.Context, req MintRequest) (Credentials, error) {
		return Credentials{
			AccessKeyID:     "ASIA" + randomID(16),
			SecretAccessKey: randomB64(30),
			SessionToken:    randomB64(150),
			Expiration:      s.now().Add(req.Duration).UTC().Truncate(time.Second),
		}, nil
	})
}

// mint makes credentials for a session and remembers them as issued with
// chain depth 1, so later calls signed with them are attributed to the role.
func (s *Server) mint(ctx context.Context, req MintRequest) (Issued, error) {
	m := s.samlState().getMinter()
	if m == nil {
		m = s.randomMinter()
	}
	creds, err := m.Mint(ctx, req)
	if err != nil {
		return Issued{}, err
	}
	is := s.IssueCredentials(req.RoleARN, req.SessionName, req.Duration, 1)
	s.mu.Lock()
	delete(s.issued, is.AccessKeyID)
	is.Credentials = creds
	cp := is
	s.issued[creds.AccessKeyID] = &cp
	s.mu.Unlock()
	return is, nil
}

// samlServerState is the SAML side of a Server: trusted IdPs and the minter.
// It is a field of the Server, made on first use by samlState (TrustIdP,
// WithMinter), with its own lock.
type samlServerState struct {
	mu     sync.Mutex
	minter Minter
	idps   map[string]*trustedIdP // principal ARN -> IdP
}

func (st *samlServerState) setMinter(m Minter) {
	st.mu.Lock()
	st.minter = m
	st.mu.Unlock()
}

func (st *samlServerState) getMinter() Minter {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.minter
}

// samlState is the server's SAML state (trusted IdPs, minter), made on
// first use.
func (s *Server) samlState() *samlServerState {
	s.samlOnce.Do(func() { s.saml = &samlServerState{idps: map[string]*trustedIdP{}} })
	return s.saml
}

// mintFailed answers a minter failure as AWS answers an internal error.
func mintFailed(w http.ResponseWriter) {
	WriteError(w, http.StatusInternalServerError, "InternalFailure", "An internal error occurred.")
}
