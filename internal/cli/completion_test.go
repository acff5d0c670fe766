package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rolehop/rolehop/internal/testpeer"
)

// TestCompletionInBash: the bash completion script, loaded by bash with
// Debian's bash-completion, completes profile names (recent first), login
// names and account aliases.
func TestCompletionInBash(t *testing.T) {
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		testpeer.Missing(t, "bash-completion not installed (Debian package bash-completion): %v", err)
		return
	}
	bin := rolehopBinary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	if err := os.MkdirAll(filepath.Join(state, "rolehop"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(state, "rolehop", "recent-profiles"), "prod-eu\n")
	accounts := filepath.Join(dir, "accounts.yaml")
	writeFileT(t, accounts, "\"111111111111\": payments-prod\n\"222222222222\": payments-dev\n")
	settingsFile := filepath.Join(dir, "config.yaml")
	writeFileT(t, settingsFile, "defaults:\n  accounts_file: "+accounts+"\nlogins:\n  corp:\n    url: https://idp/sso\n  contractors:\n    url: https://idp/sso2\n")
	env := procEnv(t, "XDG_STATE_HOME="+state, "ROLEHOP_CONFIG="+settingsFile, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			writeFileT(t, v, "[profile prod]\nregion = us-east-1\n\n[profile prod-eu]\nregion = eu-west-1\n\n[profile dev]\n")
		}
	}
	complete := func(line string) []string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = shQuote(w)
		}
		script := "source " + bashCompletion + "\nsource <(rolehop completion bash)\n" +
			"COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" + itoa(len(words)-1) +
			"; COMP_LINE=" + shQuote(line) + "; COMP_POINT=${#COMP_LINE}; COMP_TYPE=9\n" +
			"__start_rolehop 2>/dev/null\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("bash completion of %q: %v", line, err)
		}
		return strings.Fields(string(out))
	}
	if got := complete("rolehop exec pr"); !slices.Equal(got, []string{"prod-eu", "prod"}) {
		t.Errorf("exec pr<TAB> = %q, want prod-eu (recent) then prod", got)
	}
	if got := complete("rolehop env --profile d"); !slices.Equal(got, []string{"dev"}) {
		t.Errorf("env --profile d<TAB> = %q", got)
	}
	if got := complete("rolehop login --login co"); !slices.Equal(got, []string{"contractors", "corp"}) {
		t.Errorf("login --login co<TAB> = %q", got)
	}
	if got := complete("rolehop login --account payments-d"); !slices.Equal(got, []string{"payments-dev"}) {
		t.Errorf("login --account payments-d<TAB> = %q", got)
	}
}
