package credcache

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// helperMode is what a child process started by a test does, named by
// CREDCACHE_HELPER; it exits non-zero on failure.
func helperMode(mode string) {
	dir := os.Getenv("CREDCACHE_DIR")
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(3)
	}
	switch mode {
	case "get": // one Get, as credential-process would; prints the key ID
		c := &Cache{Dir: dir, Logger: log}
		cr, err := c.Get(context.Background(), testKey, func(context.Context) (aws.Credentials, error) {
			return creds(9, time.Now().Add(time.Hour)), nil
		})
		if err != nil {
			fail(err)
		}
		fmt.Print(cr.AccessKeyID)
	case "stall": // stop for ever half way through writing the entry
		testHookMidWrite = func() {
			_ = os.WriteFile(os.Getenv("CREDCACHE_SIGNAL"), nil, 0o600)
			select {}
		}
		c := &Cache{Dir: dir, RefreshWindow: 2 * time.Hour}
		_, err := c.Get(context.Background(), testKey, func(context.Context) (aws.Credentials, error) {
			return creds(5000, time.Now().Add(time.Hour)), nil
		})
		fail(fmt.Errorf("the write finished instead of stalling: %v", err))
	case "loop": // refresh and write for ever, until killed
		// A refresh window longer than the lifetime: every Get fetches
		// and writes.
		c := &Cache{Dir: dir, RefreshWindow: 2 * time.Hour}
		_ = os.WriteFile(os.Getenv("CREDCACHE_SIGNAL"), nil, 0o600)
		for n := 1; ; n++ {
			if _, err := c.Get(context.Background(), testKey, func(context.Context) (aws.Credentials, error) {
				return creds(n%10000, time.Now().Add(time.Hour)), nil
			}); err != nil {
				fail(err)
			}
		}
	default:
		fail(fmt.Errorf("unknown helper mode %q", mode))
	}
}
