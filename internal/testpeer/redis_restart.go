package testpeer

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
)

// Restart stops the server (if it runs) and starts a fresh one on the same
// address, with its files under dir: an outage and recovery as clients see
// them (the data is gone, as with a Redis without persistence). The broker
// tests use it to check that a client recovers without being restarted.
func (r *Redis) Restart(ctx context.Context, dir string) error {
	_ = r.Stop()
	bin, err := findSystemBin("redis-server", "redis-server")
	if err != nil {
		return err
	}
	_, port, err := net.SplitHostPort(r.Addr)
	if err != nil {
		return fmt.Errorf("redis address %q: %w", r.Addr, err)
	}
	p, err := startProc("redis-server", bin,
		[]string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir},
		nil, dir, filepath.Join(dir, "redis.log"))
	if err != nil {
		return err
	}
	if err := p.waitReady(ctx, func(ctx context.Context) error { return redisPing(ctx, r.Addr) }); err != nil {
		_ = p.stop()
		return err
	}
	r.p = p
	return nil
}
