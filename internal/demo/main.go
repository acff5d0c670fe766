package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	c := config{Out: os.Stdout}
	var hold bool
	flag.StringVar(&c.Rolehop, "rolehop", "bin/rolehop", "path to the rolehop binary")
	flag.StringVar(&c.AWS, "aws", "/usr/bin/aws", "path to the AWS CLI v2")
	flag.StringVar(&c.Dir, "dir", "", "work folder (default: a new temporary folder, removed at the end)")
	flag.BoolVar(&hold, "hold", false, "keep the peers running after the demo and print the environment to try more commands")
	flag.Parse()

	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.Dir == "" {
		dir, err := os.MkdirTemp("", "rolehop-demo-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(dir)
		c.Dir = dir
	}
	if hold {
		c.Hold = func(env []string) {
			fmt.Println("\nThe peers keep running. Test users of the IdP: alice / alicepass (groups admins, dev: roles Admin and Dev)")
			fmt.Println("and bob / bobpass (group dev: role Dev). In another shell, try for example:")
			for _, kv := range env {
				if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "ROLEHOP_") || strings.HasPrefix(kv, "MINIO_") {
					fmt.Printf("  export %s\n", kv)
				}
			}
			fmt.Printf("  %s login --login demo --all\n  %s roles --login demo\n  %s console demo --print\n  %s exec demo -- aws --endpoint-url \"$MINIO_ENDPOINT\" s3 ls\n",
				c.Rolehop, c.Rolehop, c.Rolehop, c.Rolehop)
			fmt.Println("Ctrl-C stops them.")
			<-sigCtx.Done() // Ctrl-C
		}
	}
	ctx, cancel := context.WithTimeout(sigCtx, deadline)
	defer cancel()
	if err := run(ctx, c); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "demo: %v\n", err)
	os.Exit(1)
}
