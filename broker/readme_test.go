package broker_test

import (
	"os"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/broker"
)

// TestREADMEConfigParses: the broker configuration the README shows is
// valid, and says what the README says about it.
func TestREADMEConfigParses(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\n# /etc/rolehop/broker.yaml")
	if !ok {
		t.Fatal("README has no broker.yaml example")
	}
	y, _, _ := strings.Cut("# /etc/rolehop/broker.yaml"+rest, "```")
	c, err := broker.ParseConfig([]byte(y), "README.md")
	if err != nil {
		t.Fatalf("the README's broker.yaml: %v", err)
	}
	if c.ExternalURL.String() != "https://aws.example.com" || len(c.Targets) != 3 || c.Profile != "broker" ||
		c.TargetByPath("sandbox") == nil || !c.TargetByPath("sandbox").Allows(nil) {
		t.Errorf("parsed %+v", c)
	}
	_, rest, ok = strings.Cut(string(b), "```yaml\nstore: redis://")
	if !ok {
		t.Fatal("README has no Redis example")
	}
	redis, _, _ := strings.Cut("store: redis://"+rest, "```")
	if _, err := broker.ParseConfig([]byte(redis+y), "README.md"); err != nil {
		t.Errorf("the README's Redis lines: %v", err)
	}
}
