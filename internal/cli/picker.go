package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"github.com/rolehop/rolehop/saml"
)

// errNoChoice: the picker was closed without choosing a role.
var errNoChoice = errors.New("no role chosen: pick one with Enter, or pass --account and --role")

// roleItem is one row of the picker: `alias (account) role`.
type roleItem struct {
	role  saml.Role
	alias string
}

func (i roleItem) label() string { return roleLabel(i.role, i.alias) }

// FilterValue is what typing filters on: alias, account and role name.
func (i roleItem) FilterValue() string {
	return i.alias + " " + i.role.AccountID() + " " + i.role.Name()
}

// roleLabel shows a role as `alias (account) role`, or `account role`
// when the account has no alias.
func roleLabel(r saml.Role, alias string) string {
	if alias == "" {
		return r.AccountID() + " " + r.Name()
	}
	return alias + " (" + r.AccountID() + ") " + r.Name()
}

// pickerModel is the role picker: typing filters at once (case-insensitive,
// every word must match alias, account or role), up/down (or Ctrl-P/Ctrl-N)
// move, Enter chooses, Backspace edits the filter, Esc clears the filter or
// cancels, Ctrl-C cancels. It is built on bubbletea alone, keeping rolehop's
// start-up lean: credential-process runs on every AWS CLI command.
type pickerModel struct {
	items    []roleItem
	filter   []rune
	shown    []int // indexes into items that match the filter
	cursor   int   // index into shown
	offset   int   // first shown row on screen
	height   int   // rows available for roles
	chosen   *roleItem
	canceled bool
	bold     lipgloss.Style
}

const pickerTitle = "Choose a role (type to filter, Enter to choose, Esc to cancel)"

func (m pickerModel) Init() tea.Cmd { return nil }

func (m pickerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.height = max(msg.Height-4, 1)
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC:
			m.canceled = true
			return m, tea.Quit
		case tea.KeyEnter:
			if len(m.shown) > 0 {
				it := m.items[m.shown[m.cursor]]
				m.chosen = &it
				return m, tea.Quit
			}
		case tea.KeyEsc:
			if len(m.filter) == 0 {
				m.canceled = true
				return m, tea.Quit
			}
			m.filter = m.filter[:0]
			m.refilter()
		case tea.KeyUp, tea.KeyCtrlP:
			m.cursor = max(m.cursor-1, 0)
		case tea.KeyDown, tea.KeyCtrlN:
			m.cursor = min(m.cursor+1, max(len(m.shown)-1, 0))
		case tea.KeyBackspace:
			if len(m.filter) > 0 {
				m.filter = m.filter[:len(m.filter)-1]
				m.refilter()
			}
		case tea.KeyRunes, tea.KeySpace:
			m.filter = append(m.filter, msg.Runes...)
			if msg.Type == tea.KeySpace && len(msg.Runes) == 0 {
				m.filter = append(m.filter, ' ')
			}
			m.refilter()
		}
	}
	// Keep the cursor on screen.
	if m.cursor < m.offset {
		m.offset = m.cursor
	} else if m.cursor >= m.offset+m.height {
		m.offset = m.cursor - m.height + 1
	}
	return m, nil
}

// refilter recomputes the shown rows: every word of the filter must appear
// in the row's alias, account or role name.
func (m *pickerModel) refilter() {
	words := strings.Fields(strings.ToLower(string(m.filter)))
	m.shown = m.shown[:0]
	for i, it := range m.items {
		hay := strings.ToLower(it.FilterValue())
		ok := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				ok = false
				break
			}
		}
		if ok {
			m.shown = append(m.shown, i)
		}
	}
	m.cursor, m.offset = 0, 0
}

func (m pickerModel) View() string {
	var b strings.Builder
	b.WriteString(pickerTitle + "\n")
	fmt.Fprintf(&b, "Filter: %s\n\n", string(m.filter))
	if len(m.shown) == 0 {
		b.WriteString("  no role matches the filter\n")
	}
	end := min(m.offset+m.height, len(m.shown))
	for row := m.offset; row < end; row++ {
		label := m.items[m.shown[row]].label()
		if row == m.cursor {
			b.WriteString(m.bold.Render("> "+label) + "\n")
		} else {
			b.WriteString("  " + label + "\n")
		}
	}
	fmt.Fprintf(&b, "\n%d of %d roles", len(m.shown), len(m.items))
	return b.String()
}

// newPickerModel builds the picker over roles (already sorted).
func newPickerModel(roles []saml.Role, aliases map[string]string) pickerModel {
	m := pickerModel{height: 20, bold: lipgloss.NewStyle().Bold(true)}
	m.items = make([]roleItem, len(roles))
	for i, r := range roles {
		m.items[i] = roleItem{role: r, alias: aliases[r.AccountID()]}
	}
	m.refilter()
	return m
}

// pickRole shows the interactive picker on the terminal (stdin for keys,
// stderr for the screen, never stdout) and returns the chosen role.
func pickRole(ctx context.Context, ios *IOStreams, roles []saml.Role, aliases map[string]string) (saml.Role, error) {
	p := tea.NewProgram(newPickerModel(roles, aliases),
		tea.WithContext(ctx), tea.WithInput(ios.In), tea.WithOutput(ios.ErrOut), tea.WithAltScreen())
	final, err := p.Run()
	if err != nil {
		if ctx.Err() != nil {
			return saml.Role{}, ctx.Err()
		}
		return saml.Role{}, fmt.Errorf("role picker: %w", err)
	}
	m, _ := final.(pickerModel)
	if m.chosen == nil {
		return saml.Role{}, usageError(errNoChoice)
	}
	return m.chosen.role, nil
}

// maxListed bounds how many choices an error message names.
const maxListed = 10

// roleList is roles as `alias (account) role`, comma separated, for
// messages: at most maxListed, then "and N more; see rolehop roles".
func roleList(roles []saml.Role, aliases map[string]string) string {
	n := min(len(roles), maxListed)
	parts := make([]string, n)
	for i, r := range roles[:n] {
		parts[i] = roleLabel(r, aliases[r.AccountID()])
	}
	s := strings.Join(parts, ", ")
	if len(roles) > n {
		s += fmt.Sprintf(" and %d more; see `rolehop roles`", len(roles)-n)
	}
	return s
}
