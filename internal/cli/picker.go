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

// errNoChoice: the picker was closed without choosing.
var errNoChoice = errors.New("nothing chosen: pick one with Enter, or name it on the command line")

// pickItem is one row of the picker.
type pickItem struct {
	label  string // what the row shows
	filter string // what typing filters on
}

// pickerModel is a list picker: typing filters at once (case-insensitive,
// every word must match), up/down (Ctrl-P/Ctrl-N), PgUp/PgDn, Home/End move,
// Enter chooses, Backspace edits the filter, Esc clears the filter or
// cancels, Ctrl-C cancels. The title and the filter stay on the first lines
// however long the list is. It is built on bubbletea alone, keeping
// rolehop's start-up lean.
type pickerModel struct {
	title    string
	noun     string // "role", "profile": for "3 of 400 roles"
	items    []pickItem
	filter   []rune
	shown    []int // indexes into items that match the filter
	cursor   int   // index into shown
	offset   int   // first shown row on screen
	height   int   // rows available for items
	chosen   int   // index into items; -1 until chosen
	canceled bool
	bold     lipgloss.Style
}

// pickerChrome is the lines around the list: title, filter, a blank line
// before the list and the count after it.
const pickerChrome = 5

func newPicker(title, noun string, items []pickItem) pickerModel {
	m := pickerModel{title: title, noun: noun, items: items, height: 20, chosen: -1, bold: lipgloss.NewStyle().Bold(true)}
	m.refilter()
	return m
}

func (m pickerModel) Init() tea.Cmd { return nil }

func (m pickerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	last := max(len(m.shown)-1, 0)
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.height = max(msg.Height-pickerChrome, 1)
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC:
			m.canceled = true
			return m, tea.Quit
		case tea.KeyEnter:
			if len(m.shown) > 0 {
				m.chosen = m.shown[m.cursor]
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
			m.cursor = min(m.cursor+1, last)
		case tea.KeyPgUp:
			m.cursor = max(m.cursor-m.height, 0)
		case tea.KeyPgDown:
			m.cursor = min(m.cursor+m.height, last)
		case tea.KeyHome:
			m.cursor = 0
		case tea.KeyEnd:
			m.cursor = last
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
// in the row's filter text.
func (m *pickerModel) refilter() {
	words := strings.Fields(strings.ToLower(string(m.filter)))
	m.shown = m.shown[:0]
	for i, it := range m.items {
		hay := strings.ToLower(it.filter)
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
	b.WriteString(m.title + " (type to filter, Enter to choose, Esc to cancel)\n")
	fmt.Fprintf(&b, "Filter: %s\n\n", string(m.filter))
	if len(m.shown) == 0 {
		fmt.Fprintf(&b, "  no %s matches the filter\n", m.noun)
	}
	end := min(m.offset+m.height, len(m.shown))
	for row := m.offset; row < end; row++ {
		label := m.items[m.shown[row]].label
		if row == m.cursor {
			b.WriteString(m.bold.Render("> "+label) + "\n")
		} else {
			b.WriteString("  " + label + "\n")
		}
	}
	fmt.Fprintf(&b, "\n%d of %d %ss", len(m.shown), len(m.items), m.noun)
	if len(m.shown) > m.height {
		fmt.Fprintf(&b, " (%d-%d shown; PgUp/PgDn, Home/End)", m.offset+1, end)
	}
	return b.String()
}

// pick shows the picker on the terminal (stdin for keys, stderr for the
// screen, never stdout) and returns the chosen item's index.
func pick(ctx context.Context, ios *IOStreams, m pickerModel) (int, error) {
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(ios.In), tea.WithOutput(ios.ErrOut), tea.WithAltScreen())
	final, err := p.Run()
	if err != nil {
		if ctx.Err() != nil {
			return -1, ctx.Err()
		}
		return -1, fmt.Errorf("picker: %w", err)
	}
	fm, _ := final.(pickerModel)
	if fm.chosen < 0 {
		return -1, usageError(errNoChoice)
	}
	return fm.chosen, nil
}

// roleLabel shows a role as `alias (account) role`, or `account role`
// when the account has no alias.
func roleLabel(r saml.Role, alias string) string {
	if alias == "" {
		return r.AccountID() + " " + r.Name()
	}
	return alias + " (" + r.AccountID() + ") " + r.Name()
}

// newRolePicker is the picker over roles (already sorted).
func newRolePicker(roles []saml.Role, aliases map[string]string) pickerModel {
	items := make([]pickItem, len(roles))
	for i, r := range roles {
		alias := aliases[r.AccountID()]
		items[i] = pickItem{label: roleLabel(r, alias), filter: alias + " " + r.AccountID() + " " + r.Name()}
	}
	return newPicker("Choose a role", "role", items)
}

// pickRole shows the role picker and returns the chosen role.
func pickRole(ctx context.Context, ios *IOStreams, roles []saml.Role, aliases map[string]string) (saml.Role, error) {
	i, err := pick(ctx, ios, newRolePicker(roles, aliases))
	if err != nil {
		return saml.Role{}, err
	}
	return roles[i], nil
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
