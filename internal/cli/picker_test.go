package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/testpeer"
	"github.com/rolehop/rolehop/saml"
)

// tmuxSession runs a command in a detached tmux session of its own server.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, script string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		testpeer.Missing(t, "tmux is not installed (apt-get install tmux)")
	}
	dir, err := os.MkdirTemp("", "rh-tmux-") // short: socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, socket: filepath.Join(dir, "s")}
	t.Cleanup(func() {
		exec.Command("tmux", "-S", s.socket, "kill-server").Run()
		os.RemoveAll(dir)
	})
	s.tmux("new-session", "-d", "-x", "120", "-y", "30", "sh "+script)
	return s
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", s.socket}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string { return s.tmux("capture-pane", "-p") }

// waitFor polls the screen until ok holds (the user waits for the screen
// too); it fails the test with the last screen after a generous while.
func (s *tmuxSession) waitFor(what string, ok func(string) bool) string {
	s.t.Helper()
	var scr string
	for range 600 {
		scr = s.screen()
		if ok(scr) {
			return scr
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("waiting for %s; the screen shows:\n%s", what, scr)
	return ""
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

func TestLoginPickerInTmux(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev}, false)
	lp := newLoginProc(t, p)
	accounts := filepath.Join(lp.home, "accounts.yaml")
	writeFileT(t, accounts, "\""+acctProd+"\": prod\n\""+acctDev+"\": sandbox\n")

	dir := t.TempDir()
	script := filepath.Join(dir, "run.sh")
	var b strings.Builder
	for _, kv := range append(lp.env, "TERM=xterm-256color", "ROLEHOP_ACCOUNTS_FILE="+accounts) {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "='" + strings.ReplaceAll(v, "'", `'\''`) + "'\n")
	}
	b.WriteString(rolehopBinary(t) + " login --idp-url '" + p.idp.AWSLoginURL + "' --username alice --profile picked\n")
	b.WriteString("echo EXIT=$?\nsleep 600\n")
	writeFileT(t, script, b.String())

	s := newTmux(t, script)
	s.waitFor("the password prompt", contains("Password for alice:"))
	s.tmux("send-keys", "-l", "alicepass")
	s.tmux("send-keys", "Enter")
	scr := s.waitFor("the picker", contains("Choose a role"))
	for _, row := range []string{"prod (111111111111) Admin", "prod (111111111111) Dev", "sandbox (222222222222) Admin", "sandbox (222222222222) Dev"} {
		if !strings.Contains(scr, row) {
			t.Errorf("picker does not show %q:\n%s", row, scr)
		}
	}
	s.tmux("send-keys", "-l", "Dev")
	scr = s.waitFor("the filtered list", func(s string) bool {
		return strings.Contains(s, "prod (111111111111) Dev") && !strings.Contains(s, "Admin")
	})
	if !strings.Contains(scr, "sandbox (222222222222) Dev") {
		t.Errorf("filter Dev lost a Dev role:\n%s", scr)
	}
	s.tmux("send-keys", "Enter")
	scr = s.waitFor("rolehop to exit", contains("EXIT="))
	if !strings.Contains(scr, "EXIT=0") || !strings.Contains(scr, "wrote profile picked (expires") {
		t.Errorf("login did not succeed:\n%s", scr)
	}
	if strings.Contains(scr, "alicepass") {
		t.Error("the typed password is visible on the screen")
	}
	c, err := awsfile.ReadProfile(lp.credentials, awsfile.Credentials, "picked")
	if err != nil {
		t.Fatal(err)
	}
	if is, ok := p.sts.Issued(c[awsfile.KeyAccessKeyID]); !ok || is.RoleARN != "arn:aws:iam::111111111111:role/Dev" {
		t.Errorf("profile picked holds credentials of %q, want the first Dev role (prod)", is.RoleARN)
	}
}

func TestPickerModelTypeToFilter(t *testing.T) {
	roles := []saml.Role{
		{RoleARN: "arn:aws:iam::111111111111:role/Admin", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
		{RoleARN: "arn:aws:iam::111111111111:role/Dev", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
	}
	m := newPickerModel(roles, map[string]string{"111111111111": "prod"})
	if !strings.Contains(m.View(), "> prod (111111111111) Admin") || !strings.Contains(m.View(), "  prod (111111111111) Dev") {
		t.Errorf("view:\n%s", m.View())
	}
}

func TestPickerModelKeys(t *testing.T) {
	roles := []saml.Role{
		{RoleARN: "arn:aws:iam::111111111111:role/Admin", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
		{RoleARN: "arn:aws:iam::111111111111:role/Dev", PrincipalARN: "arn:aws:iam::111111111111:saml-provider/P"},
		{RoleARN: "arn:aws:iam::222222222222:role/Dev", PrincipalARN: "arn:aws:iam::222222222222:saml-provider/P"},
	}
	aliases := map[string]string{"111111111111": "prod", "222222222222": "sandbox"}
	send := func(m pickerModel, keys ...tea.KeyMsg) pickerModel {
		for _, k := range keys {
			next, _ := m.Update(k)
			m = next.(pickerModel)
		}
		return m
	}
	runes := func(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

	// Typing filters at once; every word must match; Down moves; Enter picks.
	m := send(newPickerModel(roles, aliases), runes("DEV"), tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyEnter})
	if m.chosen == nil || m.chosen.role.RoleARN != "arn:aws:iam::222222222222:role/Dev" {
		t.Fatalf("chose %+v, want sandbox Dev", m.chosen)
	}
	m = send(newPickerModel(roles, aliases), runes("prod dev"))
	if v := m.View(); strings.Contains(v, "Admin") || strings.Contains(v, "sandbox") || !strings.Contains(v, "> prod (111111111111) Dev") {
		t.Errorf("filter \"prod dev\":\n%s", v)
	}
	// Backspace widens the filter again; no match shows a hint and Enter does nothing.
	m = send(newPickerModel(roles, aliases), runes("zz"), tea.KeyMsg{Type: tea.KeyEnter})
	if m.chosen != nil || !strings.Contains(m.View(), "no role matches") {
		t.Errorf("no-match filter: chosen %+v\n%s", m.chosen, m.View())
	}
	m = send(m, tea.KeyMsg{Type: tea.KeyBackspace}, tea.KeyMsg{Type: tea.KeyBackspace})
	if !strings.Contains(m.View(), "3 of 3 roles") {
		t.Errorf("after backspace:\n%s", m.View())
	}
	// Esc clears a filter first, then cancels.
	m = send(newPickerModel(roles, aliases), runes("dev"), tea.KeyMsg{Type: tea.KeyEsc})
	if m.canceled || len(m.filter) != 0 {
		t.Errorf("first Esc should clear the filter, canceled=%v filter=%q", m.canceled, string(m.filter))
	}
	if m = send(m, tea.KeyMsg{Type: tea.KeyEsc}); !m.canceled {
		t.Error("second Esc should cancel")
	}
}
