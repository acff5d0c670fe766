package broker

import (
	"strings"
	"testing"
)

func TestKeyring(t *testing.T) {
	old, err := parseKeys([]byte("# old\nold-key-0123456789abcdef0123456789abcdef\n"))
	if err != nil {
		t.Fatal(err)
	}
	v := old.sign("session", []byte("id-1"))
	if p, ok := old.verify("session", v); !ok || string(p) != "id-1" {
		t.Fatal("a value does not verify with its key")
	}
	if _, ok := old.verify("login", v); ok {
		t.Error("a session cookie passes as a login cookie")
	}
	rotated, err := parseKeys([]byte("new-key-0123456789abcdef0123456789abcdef\nold-key-0123456789abcdef0123456789abcdef\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rotated.verify("session", v); !ok {
		t.Error("after rotation, a cookie signed with the old key is refused")
	}
	if _, ok := old.verify("session", rotated.sign("session", []byte("x"))); ok {
		t.Error("the old key alone verifies the new key's signature")
	}
	p, m, _ := strings.Cut(v, ".")
	for _, bad := range []string{"", "x", p, p + ".", "." + m, b64.EncodeToString([]byte("id-2")) + "." + m, v + "A", strings.ToUpper(v)} {
		if _, ok := old.verify("session", bad); ok {
			t.Errorf("%q verifies", bad)
		}
	}
	for _, bad := range []string{"", "# only a comment\n", "short\n"} {
		if _, err := parseKeys([]byte(bad)); err == nil {
			t.Errorf("parseKeys(%q): no error", bad)
		}
	}
}
