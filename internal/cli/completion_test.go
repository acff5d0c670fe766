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
	env := completionEnv(t)
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

// completionEnv is a rolehop process environment with three profiles (prod-eu
// used recently), two login profiles and two account aliases, and the
// rolehop binary first on PATH.
func completionEnv(t *testing.T) []string {
	t.Helper()
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
	env := testpeer.ProcEnv(t, "XDG_STATE_HOME="+state, "ROLEHOP_CONFIG="+settingsFile, "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "AWS_CONFIG_FILE="); ok {
			writeFileT(t, v, "[profile prod]\nregion = us-east-1\n\n[profile prod-eu]\nregion = eu-west-1\n\n[profile dev]\n")
		}
	}
	return env
}

// TestCompletionInFish: the fish completion script, loaded by fish,
// completes the same names as in bash (complete -C is fish's own TAB).
func TestCompletionInFish(t *testing.T) {
	fish, err := exec.LookPath("fish")
	if err != nil {
		testpeer.Missing(t, "fish not installed (Debian package fish): %v", err)
		return
	}
	env := completionEnv(t)
	complete := func(line string) []string {
		t.Helper()
		cmd := exec.Command(fish, "--no-config", "-c", "rolehop completion fish | source; complete -C "+shQuote(line))
		cmd.Env = append(env, "XDG_CONFIG_HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir())
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("fish completion of %q: %v", line, err)
		}
		var names []string
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			if name, _, _ := strings.Cut(l, "\t"); name != "" {
				names = append(names, name)
			}
		}
		return names
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
