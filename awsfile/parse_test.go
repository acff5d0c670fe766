package awsfile

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

// fixture has both comment styles, blank lines, odd spacing, an inline '#'
// that is part of a value, a nested value, and a last profile without a
// trailing newline.
const fixture = "# AWS credentials, partly written by hand\n" +
	"; a second comment style\n" +
	"\n" +
	"[default]\n" +
	"aws_access_key_id = AKIADEFAULT\n" +
	"aws_secret_access_key=secretdefault\n" +
	"  # an indented comment\n" +
	"\n" +
	"\n" +
	"[work]   \n" +
	"aws_access_key_id   =   AKIAWORK    \n" +
	"aws_secret_access_key: secretwork\n" +
	"region = eu-west-1 # part of the value for the AWS CLI\n" +
	"s3 =\n" +
	"  max_concurrent_requests = 10\n" +
	"\n" +
	"  multipart_threshold = 64MB\n" +
	"\n" +
	"; comment about personal\n" +
	"[personal]\n" +
	"aws_access_key_id = AKIAPERSONAL\n" +
	"aws_secret_access_key = secretpersonal"

func mustParse(t testing.TB, s string) *document {
	t.Helper()
	d, err := parse("fixture", []byte(s))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return d
}

func values(t testing.TB, s string, kind Kind, profile string) map[string]string {
	t.Helper()
	sec := kind.find(mustParse(t, s), profile)
	if sec == nil {
		t.Fatalf("profile %q not found", profile)
	}
	return sectionValues(sec)
}

func TestParseReadsLikeTheAWSCLI(t *testing.T) {
	d := mustParse(t, fixture)
	if got := string(d.render()); got != fixture {
		t.Fatalf("render changed the bytes:\n%q", got)
	}
	var names []string
	for _, s := range d.sections {
		names = append(names, s.name)
	}
	if strings.Join(names, ",") != "default,work,personal" {
		t.Fatalf("sections = %v", names)
	}
	work := values(t, fixture, Credentials, "work")
	want := map[string]string{
		"aws_access_key_id":     "AKIAWORK",
		"aws_secret_access_key": "secretwork",
		"region":                "eu-west-1 # part of the value for the AWS CLI",
		"s3":                    "\nmax_concurrent_requests = 10\n\nmultipart_threshold = 64MB",
	}
	if !maps.Equal(work, want) {
		t.Fatalf("work = %q\nwant %q", work, want)
	}
	if v := values(t, fixture, Credentials, "personal")["aws_secret_access_key"]; v != "secretpersonal" {
		t.Fatalf("personal secret = %q", v)
	}
}

// malformedCases are files the AWS CLI 2.9 (botocore's configparser) refuses
// with "Unable to parse config file"; awscli_test.go checks the CLI agrees.
var malformedCases = []struct {
	name, data string
	line       int
	msg        string
}{
	{"key before any section", "aws_access_key_id = AKIA\n[p]\nx = 1\n", 1, "before the first [section]"},
	{"unclosed header first", "# c\n[unclosed\n[p]\naws_access_key_id = A\n", 2, "before the first [section]"},
	{"unclosed header later", "[p]\naws_access_key_id = A\n\n[unclosed\n", 4, "no closing ']'"},
	{"line without delimiter", "[p]\naws_access_key_id = A\njunk\n", 3, "not a [section] header"},
	{"duplicate section", "[p]\naws_access_key_id = A\n[q]\nx = 1\n[p]\ny = 2\n", 5, "appears a second time (first at line 1)"},
	{"duplicate key any case", "[p]\naws_access_key_id = A\nAWS_Access_Key_ID = B\n", 3, `key "aws_access_key_id" appears a second time`},
	{"indented header after a key continues it", "[a]\naws_access_key_id = A\n\n  [p]\naws_access_key_id = B\n", 5, "appears a second time in section [a]"},
	{"nested line without '='", "[p]\naws_access_key_id = A\ns3 =\n  max_concurrent_requests = 10\n  junk\n", 5, "not a nested key = value"},
	{"empty key", "[p]\n= A\n", 2, "no key name"},
	{"byte order mark", "\xef\xbb\xbf[p]\naws_access_key_id = A\n", 1, "byte order mark"},
	{"invalid utf-8", "[p]\naws_access_key_id = \xff\n", 2, "not valid UTF-8"},
}

// acceptedCases are odd files the AWS CLI reads; want is its
// `aws configure get aws_access_key_id --profile p`.
var acceptedCases = []struct {
	name, data, want string
}{
	{"colon delimiter", "[p]\naws_access_key_id: A1\n", "A1"},
	{"inline hash kept", "[p]\naws_access_key_id = A2 # note\n", "A2 # note"},
	{"indented header and key", "  [p]  \n  aws_access_key_id=A3\n", "A3"},
	{"text after header", "[p] trailing\naws_access_key_id=A4\n", "A4"},
	{"indented key is a continuation", "[p]\nx = 1\n  aws_access_key_id = A5\n", ""},
	{"crlf", "[p]\r\naws_access_key_id = A6\r\n", "A6"},
	{"upper-case key", "[p]\nAWS_ACCESS_KEY_ID = A7\n", "A7"},
	{"no final newline", "# c\n[p]\naws_access_key_id = A8", "A8"},
	{"comments and blanks everywhere", "; top\n\n[p]\n# k\n\naws_access_key_id = A9\n   ; x\n\n", "A9"},
}

func TestParseRejectsWhatTheAWSCLIRejects(t *testing.T) {
	for _, c := range malformedCases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse("/x/credentials", []byte(c.data))
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want a *ParseError", err)
			}
			if pe.Line != c.line || !strings.Contains(pe.Msg, c.msg) {
				t.Fatalf("got line %d %q, want line %d containing %q", pe.Line, pe.Msg, c.line, c.msg)
			}
			if !strings.Contains(err.Error(), "/x/credentials line ") {
				t.Fatalf("message does not name the file and line: %v", err)
			}
			if strings.Contains(err.Error(), "AKIA") {
				t.Fatalf("message quotes the file's content: %v", err)
			}
		})
	}
	for _, c := range acceptedCases {
		t.Run(c.name, func(t *testing.T) {
			if got := values(t, c.data, Credentials, "p")["aws_access_key_id"]; got != c.want {
				t.Fatalf("aws_access_key_id = %q, want %q", got, c.want)
			}
		})
	}
}

func mustEdit(t testing.TB, data string, kind Kind, updates ...Update) string {
	t.Helper()
	out, err := edit("fixture", []byte(data), kind, updates)
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	return string(out)
}

func TestEditChangesOnlyTheProfileAskedFor(t *testing.T) {
	got := mustEdit(t, fixture, Credentials, Update{Profile: "work", Set: map[string]string{
		"aws_access_key_id":        "ASIANEW",
		"aws_session_token":        "tok/en+==",
		"x_security_token_expires": "2026-11-22T16:00:00Z",
	}})
	want := strings.Replace(fixture,
		"aws_access_key_id   =   AKIAWORK    \n",
		"aws_access_key_id   =   ASIANEW\n", 1)
	want = strings.Replace(want,
		"  multipart_threshold = 64MB\n",
		"  multipart_threshold = 64MB\n"+
			"aws_session_token = tok/en+==\n"+
			"x_security_token_expires = 2026-11-22T16:00:00Z\n", 1)
	if got != want {
		t.Fatalf("got:\n%s\n---- want:\n%s", got, want)
	}
	// The profile at the end of the file keeps its missing final newline.
	if !strings.HasSuffix(got, "aws_secret_access_key = secretpersonal") {
		t.Fatalf("the last line changed")
	}
}

func TestEditLastProfileWithoutNewline(t *testing.T) {
	got := mustEdit(t, fixture, Credentials, Update{Profile: "personal", Set: map[string]string{
		"aws_secret_access_key": "new",
		"region":                "us-east-2",
	}})
	want := strings.TrimSuffix(fixture, "secretpersonal") + "new\nregion = us-east-2\n"
	if got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
}

func TestEditAppendsNewProfileAfterOneBlankLine(t *testing.T) {
	got := mustEdit(t, fixture, Credentials, Update{Profile: "new", Set: map[string]string{
		"aws_session_token":     "T",
		"aws_access_key_id":     "A",
		"aws_secret_access_key": "S",
		"zzz":                   "z",
	}})
	want := fixture + "\n\n[new]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\nzzz = z\n"
	if got != want {
		t.Fatalf("got:\n%q\nwant:\n%q", got, want)
	}
	// A file that already ends with a blank line gets no second one.
	if got := mustEdit(t, "[a]\nx = 1\n\n", Credentials, Update{Profile: "b", Set: map[string]string{"y": "2"}}); got != "[a]\nx = 1\n\n[b]\ny = 2\n" {
		t.Fatalf("got %q", got)
	}
	// An empty file gets no leading blank line.
	if got := mustEdit(t, "", Credentials, Update{Profile: "b", Set: map[string]string{"y": "2"}}); got != "[b]\ny = 2\n" {
		t.Fatalf("got %q", got)
	}
}

func TestEditDeleteRemovesOnlyThatSection(t *testing.T) {
	got := mustEdit(t, fixture, Credentials, Update{Profile: "work", Delete: true})
	start := strings.Index(fixture, "[work]")
	end := strings.Index(fixture, "; comment about personal")
	if want := fixture[:start] + fixture[end:]; got != want {
		t.Fatalf("got:\n%s\n---- want:\n%s", got, want)
	}
	got = mustEdit(t, "[a]\nx = 1\n\n[b]\ny = 2\n", Credentials, Update{Profile: "b", Delete: true})
	if got != "[a]\nx = 1\n" {
		t.Fatalf("deleting the last section: %q", got)
	}
	if got := mustEdit(t, fixture, Credentials, Update{Profile: "absent", Delete: true}); got != fixture {
		t.Fatalf("deleting a missing profile changed the file")
	}
}

func TestEditUnsetAndReplaceNestedValue(t *testing.T) {
	got := mustEdit(t, fixture, Credentials, Update{Profile: "work", Set: map[string]string{"s3": "off"}, Unset: []string{"region"}})
	want := strings.Replace(fixture,
		"region = eu-west-1 # part of the value for the AWS CLI\n"+
			"s3 =\n  max_concurrent_requests = 10\n\n  multipart_threshold = 64MB\n",
		"s3 = off\n", 1)
	if got != want {
		t.Fatalf("got:\n%s\n---- want:\n%s", got, want)
	}
}

func TestEditNestedKeyIsNotASectionKey(t *testing.T) {
	// max_concurrent_requests inside s3's nested value is not [work]'s key:
	// setting it appends a new key and leaves the nested one alone.
	got := mustEdit(t, fixture, Credentials, Update{Profile: "work", Set: map[string]string{"max_concurrent_requests": "2"}})
	want := strings.Replace(fixture, "  multipart_threshold = 64MB\n", "  multipart_threshold = 64MB\nmax_concurrent_requests = 2\n", 1)
	if got != want {
		t.Fatalf("got:\n%s\n---- want:\n%s", got, want)
	}
}

func TestEditKeepsSpacingStyleAndCRLF(t *testing.T) {
	in := "[p]\r\nregion=us-east-1\r\noutput :\r\n"
	got := mustEdit(t, in, Credentials, Update{Profile: "p", Set: map[string]string{"region": "eu-west-1", "output": "json", "new": "v"}})
	if want := "[p]\r\nregion=eu-west-1\r\noutput : json\r\nnew = v\r\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestEditIndentedSections(t *testing.T) {
	// New keys take the indentation of the section's keys, so an indented
	// header after them still reads as a header.
	in := "  [a]\n  x = 1\n  [b]\n  y = 2\n"
	got := mustEdit(t, in, Credentials, Update{Profile: "a", Set: map[string]string{"z": "3"}})
	if want := "  [a]\n  x = 1\n  z = 3\n  [b]\n  y = 2\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	// Deleting [b] here would make "    [c]" a continuation of x: refused.
	in = "[a]\nx = 1\n[b]\n    y = 2\n    [c]\n    w = 1\n"
	_, err := edit("f", []byte(in), Credentials, []Update{{Profile: "b", Delete: true}})
	if !errors.Is(err, ErrUnsafeEdit) {
		t.Fatalf("err = %v, want ErrUnsafeEdit", err)
	}
}

func TestEditConfigSections(t *testing.T) {
	in := "[default]\nregion = us-east-1\n\n[profile dev]\nregion = eu-west-1\n\n[sso-session dev]\nsso_region = us-east-1\n\n[dev]\nignored = by botocore\n"
	got := mustEdit(t, in, Config,
		Update{Profile: "dev", Set: map[string]string{"output": "json"}},
		Update{Profile: "default", Set: map[string]string{"region": "eu-north-1"}},
		Update{Profile: "ops", Set: map[string]string{"region": "ap-south-1"}},
	)
	want := "[default]\nregion = eu-north-1\n\n[profile dev]\nregion = eu-west-1\noutput = json\n\n[sso-session dev]\nsso_region = us-east-1\n\n[dev]\nignored = by botocore\n\n[profile ops]\nregion = ap-south-1\n"
	if got != want {
		t.Fatalf("got:\n%s\n---- want:\n%s", got, want)
	}
	// botocore reads "[profile   dev]" as profile dev: it is updated in place.
	got = mustEdit(t, "[profile   dev]\nregion = x\n", Config, Update{Profile: "dev", Set: map[string]string{"region": "y"}})
	if got != "[profile   dev]\nregion = y\n" {
		t.Fatalf("got %q", got)
	}
}

func TestEditRejectsBadInputWithoutEchoingValues(t *testing.T) {
	secret := "wJalrXUtnFEMI/K7MDENG"
	cases := []Update{
		{Profile: "p", Set: map[string]string{"aws_secret_access_key": secret + "\n[evil]"}},
		{Profile: "p", Set: map[string]string{"aws_secret_access_key": " " + secret}},
		{Profile: "p", Set: map[string]string{"Bad Key": secret}},
		{Profile: "p]", Set: map[string]string{"k": secret}},
		{Profile: "two words", Set: map[string]string{"k": secret}},
		{Profile: "", Set: map[string]string{"k": secret}},
		{Profile: "DEFAULT", Set: map[string]string{"k": secret}},
		{Profile: "p", Set: map[string]string{"k": secret}, Unset: []string{"k"}},
	}
	for _, u := range cases {
		_, err := edit("f", []byte(fixture), Credentials, []Update{u})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: err = %v, want ErrInvalid", u.Profile, err)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error contains the value: %v", err)
		}
	}
}

func TestEditManyUpdatesOfOneProfile(t *testing.T) {
	got := mustEdit(t, fixture, Credentials,
		Update{Profile: "n", Set: map[string]string{"a": "1"}},
		Update{Profile: "n", Set: map[string]string{"b": "2"}},
		Update{Profile: "n", Unset: []string{"a"}},
		Update{Profile: "default", Delete: true},
		Update{Profile: "default", Set: map[string]string{"aws_access_key_id": "X"}},
	)
	if v := values(t, got, Credentials, "n"); !maps.Equal(v, map[string]string{"b": "2"}) {
		t.Fatalf("n = %v", v)
	}
	if v := values(t, got, Credentials, "default"); !maps.Equal(v, map[string]string{"aws_access_key_id": "X"}) {
		t.Fatalf("default = %v", v)
	}
}
