package testpeer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// MinIO is a running MinIO server: S3 and an STS that implements AssumeRole.
type MinIO struct {
	Endpoint     string // "http://127.0.0.1:PORT"
	RootUser     string
	RootPassword string
	Region       string // "us-east-1"
	Dir          string // data, config and logs

	p *proc

	mcMu    sync.Mutex
	mcAlias bool
}

// NewMinIO starts a fresh MinIO with its data in t.TempDir() and stops it in
// t.Cleanup. A missing minio binary skips the test (fails it when CI=true).
func NewMinIO(t testing.TB) *MinIO {
	t.Helper()
	m, err := StartMinIO(context.Background(), t.TempDir())
	if err != nil {
		fatalOrMissing(t, "start MinIO", err)
		return nil
	}
	t.Cleanup(func() {
		if err := m.Stop(); err != nil {
			t.Errorf("stop MinIO: %v", err)
		}
	})
	return m
}

// StartMinIO starts MinIO on free loopback ports with its data, config and
// log (minio.log) under dir, and waits until it is live. ctx bounds only the
// start; the server runs until Stop.
func StartMinIO(ctx context.Context, dir string) (*MinIO, error) {
	bin, err := findPeerBin("minio")
	if err != nil {
		return nil, err
	}
	m := &MinIO{
		RootUser:     "rolehop-root",
		RootPassword: randomHex(16),
		Region:       "us-east-1",
		Dir:          dir,
	}
	data := filepath.Join(dir, "data")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("create MinIO folder: %w", err)
		}
	}
	p, err := startWithRetry(ctx, func(int) (*proc, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		cport, err := freePort()
		if err != nil {
			return nil, err
		}
		m.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
		p, err := startProc("minio", bin,
			[]string{"server", data,
				"--address", "127.0.0.1:" + itoa(port),
				"--console-address", "127.0.0.1:" + itoa(cport),
				"--certs-dir", certs, "--quiet"},
			[]string{
				"MINIO_ROOT_USER=" + m.RootUser,
				"MINIO_ROOT_PASSWORD=" + m.RootPassword,
				"MINIO_BROWSER=off",
				"MINIO_UPDATE=off",
				"MINIO_REGION=" + m.Region,
			},
			dir, filepath.Join(dir, "minio.log"))
		if err != nil {
			return nil, err
		}
		live := m.Endpoint + "/minio/health/live"
		return p, p.waitReady(ctx, func(ctx context.Context) error {
			if err := httpOK(ctx, live); err != nil {
				return err
			}
			// Live is not ready: MinIO answers health checks before its IAM
			// subsystem is up, and an STS call then fails with "Server not
			// initialized". Ready means STS hands out credentials.
			return m.stsReady(ctx)
		})
	})
	if err != nil {
		return nil, err
	}
	m.p = p
	return m, nil
}

// stsReady makes one AssumeRole call with the root credentials, without
// retries.
func (m *MinIO) stsReady(ctx context.Context) error {
	cfg := m.Config()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	_, err := sts.NewFromConfig(cfg).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String("arn:aws:iam::000000000000:role/ready-check"),
		RoleSessionName: aws.String("ready-check"),
		DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		return fmt.Errorf("sts not ready: %w", err)
	}
	return nil
}

// Stop stops the server (SIGTERM, then SIGKILL after a while). It is safe to
// call more than once.
func (m *MinIO) Stop() error {
	if m == nil || m.p == nil {
		return nil
	}
	return m.p.stop()
}

// Config returns an aws.Config with the root credentials (static), Region and
// BaseEndpoint set to the server. S3 clients built from it should set
// UsePathStyle.
func (m *MinIO) Config() aws.Config {
	return aws.Config{
		Region:       m.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(m.RootUser, m.RootPassword, ""),
		BaseEndpoint: aws.String(m.Endpoint),
	}
}

// AddUser creates an IAM user with the given keys and attaches a canned
// policy ("readwrite", "readonly", "writeonly", "diagnostics"), using mc.
// A missing mc binary skips the test (fails it when CI=true).
func (m *MinIO) AddUser(t testing.TB, accessKey, secretKey, policy string) {
	t.Helper()
	if err := m.CreateUser(context.Background(), accessKey, secretKey, policy); err != nil {
		fatalOrMissing(t, "add MinIO user", err)
	}
}

// CreateUser is AddUser for programs that are not tests.
func (m *MinIO) CreateUser(ctx context.Context, accessKey, secretKey, policy string) error {
	if len(accessKey) < 3 || len(secretKey) < 8 {
		return fmt.Errorf("minio user %q: access key needs 3+ characters and secret key 8+", accessKey)
	}
	m.mcMu.Lock()
	defer m.mcMu.Unlock()
	if !m.mcAlias {
		if err := m.mc(ctx, "set an alias", "alias", "set", "rolehop", m.Endpoint, m.RootUser, m.RootPassword, "--api", "S3v4"); err != nil {
			return err
		}
		m.mcAlias = true
	}
	if err := m.mc(ctx, "add user "+accessKey, "admin", "user", "add", "rolehop", accessKey, secretKey); err != nil {
		return err
	}
	return m.mc(ctx, "attach policy "+policy+" to "+accessKey, "admin", "policy", "attach", "rolehop", policy, "--user", accessKey)
}

// mc runs one mc command with its config in Dir/mc. Arguments may hold
// secrets, so errors name only what was attempted and mc's output.
func (m *MinIO) mc(ctx context.Context, what string, args ...string) error {
	bin, err := findPeerBin("mc")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"--no-color", "--quiet"}, args...)...)
	cmd.Env = append(os.Environ(), "MC_CONFIG_DIR="+filepath.Join(m.Dir, "mc"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		msg := strings.Join(strings.Fields(string(out)), " ")
		msg = strings.ReplaceAll(msg, m.RootPassword, "<redacted>")
		return fmt.Errorf("mc: %s: %w: %s", what, err, msg)
	}
	return nil
}

// httpOK returns nil when GET url answers 200.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := peerHTTP.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// peerHTTP talks to peers directly, never through a proxy from the environment.
var peerHTTP = &http.Client{Transport: &http.Transport{Proxy: nil}}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b)
}
