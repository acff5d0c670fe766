package awsfile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/testpeer"
)

// awsBin is Debian's AWS CLI v2 (another aws on PATH may be a v1 install).
const awsBin = "/usr/bin/aws"

// runAWS runs the AWS CLI with only the given files, no instance metadata and
// every proxy pointing at a closed port, so nothing leaves the machine.
func runAWS(t *testing.T, creds, config string, args ...string) (string, error) {
	t.Helper()
	if _, err := os.Stat(awsBin); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 from Debian (%s) is not installed: %v", awsBin, err)
	}
	cmd := exec.Command(awsBin, args...)
	cmd.Env = []string{
		"PATH=/usr/bin:/bin",
		"HOME=" + t.TempDir(),
		"AWS_SHARED_CREDENTIALS_FILE=" + creds,
		"AWS_CONFIG_FILE=" + config,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"HTTPS_PROXY=http://127.0.0.1:9",
		"HTTP_PROXY=http://127.0.0.1:9",
		"NO_PROXY=127.0.0.1,localhost",
	}
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func awsGet(t *testing.T, creds, config, profile, key string) string {
	t.Helper()
	out, err := runAWS(t, creds, config, "configure", "get", key, "--profile", profile)
	if err != nil {
		t.Fatalf("aws configure get %s --profile %s: %v: %s", key, profile, err, out)
	}
	return out
}

func TestAWSCLIReadsWrittenProfiles(t *testing.T) {
	dir := t.TempDir()
	creds := filepath.Join(dir, "credentials")
	config := filepath.Join(dir, "config")
	writeFile(t, creds, fixture, 0o600)
	const configBefore = "# my settings\n[default]\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
	writeFile(t, config, configBefore, 0o644)
	ctx := context.Background()
	if err := UpdateCredentials(ctx, creds, "rolehop-dev", sessionCreds); err != nil {
		t.Fatal(err)
	}
	if err := UpdateConfig(ctx, config, "rolehop-dev", map[string]string{KeyRegion: "eu-central-1", KeyOutput: "json"}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, config); got != configBefore+"\n[profile rolehop-dev]\nregion = eu-central-1\noutput = json\n" {
		t.Fatalf("config:\n%s", got)
	}

	out, err := runAWS(t, creds, config, "configure", "list", "--profile", "rolehop-dev")
	if err != nil {
		t.Fatalf("aws configure list: %v: %s", err, out)
	}
	for _, want := range []string{"****************WXYZ", "shared-credentials-file", "eu-central-1", "config-file"} {
		if !strings.Contains(out, want) {
			t.Errorf("aws configure list does not show %q:\n%s", want, out)
		}
	}
	for key, want := range map[string]string{
		KeyAccessKeyID:  sessionCreds[KeyAccessKeyID],
		KeySessionToken: sessionCreds[KeySessionToken],
		KeyExpiration:   sessionCreds[KeyExpiration],
		KeyRegion:       "eu-central-1",
		KeyOutput:       "json",
	} {
		if got := awsGet(t, creds, config, "rolehop-dev", key); got != want {
			t.Errorf("aws configure get %s = %q, want %q", key, got, want)
		}
	}
	// The profiles that were there before still read the same.
	if got := awsGet(t, creds, config, "work", KeyAccessKeyID); got != "AKIAWORK" {
		t.Errorf("work access key = %q", got)
	}
	if got := awsGet(t, creds, config, "default", KeyRegion); got != "us-east-1" {
		t.Errorf("default region = %q", got)
	}

	// Credentials refreshed in place are what the CLI reads next.
	rotated := helperValues("rolehop-dev", 7)
	if err := UpdateCredentials(ctx, creds, "rolehop-dev", rotated); err != nil {
		t.Fatal(err)
	}
	if got := awsGet(t, creds, config, "rolehop-dev", KeySessionToken); got != rotated[KeySessionToken] {
		t.Errorf("after refresh the session token is %q", got)
	}
}

// TestAWSCLIAgreesWithTheParser runs the parser's test tables through the AWS
// CLI: it refuses every file the parser calls malformed, and reads the same
// value from every odd file the parser accepts.
func TestAWSCLIAgreesWithTheParser(t *testing.T) {
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	writeFile(t, config, "", 0o600)
	for i, c := range malformedCases {
		creds := filepath.Join(dir, "malformed"+string(rune('a'+i)))
		writeFile(t, creds, c.data, 0o600)
		out, err := runAWS(t, creds, config, "configure", "get", "aws_access_key_id", "--profile", "p")
		if err == nil || !strings.Contains(out, "Unable to parse config file") {
			t.Errorf("%s: the AWS CLI accepted a file the parser rejects: %v %q", c.name, err, out)
		}
	}
	for i, c := range acceptedCases {
		creds := filepath.Join(dir, "accepted"+string(rune('a'+i)))
		writeFile(t, creds, c.data, 0o600)
		out, err := runAWS(t, creds, config, "configure", "get", "aws_access_key_id", "--profile", "p")
		var ee *exec.ExitError
		switch {
		case c.want == "" && errors.As(err, &ee) && out == "":
			// `configure get` exits 1 without output for a missing key.
		case err != nil:
			t.Errorf("%s: the AWS CLI failed: %v %q", c.name, err, out)
		case out != c.want:
			t.Errorf("%s: the AWS CLI reads %q, the parser %q", c.name, out, c.want)
		}
	}
}

// botocoreScript parses each file named on stdin with the AWS CLI's own
// vendored botocore and prints, per file, whether it parses (as the CLI
// parses: nested values too) and its sections with raw values.
const botocoreScript = `
import json, sys
from awscli.botocore import configloader
out = []
for path in sys.stdin.read().split("\n"):
    if not path:
        continue
    try:
        configloader.raw_config_parse(path)
        out.append({"ok": True, "sections": configloader.raw_config_parse(path, parse_subsections=False)})
    except Exception as e:
        if type(e).__name__ != "ConfigParseError":
            raise
        out.append({"ok": False})
print(json.dumps(out))
`

// fragments are lines random files are built from: headers, keys, nested
// values, comments and junk, with tabs and Unicode spaces for indentation.
var fragments = []string{
	"[p]", "[q]", "  [p]", "[p] trailing", "[unclosed", "[]", "[a]b]", "[profile p]",
	"key = v", "KEY=v", "k: v", "  k = v", "\tk = v", "    nested = 1", "  nested", "= v", ":v", "junk",
	"# c", "; c", "  # c", "", "   ", "\t", "k = a # b", "k =", "s3 =", "x=1", "y = 2:3", "a:b = c",
	"\u00a0k = nbsp", "k = v\u00a0", "\x1ck = sep", "  a = 1\x0bb", "z = é", "[ü]",
}

func TestBotocoreAgreesOnRandomFiles(t *testing.T) {
	if _, err := os.Stat(awsBin); err != nil {
		testpeer.Missing(t, "the AWS CLI v2 from Debian (%s) is not installed: %v", awsBin, err)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := t.TempDir()
	const n = 600
	files := make([]string, n)
	var paths strings.Builder
	for i := range files {
		var b strings.Builder
		eol := "\n"
		if rng.IntN(8) == 0 {
			eol = "\r\n"
		}
		lines := 1 + rng.IntN(8)
		for j := range lines {
			if j > 0 {
				b.WriteString(eol)
			}
			if j == 0 && rng.IntN(4) != 0 {
				b.WriteString("[p]") // most files start well, to reach the later lines
				continue
			}
			b.WriteString(fragments[rng.IntN(len(fragments))])
		}
		if rng.IntN(2) == 0 {
			b.WriteString(eol)
		}
		files[i] = b.String()
		p := filepath.Join(dir, fmt.Sprintf("f%03d", i))
		writeFile(t, p, files[i], 0o600)
		paths.WriteString(p + "\n")
	}
	results := botocoreRead(t, dir, paths.String(), n)
	accepted := 0
	// Accepted files are then edited, and botocore reads the edits back.
	var (
		edited      []map[string]map[string]string // what botocore must read
		editedPaths strings.Builder
		refused     int
	)
	for i, want := range results {
		// The read path (a streaming scan, then the sections needed) agrees
		// with botocore as the whole-file parser does.
		snap, serr := (&File{Path: filepath.Join(dir, fmt.Sprintf("f%03d", i)), Kind: Credentials}).Snapshot()
		if (serr == nil) != want.OK {
			t.Errorf("file %q: botocore ok=%v, the read path err=%v", files[i], want.OK, serr)
		} else if serr == nil {
			for name, vals := range want.Sections {
				if got, err := snap.Profile(name); err != nil || !maps.Equal(got, vals) {
					t.Errorf("file %q, profile %q: botocore reads %q, the read path %q (%v)", files[i], name, vals, got, err)
				}
			}
			snap.Close()
		}
		d, err := parse("f", []byte(files[i]))
		if (err == nil) != want.OK {
			t.Errorf("file %q: botocore ok=%v, parser err=%v", files[i], want.OK, err)
			continue
		}
		if err != nil {
			continue
		}
		accepted++
		got := map[string]map[string]string{}
		defaults := map[string]string{}
		if s := d.section("DEFAULT"); s != nil {
			defaults = sectionValues(s)
		}
		for _, s := range d.sections {
			if s.name == "DEFAULT" {
				continue
			}
			m := maps.Clone(defaults)
			maps.Copy(m, sectionValues(s))
			got[s.name] = m
		}
		if !maps.EqualFunc(got, want.Sections, maps.Equal) {
			t.Errorf("file %q:\nbotocore reads %q\nthe parser    %q", files[i], want.Sections, got)
			continue
		}
		u := Update{Profile: []string{"p", "q", "new"}[rng.IntN(3)], Delete: rng.IntN(5) == 0}
		if !u.Delete {
			u.Set = map[string]string{"k": "set", "aws_session_token": "tok=#;:en"}
		}
		out, err := edit("f", []byte(files[i]), Credentials, []Update{u})
		if errors.Is(err, ErrUnsafeEdit) {
			refused++
			continue
		}
		if err != nil {
			t.Fatalf("edit %q: %v", files[i], err)
		}
		exp := maps.Clone(want.Sections)
		switch {
		case u.Delete:
			delete(exp, u.Profile)
		default:
			m := maps.Clone(exp[u.Profile])
			if m == nil {
				m = maps.Clone(defaults)
			}
			maps.Copy(m, u.Set)
			exp[u.Profile] = m
		}
		p := filepath.Join(dir, fmt.Sprintf("edited%03d", i))
		writeFile(t, p, string(out), 0o600)
		editedPaths.WriteString(p + "\n")
		edited = append(edited, exp)
	}
	t.Logf("%d random files, %d accepted by both, %d edits refused as unsafe", n, accepted, refused)
	for i, r := range botocoreRead(t, dir, editedPaths.String(), len(edited)) {
		if !r.OK || !maps.EqualFunc(r.Sections, edited[i], maps.Equal) {
			t.Errorf("edited file %d: botocore reads %v %q, want %q", i, r.OK, r.Sections, edited[i])
		}
	}
}

type botocoreResult struct {
	OK       bool                         `json:"ok"`
	Sections map[string]map[string]string `json:"sections"`
}

// botocoreRead runs botocoreScript over the files listed in paths.
func botocoreRead(t *testing.T, dir, paths string, n int) []botocoreResult {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c", botocoreScript)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "PYTHONUTF8=1", "LC_ALL=C.UTF-8"}
	cmd.Stdin = strings.NewReader(paths)
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("botocore: %v: %s", err, ee.Stderr)
		}
		t.Fatal(err)
	}
	var results []botocoreResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != n {
		t.Fatalf("botocore output: %v (%d results, want %d)", err, len(results), n)
	}
	return results
}
