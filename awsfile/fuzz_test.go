package awsfile

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzParse checks that every input the parser accepts renders back byte for
// byte, and that an edit of an accepted file either is refused with
// ErrUnsafeEdit or gives a file that parses, holds the values asked for, and
// keeps every other section (edit's own verification, exercised here).
func FuzzParse(f *testing.F) {
	f.Add([]byte(fixture), "work", "aws_access_key_id", "AKIAFUZZ", false)
	f.Add([]byte(fixture), "new", "region", "eu-west-1", false)
	f.Add([]byte(fixture), "work", "", "", true)
	for _, c := range malformedCases {
		f.Add([]byte(c.data), "p", "k", "v", false)
	}
	for _, c := range acceptedCases {
		f.Add([]byte(c.data), "p", "aws_access_key_id", "X", false)
	}
	f.Add([]byte("  [a]\n  x = 1\n  [b]\n  y = 2\n"), "a", "z", "3", false)
	f.Add([]byte("[a]\nx = 1\n[b]\n    y = 2\n    [c]\n    w = 1\n"), "b", "", "", true)
	f.Fuzz(func(t *testing.T, data []byte, profile, key, value string, del bool) {
		d, err := parse("fuzz", data)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("a rejected input gave %v, want a *ParseError with a line", err)
			}
			return
		}
		if got := d.render(); !bytes.Equal(got, data) {
			t.Fatalf("round trip changed the bytes:\n in %q\nout %q", data, got)
		}
		u := Update{Profile: profile, Delete: del}
		if !del {
			u.Set = map[string]string{key: value}
		}
		if validateUpdate(Credentials, u) != nil {
			return
		}
		out, err := edit("fuzz", data, Credentials, []Update{u})
		if errors.Is(err, ErrUnsafeEdit) {
			return
		}
		if err != nil {
			t.Fatalf("edit of an accepted file: %v", err)
		}
		d2, err := parse("fuzz", out)
		if err != nil {
			t.Fatalf("edited file does not parse: %v\n%q", err, out)
		}
		s := Credentials.find(d2, profile)
		if del {
			if s != nil {
				t.Fatalf("profile %q still present after delete", profile)
			}
			return
		}
		if s == nil || sectionValues(s)[key] != value {
			t.Fatalf("profile %q does not hold the new value:\n%q", profile, out)
		}
	})
}
