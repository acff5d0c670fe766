// Package accounts selects the AWS accounts a fleet run (`rolehop run`,
// fanout.Run) works on: from IDs and aliases, from files (lines, CSV, YAML
// with aliases and tags), from the roles a SAML assertion grants, and from
// AWS Organizations (every account, or those under organizational units and
// their children, minus excluded units), then filtered by tags.
//
// Every source gives []Account; Merge joins them (first occurrence keeps
// its place, later ones fill a missing alias or tags), Filter keeps or drops
// accounts by ID, alias or tag. Only ACTIVE Organizations accounts are
// selected: suspended and closing accounts cannot be assumed into.
//
// Errors name the file and line, or the token, that was wrong and say how
// to fix it; nothing here makes a call except Organizations.
package accounts

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/saml"
)

// Account is an AWS account a run may target.
type Account struct {
	ID    string            // 12 digits
	Alias string            // a short name people use ("" when none)
	Tags  map[string]string // metadata to select on (nil when none)
}

// ErrInvalid is wrapped by every error about bad input (a file, a flag
// value, an unknown alias).
var ErrInvalid = errors.New("invalid account selection")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Merge joins lists in order, each account once: the first occurrence keeps
// its place; a later one fills an alias or tags the first lacked.
func Merge(lists ...[]Account) []Account {
	var out []Account
	at := map[string]int{}
	for _, l := range lists {
		for _, a := range l {
			i, seen := at[a.ID]
			if !seen {
				at[a.ID] = len(out)
				out = append(out, a)
				continue
			}
			if out[i].Alias == "" {
				out[i].Alias = a.Alias
			}
			for k, v := range a.Tags {
				if _, ok := out[i].Tags[k]; !ok {
					if out[i].Tags == nil {
						out[i].Tags = map[string]string{}
					}
					out[i].Tags[k] = v
				}
			}
		}
	}
	return out
}

// Resolve turns tokens (account IDs or aliases) into accounts: an ID is
// taken as is (with its alias and tags when known), an alias is looked up
// among known. An unknown or ambiguous alias is an error.
func Resolve(tokens []string, known []Account) ([]Account, error) {
	byID := map[string]Account{}
	byAlias := map[string][]Account{}
	for _, a := range known {
		if _, ok := byID[a.ID]; !ok {
			byID[a.ID] = a
		}
		if a.Alias != "" {
			byAlias[a.Alias] = append(byAlias[a.Alias], a)
		}
	}
	var out []Account
	for _, tok := range tokens {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		if awsarn.IsAccountID(tok) {
			a, ok := byID[tok]
			if !ok {
				a = Account{ID: tok}
			}
			out = append(out, a)
			continue
		}
		switch m := uniqueIDs(byAlias[tok]); len(m) {
		case 0:
			return nil, invalid("%q is neither a 12-digit account ID nor a known alias; add it to accounts.yaml or the accounts file, or give the ID", tok)
		case 1:
			out = append(out, m[0])
		default:
			ids := make([]string, len(m))
			for i, a := range m {
				ids[i] = a.ID
			}
			return nil, invalid("alias %q names several accounts (%s); give the account ID", tok, strings.Join(ids, ", "))
		}
	}
	return Merge(out), nil
}

func uniqueIDs(as []Account) []Account {
	var out []Account
	for _, a := range as {
		if !slices.ContainsFunc(out, func(b Account) bool { return b.ID == a.ID }) {
			out = append(out, a)
		}
	}
	return out
}

// WithAliases fills missing aliases from an ID → alias map (accounts.yaml).
func WithAliases(as []Account, aliases map[string]string) []Account {
	for i := range as {
		if as[i].Alias == "" {
			as[i].Alias = aliases[as[i].ID]
		}
	}
	return as
}

// FromAliases lists an ID → alias map (accounts.yaml) as accounts, for
// Resolve to look aliases up in.
func FromAliases(aliases map[string]string) []Account {
	out := make([]Account, 0, len(aliases))
	for id, alias := range aliases {
		out = append(out, Account{ID: id, Alias: alias})
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Granted returns the accounts in which a SAML assertion's roles include
// roleName (every account with any role when roleName is ""), in the
// assertion's order.
func Granted(roles []saml.Role, roleName string) []Account {
	var out []Account
	for _, r := range roles {
		if roleName != "" {
			ar, err := awsarn.ParseRole(r.RoleARN)
			if err != nil || !ar.MatchesName(roleName) {
				continue
			}
		}
		if id := r.AccountID(); id != "" {
			out = append(out, Account{ID: id})
		}
	}
	return Merge(out)
}

// Match is one tag condition: the tag Key's value matches Value, a
// path.Match pattern (prod, prod-*, *).
type Match struct{ Key, Value string }

// ParseMatch reads KEY=VALUE.
func ParseMatch(s string) (Match, error) {
	k, v, ok := strings.Cut(s, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return Match{}, invalid("%q: want TAG=VALUE, e.g. env=prod or team=data-*", s)
	}
	if _, err := path.Match(v, ""); err != nil {
		return Match{}, invalid("%q: bad pattern %q; use * and ? only", s, v)
	}
	return Match{Key: k, Value: strings.TrimSpace(v)}, nil
}

// Matches reports whether a's tag Key matches.
func (m Match) Matches(a Account) bool {
	v, ok := a.Tags[m.Key]
	if !ok {
		return false
	}
	hit, _ := path.Match(m.Value, v)
	return hit
}

func (m Match) String() string { return m.Key + "=" + m.Value }

// Filter keeps accounts that match every Where condition and no Exclude.
type Filter struct {
	Where []Match
	// Exclude drops accounts by ID, alias or tag (an entry with "=" is a
	// tag condition).
	Exclude []string
}

// NeedsTags reports whether the filter reads tags (so that a source that
// fetches them at a cost, Organizations, knows to).
func (f Filter) NeedsTags() bool {
	if len(f.Where) > 0 {
		return true
	}
	for _, e := range f.Exclude {
		if strings.Contains(e, "=") {
			return true
		}
	}
	return false
}

// Validate checks the Exclude entries.
func (f Filter) Validate() error {
	for _, e := range f.Exclude {
		if strings.Contains(e, "=") {
			if _, err := ParseMatch(e); err != nil {
				return err
			}
		} else if strings.TrimSpace(e) == "" {
			return invalid("empty --exclude; give an account ID, an alias or TAG=VALUE")
		}
	}
	return nil
}

// Keep reports whether a passes the filter.
func (f Filter) Keep(a Account) bool {
	for _, m := range f.Where {
		if !m.Matches(a) {
			return false
		}
	}
	for _, e := range f.Exclude {
		if strings.Contains(e, "=") {
			if m, err := ParseMatch(e); err == nil && m.Matches(a) {
				return false
			}
			continue
		}
		if e == a.ID || (a.Alias != "" && e == a.Alias) {
			return false
		}
	}
	return true
}

// Apply returns the accounts f keeps, in order.
func (f Filter) Apply(as []Account) []Account {
	out := as[:0:0]
	for _, a := range as {
		if f.Keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// Complete resolves entries that carry only an alias (a Lines file's) among
// known, and fills missing aliases and tags of the others from known.
func Complete(as []Account, known []Account) ([]Account, error) {
	out := make([]Account, 0, len(as))
	for _, a := range as {
		if a.ID == "" {
			r, err := Resolve([]string{a.Alias}, known)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
			continue
		}
		out = append(out, a)
	}
	m := Merge(out)
	n := len(m)
	return Merge(m, known)[:n], nil
}
