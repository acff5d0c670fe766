package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/bubbles/list"
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

// roleDelegate draws one line per role, the chosen one marked with "> ".
type roleDelegate struct{ selected lipgloss.Style }

func (d roleDelegate) Height() int                         { return 1 }
func (d roleDelegate) Spacing() int                        { return 0 }
func (d roleDelegate) Update(tea.Msg, *list.Model) tea.Cmd { return nil }
func (d roleDelegate) Render(w io.Writer, m list.Model, index int, it list.Item) {
	ri, ok := it.(roleItem)
	if !ok {
		return
	}
	if index == m.Index() {
		fmt.Fprint(w, d.selected.Render("> "+ri.label()))
		return
	}
	fmt.Fprint(w, "  "+ri.label())
}

// pickerModel wraps bubbles' list: typing filters at once (no "/" first),
// up/down move, Enter chooses, Esc clears the filter or cancels, Ctrl-C
// cancels.
type pickerModel struct {
	list     list.Model
	chosen   *roleItem
	canceled bool
}

func (m pickerModel) Init() tea.Cmd { return nil }

func (m pickerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.list.SetSize(msg.Width, msg.Height-1)
		return m, nil
	case tea.KeyMsg:
		switch msg.Type {
		case tea.KeyCtrlC:
			m.canceled = true
			return m, tea.Quit
		case tea.KeyEnter:
			if it, ok := m.list.SelectedItem().(roleItem); ok {
				m.chosen = &it
				return m, tea.Quit
			}
			return m, nil
		case tea.KeyEsc:
			if m.list.FilterState() == list.Unfiltered {
				m.canceled = true
				return m, tea.Quit
			}
		case tea.KeyUp, tea.KeyDown:
			if m.list.FilterState() == list.Filtering {
				if msg.Type == tea.KeyUp {
					m.list.CursorUp()
				} else {
					m.list.CursorDown()
				}
				return m, nil
			}
		case tea.KeyRunes, tea.KeySpace:
			if m.list.FilterState() != list.Filtering {
				// Type to filter: start filtering with this key, keeping
				// what was typed before.
				prev := ""
				if m.list.FilterState() == list.FilterApplied {
					prev = m.list.FilterValue()
				}
				m.list.ResetFilter()
				m.list.SetFilterState(list.Filtering)
				m.list.FilterInput.SetValue(prev)
				m.list.FilterInput.CursorEnd()
			}
		}
	}
	var cmd tea.Cmd
	m.list, cmd = m.list.Update(msg)
	return m, cmd
}

func (m pickerModel) View() string { return m.list.View() }

// newPickerModel builds the list of roles (already sorted).
func newPickerModel(roles []saml.Role, aliases map[string]string) pickerModel {
	items := make([]list.Item, len(roles))
	for i, r := range roles {
		items[i] = roleItem{role: r, alias: aliases[r.AccountID()]}
	}
	d := roleDelegate{selected: lipgloss.NewStyle().Bold(true)}
	l := list.New(items, d, 80, 20)
	l.Title = "Choose a role (type to filter, Enter to choose, Esc to cancel)"
	l.SetShowHelp(false)
	l.SetStatusBarItemName("role", "roles")
	l.FilterInput.Prompt = "Filter: "
	l.KeyMap.Quit.SetEnabled(false)
	return pickerModel{list: l}
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

// roleList is roles as `alias (account) role`, comma separated, for messages.
func roleList(roles []saml.Role, aliases map[string]string) string {
	parts := make([]string, len(roles))
	for i, r := range roles {
		parts[i] = roleLabel(r, aliases[r.AccountID()])
	}
	return strings.Join(parts, ", ")
}
