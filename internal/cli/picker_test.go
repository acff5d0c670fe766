package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/stsfake"
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

// tmuxScript writes a shell script that exports env (and a terminal type),
// runs command, prints its exit status as EXIT=N and then waits, so the
// screen can be read after the command ended.
func tmuxScript(t *testing.T, env []string, command string) string {
	t.Helper()
	var b strings.Builder
	for _, kv := range append(env, "TERM=xterm-256color") {
		k, v, _ := strings.Cut(kv, "=")
		b.WriteString("export " + k + "=" + shQuote(v) + "\n")
	}
	b.WriteString(command + "\necho EXIT=$?\nsleep 600\n")
	script := filepath.Join(t.TempDir(), "run.sh")
	writeFileT(t, script, b.String())
	return script
}

func contains(sub string) func(string) bool {
	return func(s string) bool { return strings.Contains(s, sub) }
}

func TestLoginPickerInTmux(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev}, false)
	lp := newLoginProc(t, p)
	accounts := filepath.Join(lp.home, "accounts.yaml")
	writeFileT(t, accounts, "\""+acctProd+"\": prod\n\""+acctDev+"\": sandbox\n")

	script := tmuxScript(t, append(lp.env, "ROLEHOP_ACCOUNTS_FILE="+accounts),
		rolehopBinary(t)+" login --idp-url '"+p.idp.AWSLoginURL+"' --username alice --profile picked")

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
	m := newRolePicker(roles, map[string]string{"111111111111": "prod"})
	if !strings.Contains(m.View(), "> prod (111111111111) Admin") || !strings.Contains(m.View(), "  prod (111111111111) Dev") {
		t.Errorf("view:\n%s", m.View())
	}
	for _, r := range "de" {
		next, _ := m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		m = next.(pickerModel)
	}
	if v := m.View(); strings.Contains(v, "Admin") || !strings.Contains(v, "> prod (111111111111) Dev") || !strings.Contains(v, "1 of 2 roles") {
		t.Errorf("after typing \"de\", the list is not filtered:\n%s", v)
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
	m := send(newRolePicker(roles, aliases), runes("DEV"), tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyEnter})
	if m.chosen != 2 {
		t.Fatalf("chose %d, want 2 (sandbox Dev)", m.chosen)
	}
	m = send(newRolePicker(roles, aliases), runes("prod dev"))
	if v := m.View(); strings.Contains(v, "Admin") || strings.Contains(v, "sandbox") || !strings.Contains(v, "> prod (111111111111) Dev") {
		t.Errorf("filter \"prod dev\":\n%s", v)
	}
	// Backspace widens the filter again; no match shows a hint and Enter does nothing.
	m = send(newRolePicker(roles, aliases), runes("zz"), tea.KeyMsg{Type: tea.KeyEnter})
	if m.chosen != -1 || !strings.Contains(m.View(), "no role matches") {
		t.Errorf("no-match filter: chosen %+v\n%s", m.chosen, m.View())
	}
	m = send(m, tea.KeyMsg{Type: tea.KeyBackspace}, tea.KeyMsg{Type: tea.KeyBackspace})
	if !strings.Contains(m.View(), "3 of 3 roles") {
		t.Errorf("after backspace:\n%s", m.View())
	}
	// Esc clears a filter first, then cancels.
	m = send(newRolePicker(roles, aliases), runes("dev"), tea.KeyMsg{Type: tea.KeyEsc})
	if m.canceled || len(m.filter) != 0 {
		t.Errorf("first Esc should clear the filter, canceled=%v filter=%q", m.canceled, string(m.filter))
	}
	if m = send(m, tea.KeyMsg{Type: tea.KeyEsc}); !m.canceled {
		t.Error("second Esc should cancel")
	}
}

// TestPickerPagesAndKeepsItsTitle: with 400 items in a 10-row window the
// title and filter stay on top, PgDn/PgUp move a page, End/Home the ends.
func TestPickerPagesAndKeepsItsTitle(t *testing.T) {
	items := make([]pickItem, 400)
	for i := range items {
		items[i] = pickItem{label: fmt.Sprintf("profile-%03d", i), filter: fmt.Sprintf("profile-%03d", i)}
	}
	m := newPicker("Choose a profile", "profile", items)
	send := func(msgs ...tea.Msg) {
		for _, msg := range msgs {
			next, _ := m.Update(msg)
			m = next.(pickerModel)
		}
	}
	send(tea.WindowSizeMsg{Width: 80, Height: 10 + pickerChrome})
	key := func(k tea.KeyType) tea.Msg { return tea.KeyMsg{Type: k} }
	check := func(what, cursorRow string) {
		t.Helper()
		v := m.View()
		lines := strings.Split(v, "\n")
		if !strings.HasPrefix(lines[0], "Choose a profile") || !strings.HasPrefix(lines[1], "Filter:") {
			t.Errorf("%s: the title scrolled away:\n%s", what, v)
		}
		if !strings.Contains(v, "> "+cursorRow) {
			t.Errorf("%s: cursor not on %s:\n%s", what, cursorRow, v)
		}
		if n := len(lines); n > 10+pickerChrome {
			t.Errorf("%s: %d lines for a 15-line window", what, n)
		}
	}
	check("start", "profile-000")
	send(key(tea.KeyPgDown))
	check("PgDn", "profile-010")
	send(key(tea.KeyEnd))
	check("End", "profile-399")
	send(key(tea.KeyPgUp))
	check("PgUp", "profile-389")
	send(key(tea.KeyHome))
	check("Home", "profile-000")
	send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("39")}, key(tea.KeyEnd), key(tea.KeyEnter))
	if m.chosen < 0 || items[m.chosen].label != "profile-399" {
		t.Errorf("typed 39, End, Enter: chose %d", m.chosen)
	}
}

func TestRecentProfilesComeFirst(t *testing.T) {
	f := NewFactory(nil)
	dir := t.TempDir()
	f.Getenv = func(k string) string {
		if k == "XDG_STATE_HOME" {
			return dir
		}
		return ""
	}
	for _, n := range []string{"a", "b", "c", "b"} {
		recordRecent(f, n)
	}
	if got := loadRecent(f); strings.Join(got, ",") != "b,c,a" {
		t.Errorf("recent = %v, want b,c,a", got)
	}
	if got := orderRecentFirst([]string{"x", "a", "y", "b"}, loadRecent(f)); strings.Join(got, ",") != "b,a,x,y" {
		t.Errorf("ordered = %v", got)
	}
	if fi, err := os.Stat(recentPath(f)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("recent file: %v %v", fi, err)
	}
}

// TestExecProfilePickerInTmux: exec with no profile on a terminal shows the
// profiles (the most recently used first), filters as one types, and runs
// the command with the chosen profile.
func TestExecProfilePickerInTmux(t *testing.T) {
	srv := stsfake.NewForTest(t)
	env, _ := stsEnv(t, srv, fakeConfig)
	state := t.TempDir()
	env = append(env, "XDG_STATE_HOME="+state)
	// "denied" was used last: it comes first.
	if err := os.MkdirAll(filepath.Join(state, "rolehop"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileT(t, filepath.Join(state, "rolehop", "recent-profiles"), "denied\n")
	script := tmuxScript(t, env, rolehopBinary(t)+` exec -- sh -c 'echo "PROFILE=$ROLEHOP_PROFILE KEY=$AWS_ACCESS_KEY_ID"'`)

	s := newTmux(t, script)
	scr := s.waitFor("the profile picker", contains("Choose a profile"))
	lines := strings.Split(scr, "\n")
	first := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "> ") {
			first = strings.TrimSpace(strings.TrimPrefix(l, "> "))
			break
		}
	}
	if first != "denied" {
		t.Errorf("the recent profile is not first (cursor on %q):\n%s", first, scr)
	}
	s.tmux("send-keys", "-l", "pro")
	s.waitFor("the filtered list", func(s string) bool { return strings.Contains(s, "> prod") && !strings.Contains(s, "denied") })
	s.tmux("send-keys", "Enter")
	scr = s.waitFor("rolehop to exit", contains("EXIT="))
	if !strings.Contains(scr, "EXIT=0") || !strings.Contains(scr, "PROFILE=prod KEY=ASIA") {
		t.Errorf("exec with the picked profile:\n%s", scr)
	}
	if got := readFileT(t, filepath.Join(state, "rolehop", "recent-profiles")); !strings.HasPrefix(got, "prod\ndenied\n") {
		t.Errorf("recent profiles after picking prod: %q", got)
	}
}

// TestLoginAllProgressInTmux: on a terminal, login --all shows its progress
// (the IdP sign-in, then "assuming roles: N of M") on one line of stderr that
// is erased when done; piped, it shows nothing (the other login tests).
func TestLoginAllProgressInTmux(t *testing.T) {
	p := newLoginPeers(t, []string{acctProd, acctDev}, false, stsfake.WithLatency(1500*time.Millisecond))
	lp := newLoginProc(t, p)
	script := tmuxScript(t, lp.env, rolehopBinary(t)+" login --idp-url '"+p.idp.AWSLoginURL+"' --username alice --all")

	s := newTmux(t, script)
	s.waitFor("the password prompt", contains("Password for alice:"))
	s.tmux("send-keys", "-l", "alicepass")
	s.tmux("send-keys", "Enter")
	s.waitFor("the progress line", contains("assuming roles: 0 of 4"))
	scr := s.waitFor("rolehop to exit", contains("EXIT="))
	if !strings.Contains(scr, "EXIT=0") || strings.Count(scr, "wrote profile") != 4 {
		t.Errorf("login --all:\n%s", scr)
	}
	if strings.Contains(scr, "assuming roles") {
		t.Errorf("the progress line was not erased:\n%s", scr)
	}
}
