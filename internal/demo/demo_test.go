package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/testpeer"
)

func TestMain(m *testing.M) { testpeer.RunMain(m) }

// TestDemo runs `make demo`'s program end to end against the real peers, so
// the README's demo keeps working.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo starts every peer")
	}
	const awsCLI = "/usr/bin/aws"
	if _, err := os.Stat(awsCLI); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 (%s) is not installed", awsCLI)
	}
	dir := t.TempDir()
	bin := testpeer.Program(t, "rolehop")
	var out bytes.Buffer
	err := run(context.Background(), config{Rolehop: bin, AWS: awsCLI, Dir: filepath.Join(dir, "work"), Out: &out})
	if err != nil {
		if strings.Contains(err.Error(), "test peer not installed") {
			testpeer.Missing(t, "%v", err)
		}
		t.Fatalf("demo failed: %v\n%s", err, out.String())
	}
	text := out.String()
	for _, want := range []string{
		"sandbox",                    // roles shows the alias
		"hello.txt",                  // aws s3 ls lists the uploaded object
		"[keep-me]",                  // the pre-existing profile survives
		"credentials file unchanged", // the failed login touched nothing
	} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	for _, secret := range []string{"alicepass", "not-a-real-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("demo output shows the secret %q", secret)
		}
	}
}
