package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/credenv"
	"github.com/rolehop/rolehop/internal/stsfake"
	"github.com/rolehop/rolehop/internal/testpeer"
)

// awkward holds every character the quoting must survive (PowerShell also
// takes the typographic quotes U+2018-U+201B for single quotes).
var awkward = []credenv.Var{
	{Name: "AWS_ACCESS_KEY_ID", Value: "ASIA/+=AKID"},
	{Name: "AWS_SECRET_ACCESS_KEY", Value: `it's "quoted" $HOME \n \ back` + "`date`"},
	{Name: "AWS_SESSION_TOKEN", Value: "line1\nline2 ;|&<>*?[]{}()!#~% \u2018\u2019\u201a\u201b"},
}

// evalIn evaluates script in shell and prints the variables back, NUL-separated.
func evalIn(t *testing.T, shell []string, script string) []string {
	t.Helper()
	dir := t.TempDir()
	f := filepath.Join(dir, "vars")
	if err := os.WriteFile(f, []byte(script), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(shell[0], append(shell[1:], f)...)
	cmd.Env = append(os.Environ(), "AWS_PROFILE=stale")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%v: %v\n%s", shell, err, script)
	}
	return strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
}

func checkBack(t *testing.T, format string, got []string) {
	t.Helper()
	if len(got) != len(awkward)+1 {
		t.Fatalf("%s: got %d values %q", format, len(got), got)
	}
	for i, kv := range awkward {
		if got[i] != kv.Value {
			t.Errorf("%s: %s = %q, want %q", format, kv.Name, got[i], kv.Value)
		}
	}
	if got[len(awkward)] != "unset" {
		t.Errorf("%s: AWS_PROFILE still %q", format, got[len(awkward)])
	}
}

func TestEnvFormatsParseBack(t *testing.T) {
	unset := []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}
	var sh bytes.Buffer
	if err := formatEnv(&sh, "sh", awkward, unset); err != nil {
		t.Fatal(err)
	}
	script := sh.String() + `printf '%s\0' "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" "$AWS_SESSION_TOKEN" "${AWS_PROFILE-unset}"` + "\n"
	for _, shell := range [][]string{{"sh"}, {"bash", "--posix"}, {"dash"}} {
		if _, err := exec.LookPath(shell[0]); err != nil {
			testpeer.Missing(t, "%s not installed: the sh format is not parsed back by it", shell[0])
			continue
		}
		checkBack(t, "sh via "+shell[0], evalIn(t, append(shell, "-c", `eval "$(cat "$0")"`), script))
	}
	if _, err := exec.LookPath("fish"); err == nil {
		var fish bytes.Buffer
		_ = formatEnv(&fish, "fish", awkward, unset)
		script := fish.String() + `set -q AWS_PROFILE; or set AWS_PROFILE unset; printf '%s\0' $AWS_ACCESS_KEY_ID $AWS_SECRET_ACCESS_KEY "$AWS_SESSION_TOKEN" $AWS_PROFILE` + "\n"
		checkBack(t, "fish", evalIn(t, []string{"fish"}, script))
	} else {
		testpeer.Missing(t, "fish not installed (Debian package fish): the fish format is not parsed back by fish")
	}
	var js bytes.Buffer
	_ = formatEnv(&js, "json", awkward, unset)
	var m map[string]string
	if err := json.Unmarshal(js.Bytes(), &m); err != nil || m["AWS_SECRET_ACCESS_KEY"] != awkward[1].Value {
		t.Errorf("json: %v %v", err, m)
	}

	for _, tc := range []struct{ format, want string }{
		{"fish", `set -gx AWS_SECRET_ACCESS_KEY 'it\'s "quoted" $HOME \\n \\ back` + "`date`';"},
		{"powershell", `$Env:AWS_SECRET_ACCESS_KEY = 'it''s "quoted" $HOME \n \ back` + "`date`'"},
		{"powershell", "\u2018\u2018\u2019\u2019\u201a\u201a\u201b\u201b'"},
		{"dotenv", `AWS_SECRET_ACCESS_KEY="it's \"quoted\" \$HOME \\n \\ back` + "`date`\""},
		{"dotenv", `AWS_ACCESS_KEY_ID=ASIA/+=AKID`},
	} {
		var b bytes.Buffer
		_ = formatEnv(&b, tc.format, awkward, unset)
		if !strings.Contains(b.String(), tc.want+"\n") {
			t.Errorf("%s: output lacks %q:\n%s", tc.format, tc.want, b.String())
		}
	}
}

func TestEnvCommandShell(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	out, stderr, code := runRolehop(t, env, "env", "prod")
	if code != 0 {
		t.Fatalf("env: %d %q", code, stderr)
	}
	cmd := exec.Command("sh", "-c", out+`printf '%s %s %s' "$AWS_ACCESS_KEY_ID" "$AWS_REGION" "${AWS_PROFILE-unset}"`)
	cmd.Env = append(env, "AWS_PROFILE=base")
	b, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b))
	if is, ok := srv.Issued(f[0]); !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Admin" || f[1] != "eu-west-1" || f[2] != "unset" {
		t.Errorf("sh evaluated %q", b)
	}
}
