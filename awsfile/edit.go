package awsfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says which of the two AWS files a path holds; it decides how profile
// names map to section names.
type Kind int

const (
	// Credentials is the shared credentials file: profile "x" is section [x].
	Credentials Kind = iota + 1
	// Config is the shared config file: profile "x" is section [profile x],
	// except "default", which is [default]. Other sections ([sso-session x],
	// [services x]) are never touched.
	Config
)

func (k Kind) String() string {
	switch k {
	case Credentials:
		return "credentials"
	case Config:
		return "config"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

func (k Kind) valid() bool { return k == Credentials || k == Config }

// headerFor is the section name a new section for profile gets.
func (k Kind) headerFor(profile string) string {
	if k == Config && profile != "default" {
		return "profile " + profile
	}
	return profile
}

// profileOf returns the profile a section holds, following botocore: in the
// config file [default] and [profile x] (any spacing) are profiles, other
// sections are not; in the credentials file every section is a profile.
func (k Kind) profileOf(sectionName string) (string, bool) {
	if k != Config {
		return sectionName, true
	}
	if sectionName == "default" {
		return "default", true
	}
	if !strings.HasPrefix(sectionName, "profile") || strings.ContainsAny(sectionName, `"'\`) {
		return "", false
	}
	parts := strings.FieldsFunc(sectionName, isPySpace)
	if len(parts) != 2 {
		return "", false
	}
	return parts[1], true
}

// find returns the section holding profile, or nil. In the config file
// [default] wins over [profile default]; otherwise the last matching section
// (the one botocore ends up using) is returned.
func (k Kind) find(d *document, profile string) *section {
	if k == Config && profile == "default" {
		if s := d.section("default"); s != nil {
			return s
		}
	}
	for i := len(d.sections) - 1; i >= 0; i-- {
		if p, ok := k.profileOf(d.sections[i].name); ok && p == profile {
			return d.sections[i]
		}
	}
	return nil
}

// Update is one change to one profile.
type Update struct {
	// Profile is the profile name ("default", "dev", ...), without the
	// "profile " prefix of the config file.
	Profile string
	// Set maps lower-case key names to values; existing keys change in place,
	// new keys are appended to the section, a missing section is created.
	Set map[string]string
	// Unset lists keys to remove from the section.
	Unset []string
	// Delete removes the profile's whole section (Set and Unset are ignored).
	Delete bool
}

// validateProfile checks a profile name can be written as a section header
// that every AWS tool reads back as the same name.
func validateProfile(kind Kind, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: the profile name is empty; give a name such as default", ErrInvalid)
	case name == "DEFAULT" && kind == Credentials:
		return fmt.Errorf("%w: the profile name DEFAULT is reserved (its keys would apply to every profile); choose another name", ErrInvalid)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: the profile name is not valid UTF-8; use letters, digits and - _ . @", ErrInvalid)
	}
	for _, r := range name {
		if isPySpace(r) || unicode.IsControl(r) || strings.ContainsRune(`[]"'\#;=:`, r) {
			return fmt.Errorf("%w: the profile name %q contains %q; use letters, digits and - _ . @", ErrInvalid, name, r)
		}
	}
	return nil
}

// validateKey checks a key name is one the AWS CLI reads back unchanged.
func validateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: a key name is empty", ErrInvalid)
	}
	for _, r := range key {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return fmt.Errorf("%w: key name %q may hold only lower-case letters, digits, underscores, dashes and dots", ErrInvalid, key)
		}
	}
	return nil
}

// validateValue checks a value survives a write and a read unchanged. The
// value itself never appears in the error: it may be a secret.
func validateValue(key, v string) error {
	switch {
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: the value of key %q is not valid UTF-8", ErrInvalid, key)
	case strings.ContainsAny(v, "\r\n"):
		return fmt.Errorf("%w: the value of key %q contains a line break; values must be one line", ErrInvalid, key)
	case pyStrip(v) != v:
		return fmt.Errorf("%w: the value of key %q starts or ends with whitespace, which readers strip", ErrInvalid, key)
	}
	return nil
}

func validateUpdate(kind Kind, u Update) error {
	if err := validateProfile(kind, u.Profile); err != nil {
		return err
	}
	if u.Delete {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(u.Set)) {
		if err := validateKey(k); err != nil {
			return err
		}
		if err := validateValue(k, u.Set[k]); err != nil {
			return err
		}
	}
	for _, k := range u.Unset {
		if err := validateKey(k); err != nil {
			return err
		}
		if _, ok := u.Set[k]; ok {
			return fmt.Errorf("%w: key %q is both set and unset", ErrInvalid, k)
		}
	}
	return nil
}

// keyRank orders new keys: credentials first, in the order people expect
// (a switch, not a map: nothing to build at start).
func keyRank(k string) int {
	switch k {
	case KeyAccessKeyID:
		return 1
	case KeySecretAccessKey:
		return 2
	case KeySessionToken:
		return 3
	case KeyExpiration:
		return 4
	case KeyRegion:
		return 5
	case KeyOutput:
		return 6
	}
	return 0
}

func orderKeys(keys []string) []string {
	slices.SortFunc(keys, func(a, b string) int {
		ra, rb := keyRank(a), keyRank(b)
		if ra == 0 {
			ra = 1 << 20
		}
		if rb == 0 {
			rb = 1 << 20
		}
		if ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	return keys
}

// setLine rewrites a key line's value in place, keeping its indentation, key
// spelling and the spacing around the delimiter.
func setLine(text, value string) string {
	prefix := text[:valueStart(text)]
	if value == "" {
		return strings.TrimRightFunc(prefix, isPySpace)
	}
	if (strings.HasSuffix(prefix, "=") || strings.HasSuffix(prefix, ":")) &&
		len(prefix) > 1 && isPySpace(rune(prefix[len(prefix)-2])) {
		prefix += " "
	}
	return prefix + value
}

// apply returns the document with one update made; d is not modified.
func apply(d *document, kind Kind, u Update) ([]docLine, error) {
	s := kind.find(d, u.Profile)
	if u.Delete {
		if s == nil {
			return d.lines, nil
		}
		return deleteSection(d, s), nil
	}
	if s == nil {
		if len(u.Set) == 0 {
			return d.lines, nil
		}
		return appendSection(d, kind.headerFor(u.Profile), u.Set), nil
	}
	return editSection(d, s, u.Set, u.Unset), nil
}

func editSection(d *document, s *section, set map[string]string, unset []string) []docLine {
	eol := d.eol()
	byLine := map[int]*entry{}
	var newKeys []string
	for k := range set {
		if e := s.entry(k); e != nil {
			byLine[e.first] = e
		} else {
			newKeys = append(newKeys, k)
		}
	}
	for _, k := range unset {
		if e := s.entry(k); e != nil {
			byLine[e.first] = e
		}
	}
	var added []docLine
	insertAt := s.coreEnd()
	if len(newKeys) > 0 {
		indent := ""
		if n := len(s.entries); n > 0 {
			indent = indentPrefix(d.lines[s.entries[n-1].first].text)
		} else {
			for j := insertAt; j < len(d.lines); j++ {
				if k := d.lines[j].kind; k != lineBlank && k != lineComment {
					indent = indentPrefix(d.lines[j].text)
					break
				}
			}
		}
		for _, k := range orderKeys(newKeys) {
			added = append(added, docLine{text: indent + k + " = " + set[k], eol: eol, kind: lineKey})
		}
	}
	out := make([]docLine, 0, len(d.lines)+len(added))
	for i := 0; i < len(d.lines); i++ {
		if i == insertAt && len(added) > 0 {
			if n := len(out); n > 0 && out[n-1].eol == eolNone {
				out[n-1].eol = eol
			}
			out = append(out, added...)
		}
		e := byLine[i]
		if e == nil {
			out = append(out, d.lines[i])
			continue
		}
		if v, ok := set[e.key]; ok {
			out = append(out, docLine{text: setLine(d.lines[i].text, v), eol: d.lines[e.last].eol, kind: lineKey})
		}
		i = e.last
	}
	if insertAt == len(d.lines) && len(added) > 0 {
		if n := len(out); n > 0 && out[n-1].eol == eolNone {
			out[n-1].eol = eol
		}
		out = append(out, added...)
	}
	return out
}

func appendSection(d *document, header string, set map[string]string) []docLine {
	eol := d.eol()
	out := slices.Clone(d.lines)
	if n := len(out); n > 0 {
		if out[n-1].eol == eolNone {
			out[n-1].eol = eol
		}
		if out[n-1].kind != lineBlank {
			out = append(out, docLine{eol: eol, kind: lineBlank})
		}
	}
	out = append(out, docLine{text: "[" + header + "]", eol: eol, kind: lineSection})
	for _, k := range orderKeys(slices.Collect(maps.Keys(set))) {
		out = append(out, docLine{text: k + " = " + set[k], eol: eol, kind: lineKey})
	}
	return out
}

// deleteSection removes the section's header and keys plus the blank lines
// after them; comments after the last key stay (they often describe the next
// section). A section at the end of the file also takes the blank lines
// before it, so no blank tail is left behind.
func deleteSection(d *document, s *section) []docLine {
	from, to := s.header, s.coreEnd()
	for to < len(d.lines) && d.lines[to].kind == lineBlank {
		to++
	}
	if to == len(d.lines) {
		for from > 0 && d.lines[from-1].kind == lineBlank {
			from--
		}
	}
	out := make([]docLine, 0, len(d.lines)-(to-from))
	out = append(out, d.lines[:from]...)
	return append(out, d.lines[to:]...)
}

// edit applies updates to the file's bytes and returns the new bytes. Before
// returning it parses the result again and checks that every section not
// named in updates kept its lines and values, and that the named ones hold
// exactly what was asked; an edit that would change how other lines are read
// (possible only with unusual indentation) is refused with ErrUnsafeEdit.
func edit(path string, data []byte, kind Kind, updates []Update) ([]byte, error) {
	d, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	orig := d
	// want: for every section name an update touched, its expected values
	// (nil: the section must be absent).
	want := map[string]map[string]string{}
	for _, u := range updates {
		if err := validateUpdate(kind, u); err != nil {
			return nil, err
		}
		name := kind.headerFor(u.Profile)
		if s := kind.find(d, u.Profile); s != nil {
			name = s.name
		}
		cur, seen := want[name]
		if !seen {
			if s := d.section(name); s != nil {
				cur = sectionValues(s)
			}
		}
		switch {
		case u.Delete:
			cur = nil
		case cur == nil && len(u.Set) == 0:
		default:
			if cur == nil {
				cur = map[string]string{}
			}
			maps.Copy(cur, u.Set)
			for _, k := range u.Unset {
				delete(cur, k)
			}
		}
		want[name] = cur

		lines, err := apply(d, kind, u)
		if err != nil {
			return nil, err
		}
		d = &document{lines: lines}
		if d, err = parseString(path, d.renderString()); err != nil {
			return nil, fmt.Errorf("%w: %s: the change to profile %q would not parse back (%v); edit the file by hand", ErrUnsafeEdit, path, u.Profile, err)
		}
	}
	if err := verify(orig, d, want); err != nil {
		return nil, fmt.Errorf("%w: %s: %v; edit the file by hand", ErrUnsafeEdit, path, err)
	}
	return d.render(), nil
}

func sectionValues(s *section) map[string]string {
	m := make(map[string]string, len(s.entries))
	for _, e := range s.entries {
		m[e.key] = e.value
	}
	return m
}

func verify(before, after *document, want map[string]map[string]string) error {
	prefix := func(d *document) []string {
		end := len(d.lines)
		if len(d.sections) > 0 {
			end = d.sections[0].header
		}
		var t []string
		for _, l := range d.lines[:end] {
			if l.kind != lineBlank {
				t = append(t, l.text)
			}
		}
		return t
	}
	// Deleting the first section may leave its trailing comments in front of
	// the new first section, so the old prefix need only start the new one.
	if b, a := prefix(before), prefix(after); len(a) < len(b) || !slices.Equal(b, a[:len(b)]) {
		return fmt.Errorf("the lines before the first section would change")
	}
	afterByName := make(map[string]*section, len(after.sections))
	for _, s := range after.sections {
		afterByName[s.name] = s
	}
	names := make([]string, 0, len(after.sections))
	for _, s := range before.sections {
		if _, touched := want[s.name]; touched {
			continue
		}
		names = append(names, s.name)
		t := afterByName[s.name]
		if t == nil {
			return fmt.Errorf("section [%s] would disappear", s.name)
		}
		if !slices.EqualFunc(before.lines[s.header:s.coreEnd()], after.lines[t.header:t.coreEnd()], func(a, b docLine) bool { return a.text == b.text }) {
			return fmt.Errorf("section [%s] would change", s.name)
		}
		if !maps.Equal(sectionValues(s), sectionValues(t)) {
			return fmt.Errorf("the values of section [%s] would change", s.name)
		}
	}
	for name, vals := range want {
		t := afterByName[name]
		switch {
		case vals == nil && t != nil:
			return fmt.Errorf("section [%s] would not be removed", name)
		case vals != nil && t == nil:
			return fmt.Errorf("section [%s] would be missing", name)
		case vals != nil && !maps.Equal(vals, sectionValues(t)):
			return fmt.Errorf("section [%s] would not hold the keys asked for", name)
		}
		if t != nil {
			names = append(names, name)
		}
	}
	got := make([]string, 0, len(after.sections))
	for _, s := range after.sections {
		got = append(got, s.name)
	}
	slices.Sort(names)
	slices.Sort(got)
	if !slices.Equal(names, got) {
		return fmt.Errorf("the set of sections would change unexpectedly")
	}
	return nil
}
