package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestImportsStaySmall: the fast path's whole point is what it does not
// link. Its imports must never gain the AWS SDK, smithy, the CLI and
// terminal libraries, the HTML parser or YAML.
func TestImportsStaySmall(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	forbidden := []string{
		"github.com/aws/aws-sdk-go-v2", "github.com/aws/smithy-go", "github.com/spf13/cobra", "github.com/spf13/pflag",
		"github.com/charmbracelet/", "golang.org/x/net/html", "gopkg.in/yaml", "github.com/goccy/go-yaml", "sigs.k8s.io/yaml",
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps printed %q", out)
	}
	for _, d := range deps {
		for _, f := range forbidden {
			if strings.HasPrefix(d, f) {
				t.Errorf("rolehop-credential-process links %s; keep it out (hand the work to rolehop instead)", d)
			}
		}
	}
}

func TestParseArgs(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ok   bool
		want flags
	}{
		{[]string{"--profile", "p"}, true, flags{profile: "p"}},
		{[]string{"--profile=p", "--duration", "2h"}, true, flags{profile: "p", duration: 2 * time.Hour}},
		{[]string{"--region", "r", "--profile", "p", "--duration=3600"}, true, flags{profile: "p", duration: time.Hour}},
		{[]string{}, false, flags{}},
		{[]string{"--profile"}, false, flags{}},
		{[]string{"--profile="}, false, flags{}},
		{[]string{"--profile", "p", "--profile", "q"}, false, flags{}},
		{[]string{"--profile", "p", "--duration", "soon"}, false, flags{}},
		{[]string{"-h"}, false, flags{}},
		{[]string{"--profile", "p", "--debug"}, false, flags{}},
		{[]string{"p"}, false, flags{}},
	} {
		got, ok := parseArgs(tc.args)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("parseArgs(%q) = %+v, %v; want %+v, %v", tc.args, got, ok, tc.want, tc.ok)
		}
	}
}
