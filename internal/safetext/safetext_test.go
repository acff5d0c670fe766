package safetext

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Incorrect username or password", "Incorrect username or password"},
		{"\x1b]0;pwned\x07title", "]0;pwned title"},
		{"\x1b[2J\x1b[Hcleared", "[2J [Hcleared"},
		{"line one\nrolehop: forged line\r\n", "line one rolehop: forged line"},
		{"tab\there  and   spaces", "tab here and spaces"},
		{"user \u202egnp.exe\u202c done", "user gnp.exe done"},
		{"\u2066isolate\u2069 \u200fmark\u200e \u061c", "isolate mark"},
		{"zero\u200bwidth\ufeff soft\u00adhyphen", "zerowidth softhyphen"},
		{"tags\U000E0041\U000E0042 hidden", "tags hidden"},
		{"bad \xff\xfe utf8", "bad \ufffd\ufffd utf8"},
		{"nel\u0085sep\u2028para\u2029end", "nel sep para end"},
		{"del\x7fc1\u009bx", "del c1 x"},
		{"   ", ""},
	} {
		if got := Clean(c.in, 0); got != c.want {
			t.Errorf("Clean(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestCleanBoundsLength(t *testing.T) {
	if got := Clean(strings.Repeat("é", 1000), 10); got != strings.Repeat("é", 10)+Ellipsis {
		t.Errorf("got %q", got)
	}
	if got := Clean("exactly ten", 11); got != "exactly ten" {
		t.Errorf("got %q", got)
	}
	if got := Clean("abc def", 3); got != "abc"+Ellipsis {
		t.Errorf("got %q", got)
	}
	if got := Line(strings.Repeat("x", 1<<20)); utf8.RuneCountInString(got) != DefaultMax+len(Ellipsis) {
		t.Errorf("Line kept %d characters", utf8.RuneCountInString(got))
	}
}

func FuzzClean(f *testing.F) {
	for _, s := range []string{"", "a\x1b[31mb", "\u202e", "x\ny", "\xff"} {
		f.Add(s, 20)
	}
	f.Fuzz(func(t *testing.T, s string, max int) {
		max = max%500 + 1
		if max <= 0 {
			max += 500
		}
		got := Clean(s, max)
		if !utf8.ValidString(got) {
			t.Fatalf("invalid UTF-8 out: %q", got)
		}
		if n := utf8.RuneCountInString(got); n > max+len(Ellipsis) {
			t.Fatalf("%d runes, max %d", n, max)
		}
		for _, r := range got {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || (unicode.IsSpace(r) && r != ' ') {
				t.Fatalf("kept %U in %q", r, got)
			}
		}
		if strings.Contains(got, "  ") || strings.HasPrefix(got, " ") {
			t.Fatalf("spaces not collapsed: %q", got)
		}
	})
}
