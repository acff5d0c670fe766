package testpeer

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
)

// Redis is a running redis-server on loopback, without persistence or a
// password.
type Redis struct {
	Addr string // "127.0.0.1:PORT"

	p *proc
}

// NewRedis starts a fresh redis-server with its files in t.TempDir() and
// stops it in t.Cleanup. A missing redis-server skips the test (fails it when
// CI=true).
func NewRedis(t testing.TB) *Redis {
	t.Helper()
	r, err := StartRedis(context.Background(), t.TempDir())
	if err != nil {
		fatalOrMissing(t, "start Redis", err)
		return nil
	}
	t.Cleanup(func() {
		if err := r.Stop(); err != nil {
			t.Errorf("stop Redis: %v", err)
		}
	})
	return r
}

// StartRedis starts redis-server on a free loopback port with its log
// (redis.log) under dir and waits until it answers PING. ctx bounds only the
// start; the server runs until Stop.
func StartRedis(ctx context.Context, dir string) (*Redis, error) {
	bin, err := findSystemBin("redis-server", "redis-server")
	if err != nil {
		return nil, err
	}
	r := &Redis{}
	p, err := startWithRetry(ctx, func(int) (*proc, error) {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r.Addr = fmt.Sprintf("127.0.0.1:%d", port)
		p, err := startProc("redis-server", bin,
			[]string{"--bind", "127.0.0.1", "--port", itoa(port), "--save", "", "--appendonly", "no",
				"--daemonize", "no", "--dir", dir},
			nil, dir, filepath.Join(dir, "redis.log"))
		if err != nil {
			return nil, err
		}
		return p, p.waitReady(ctx, func(ctx context.Context) error { return redisPing(ctx, r.Addr) })
	})
	if err != nil {
		return nil, err
	}
	r.p = p
	return r, nil
}

// Stop stops the server. It is safe to call more than once.
func (r *Redis) Stop() error {
	if r == nil || r.p == nil {
		return nil
	}
	return r.p.stop()
}

// redisPing sends PING over a fresh TCP connection and expects +PONG.
func redisPing(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redis PING answered %q", strings.TrimSpace(line))
	}
	return nil
}
