package broker

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/session"
)

func TestSessionName(t *testing.T) {
	for in, want := range map[string]string{
		"alice":             "alice",
		"alice@example.org": "alice@example.org",
		"a.b+c=d,e-f_g":     "a.b+c=d,e-f_g",
	} {
		if got := SessionName(in); got != want {
			t.Errorf("SessionName(%q) = %q, want it unchanged", in, got)
		}
	}
	long := strings.Repeat("x", 70)
	cases := []string{"Alice Smith", "jürgen", "jörgen", "a", "", "aws:admin", "AWS:x", long, long + "y",
		"CN=alice,OU=people,DC=example", "alice\x00bob", "ali/ce", "ali\nce"}
	seen := map[string]string{}
	for _, in := range cases {
		got := SessionName(in)
		if err := session.ValidateSessionName(got); err != nil {
			t.Errorf("SessionName(%q) = %q: %v", in, got, err)
		}
		if strings.HasPrefix(strings.ToLower(got), "aws:") {
			t.Errorf("SessionName(%q) = %q starts with aws:", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("SessionName(%q) = SessionName(%q) = %q: attribution would be ambiguous", in, prev, got)
		}
		seen[got] = in
	}
	if got := SessionName("Alice Smith"); !strings.HasPrefix(got, "Alice_Smith-") {
		t.Errorf("SessionName(Alice Smith) = %q", got)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]rune, r.IntN(100))
		for i := range b {
			b[i] = rune(r.IntN(0x3000))
		}
		s := string(b)
		if err := session.ValidateSessionName(SessionName(s)); err != nil {
			t.Fatalf("SessionName(%q) = %q: %v", s, SessionName(s), err)
		}
	}
}

func TestSessionTags(t *testing.T) {
	if got := tagValue("CN=alice,OU=x (admin)"); got != "CN=alice_OU=x _admin_" {
		t.Errorf("tagValue = %q", got)
	}
	if got := groupsTag([]string{"admins", "dev ops", "a,b"}); got != "admins:dev ops:a_b" {
		t.Errorf("groupsTag = %q", got)
	}
	many := make([]string, 100)
	for i := range many {
		many[i] = strings.Repeat("g", 10)
	}
	got := groupsTag(many)
	if len(got) > 256 || strings.HasSuffix(got, ":") || len(got)%11 != 10 {
		t.Errorf("groupsTag of 100 groups: %d characters %q", len(got), got)
	}
	if err := (session.AssumeRoleParams{Tags: map[string]string{"user": tagValue("jürgen <j@x>"), "groups": got}}).Validate(); err != nil {
		t.Errorf("tags refused by STS's rules: %v", err)
	}
}
