package awsfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func blockProfiles(names ...string) []BlockProfile {
	var out []BlockProfile
	for _, n := range names {
		out = append(out, BlockProfile{Name: n, Values: [][2]string{
			{"credential_process", "rolehop-credential-process --profile " + n},
			{"rolehop_login", "corp"},
			{"rolehop_role_arn", "arn:aws:iam::111111111111:role/" + n},
			{"region", "eu-west-1"},
		}})
	}
	return out
}

func TestReplaceBlockKeepsEverythingElse(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "config")
	before := "# my config\r\n[default]\r\nregion = us-east-1\r\n\r\n[profile mine] ; hand-written\r\noutput = json\r\n"
	if err := os.WriteFile(path, []byte(before), 0o600); err != nil {
		t.Fatal(err)
	}
	f := &File{Path: path, Kind: Config}
	res, err := f.ReplaceBlock(ctx, "login corp", blockProfiles("a", "b", "mine"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Written, []string{"a", "b"}) || !slices.Equal(res.Skipped, []string{"mine"}) || len(res.Removed) != 0 {
		t.Errorf("first write: %+v", res)
	}
	got, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(got), before) || strings.Contains(strings.ReplaceAll(string(got), "\r\n", ""), "\n") {
		t.Fatalf("the block did not append with the file's CRLF endings and keep the rest:\n%q", got)
	}
	for _, p := range []string{"a", "b"} {
		vals, err := f.Profile(p)
		if err != nil || vals["rolehop_role_arn"] != "arn:aws:iam::111111111111:role/"+p || vals["credential_process"] != "rolehop-credential-process --profile "+p {
			t.Errorf("profile %s: %v %v", p, vals, err)
		}
	}
	// Something appended after the block by hand survives a rewrite.
	after := string(got) + "\r\n[profile later]\r\nregion = ap-south-1\r\n"
	if err := os.WriteFile(path, []byte(after), 0o600); err != nil {
		t.Fatal(err)
	}
	// Again with other profiles: replaced in place, never duplicated.
	res, err = f.ReplaceBlock(ctx, "login corp", blockProfiles("b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Written, []string{"b", "c"}) || !slices.Equal(res.Removed, []string{"a"}) {
		t.Errorf("second write: %+v", res)
	}
	got, _ = os.ReadFile(path)
	s := string(got)
	if strings.Count(s, "# >>> rolehop: login corp >>>") != 1 || strings.Contains(s, "[profile a]") || strings.Count(s, "[profile b]") != 1 ||
		!strings.HasPrefix(s, before) || !strings.HasSuffix(s, "[profile later]\r\nregion = ap-south-1\r\n") {
		t.Errorf("after the second write:\n%s", s)
	}
	// The same again changes nothing; another login's block sits beside it.
	st1, _ := os.Stat(path)
	if _, err := f.ReplaceBlock(ctx, "login corp", blockProfiles("b", "c")); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != s {
		t.Error("an identical block was rewritten differently")
	}
	if st2, _ := os.Stat(path); !os.SameFile(st1, st2) {
		t.Error("an identical block still wrote the file")
	}
	if _, err := f.ReplaceBlock(ctx, "login other", blockProfiles("x")); err != nil {
		t.Fatal(err)
	}
	// No profiles: the block goes, the other block and the rest stay.
	if _, err := f.ReplaceBlock(ctx, "login corp", nil); err != nil {
		t.Fatal(err)
	}
	got, _ = os.ReadFile(path)
	if strings.Contains(string(got), "login corp") || !strings.Contains(string(got), "[profile x]") || !strings.HasPrefix(string(got), before) {
		t.Errorf("after removing the block:\n%s", got)
	}
}

func TestReplaceBlockRefusesDamagedMarkers(t *testing.T) {
	for name, body := range map[string]string{
		"start only": "[default]\nregion = x\n# >>> rolehop: login corp >>>\n[profile a]\n",
		"twice":      "# >>> rolehop: login corp >>>\n# <<< rolehop: login corp <<<\n# >>> rolehop: login corp >>>\n# <<< rolehop: login corp <<<\n",
		"reversed":   "# <<< rolehop: login corp <<<\n[profile a]\n# >>> rolehop: login corp >>>\n",
	} {
		path := filepath.Join(t.TempDir(), "config")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := (&File{Path: path, Kind: Config}).ReplaceBlock(context.Background(), "login corp", blockProfiles("a"))
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("%s: %v", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != body {
			t.Errorf("%s: the file was changed", name)
		}
	}
	path := filepath.Join(t.TempDir(), "config")
	for _, bad := range [][]BlockProfile{
		{{Name: "bad name"}},
		{{Name: "a", Values: [][2]string{{"Bad Key", "v"}}}},
		{{Name: "a", Values: [][2]string{{"k", "line\nbreak"}}}},
		{{Name: "a"}, {Name: "a"}},
	} {
		if _, err := (&File{Path: path, Kind: Config}).ReplaceBlock(context.Background(), "login corp", bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

func TestAWSCLIReadsAGeneratedBlock(t *testing.T) {
	dir := t.TempDir()
	cfg, creds := filepath.Join(dir, "config"), filepath.Join(dir, "credentials")
	if err := os.WriteFile(cfg, []byte("[default]\nregion = us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(creds, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (&File{Path: cfg, Kind: Config}).ReplaceBlock(context.Background(), "login corp", blockProfiles("prod-Admin", "dev-Admin")); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"prod-Admin", "dev-Admin"} {
		if got := awsGet(t, creds, cfg, p, "region"); got != "eu-west-1" {
			t.Errorf("aws configure get region --profile %s = %q", p, got)
		}
		if got := awsGet(t, creds, cfg, p, "credential_process"); got != "rolehop-credential-process --profile "+p {
			t.Errorf("aws configure get credential_process --profile %s = %q", p, got)
		}
	}
	if got := awsGet(t, creds, cfg, "default", "region"); got != "us-east-1" {
		t.Errorf("default region = %q", got)
	}
}
