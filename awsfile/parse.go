package awsfile

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// lineKind classifies one line the way botocore's configparser sees it.
type lineKind uint8

const (
	lineBlank    lineKind = iota // empty or only whitespace
	lineComment                  // first non-space character is '#' or ';'
	lineSection                  // [name]
	lineKey                      // key = value / key: value
	lineContinue                 // indented deeper than its key: part of that key's value
)

// docLine is one line of the file: its text without the line ending, and the
// line ending itself. 24 bytes: a file of hundreds of thousands of short
// lines is held twice while it is edited and checked.
type docLine struct {
	text string
	eol  lineEnd
	kind lineKind
}

// lineEnd is a line's ending: none (a last line without one), "\n" or
// "\r\n".
type lineEnd uint8

const (
	eolNone lineEnd = iota
	eolLF
	eolCRLF
)

func (e lineEnd) String() string {
	switch e {
	case eolLF:
		return "\n"
	case eolCRLF:
		return "\r\n"
	}
	return ""
}

// entry is one key of a section: its key line and, when the value continues
// on indented lines, everything up to the last of them.
type entry struct {
	key   string // lower case, as configparser stores it
	value string // value as configparser returns it (continuations joined by "\n")
	first int    // index of the key line
	last  int    // index of the last line of the value (== first when flat)
}

// section is one [name] section.
type section struct {
	name    string // text between the brackets, as configparser sees it
	header  int    // index of the header line
	entries []entry
}

// coreEnd is the index after the section's last own line (header or the last
// line of its last entry); trailing blank lines and comments are not counted.
func (s *section) coreEnd() int {
	if len(s.entries) == 0 {
		return s.header + 1
	}
	return s.entries[len(s.entries)-1].last + 1
}

func (s *section) entry(key string) *entry {
	for i := range s.entries {
		if s.entries[i].key == key {
			return &s.entries[i]
		}
	}
	return nil
}

// document is a parsed file: the original lines plus an index of sections.
// Rendering the lines gives back the exact input bytes.
type document struct {
	lines    []docLine
	sections []*section
}

// renderString is render as a string, for parsing again without a copy.
func (d *document) renderString() string {
	var b strings.Builder
	n := 0
	for _, l := range d.lines {
		n += len(l.text) + int(l.eol)
	}
	b.Grow(n)
	for _, l := range d.lines {
		b.WriteString(l.text)
		b.WriteString(l.eol.String())
	}
	return b.String()
}

func (d *document) render() []byte {
	n := 0
	for _, l := range d.lines {
		n += len(l.text) + int(l.eol) // eolNone, eolLF, eolCRLF are 0, 1, 2 bytes
	}
	b := make([]byte, 0, n)
	for _, l := range d.lines {
		b = append(b, l.text...)
		b = append(b, l.eol.String()...)
	}
	return b
}

// lastSection returns the last section with the given name, or nil.
func (d *document) section(name string) *section {
	for i := len(d.sections) - 1; i >= 0; i-- {
		if d.sections[i].name == name {
			return d.sections[i]
		}
	}
	return nil
}

// eol is the line ending new lines get: the file's first one, else "\n".
func (d *document) eol() lineEnd {
	for _, l := range d.lines {
		if l.eol != eolNone {
			return l.eol
		}
	}
	return eolLF
}

// isPySpace reports whether r is whitespace for Python's str.strip and the
// re module's \s, which botocore's parser relies on: Go's unicode.IsSpace plus
// the ASCII information separators U+001C..U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// indentOf counts the characters (not bytes) before the first non-space one,
// as configparser measures indentation.
func indentOf(s string) int {
	n := 0
	for _, r := range s {
		if !isPySpace(r) {
			return n
		}
		n++
	}
	return n
}

// indentPrefix returns the leading whitespace of s.
func indentPrefix(s string) string {
	return s[:len(s)-len(strings.TrimLeftFunc(s, isPySpace))]
}

// splitLines cuts s into lines, keeping each line ending. The lines share
// s's memory.
func splitLines(s string) []docLine {
	lines := make([]docLine, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, docLine{text: s})
			break
		}
		text, eol := s[:i], eolLF
		if i > 0 && s[i-1] == '\r' {
			text, eol = s[:i-1], eolCRLF
		}
		lines = append(lines, docLine{text: text, eol: eol})
		s = s[i+1:]
	}
	return lines
}

// sectionName returns the header name if the stripped line is a section
// header: configparser's `\[(?P<header>.+)\]` matched at the start, so the
// name runs to the last ']' and anything after it is ignored.
func sectionName(stripped string) (string, bool) {
	if !strings.HasPrefix(stripped, "[") {
		return "", false
	}
	end := strings.LastIndexByte(stripped, ']')
	if end < 2 {
		return "", false
	}
	return stripped[1:end], true
}

// parse reads data with the rules of botocore's parser and rejects what the
// AWS CLI rejects. path only labels errors.
func parse(path string, data []byte) (*document, error) {
	return parseString(path, string(data))
}

// parseString is parse of a string (the lines share its memory).
func parseString(path string, data string) (*document, error) {
	if strings.HasPrefix(data, "\xef\xbb\xbf") {
		return nil, &ParseError{Path: path, Line: 1, Msg: "the file starts with a UTF-8 byte order mark, which the AWS CLI cannot read; save it as UTF-8 without BOM"}
	}
	d := &document{lines: splitLines(data)}
	// At most this many sections: sized up front, the index and the
	// duplicate check do not grow (and copy) as they fill.
	// Every header holds a '[', so this bounds the sections: the index,
	// the sections themselves (one array; pointers into it stay valid as
	// it never grows past this) and the duplicate check are sized once.
	maxSections := min(strings.Count(data, "["), len(d.lines))
	d.sections = make([]*section, 0, maxSections)
	slab := make([]section, 0, maxSections)
	// Every key line holds a '=' or a ':'.
	maxEntries := min(strings.Count(data, "=")+strings.Count(data, ":"), len(d.lines))
	var (
		cur         *section
		entries     = make([]entry, 0, maxEntries) // every section's entries, in file order
		starts      = make([]int, 0, maxSections)  // index in entries of each section's first
		curEntry    = -1                           // index into entries of the key whose value may continue
		indentLevel int
		values      []string // value lines of the current entry
		firstLine   = make(map[string]int, maxSections)
		keyLine     = map[string]int{}
	)
	flush := func() {
		if cur != nil && curEntry >= 0 {
			// Trailing blank lines end up stripped: leave them out
			// rather than join and cut them (no copy for a flat value).
			v := values
			for len(v) > 1 && v[len(v)-1] == "" {
				v = v[:len(v)-1]
			}
			entries[curEntry].value = strings.TrimRightFunc(strings.Join(v, "\n"), isPySpace)
		}
	}
	for i := range d.lines {
		l := &d.lines[i]
		lineNo := i + 1
		if !utf8.ValidString(l.text) {
			return nil, &ParseError{Path: path, Line: lineNo, Msg: "the line is not valid UTF-8, which the AWS CLI cannot read; save the file as UTF-8"}
		}
		if strings.ContainsRune(l.text, '\r') {
			return nil, &ParseError{Path: path, Line: lineNo, Msg: "the line holds a carriage return not followed by a line feed; convert the file to \\n line endings"}
		}
		stripped := pyStrip(l.text)
		if stripped == "" {
			l.kind = lineBlank
			if cur != nil && curEntry >= 0 {
				values = append(values, "")
			}
			continue
		}
		if stripped[0] == '#' || stripped[0] == ';' {
			l.kind = lineComment
			continue
		}
		indent := indentOf(l.text)
		if cur != nil && curEntry >= 0 && indent > indentLevel {
			l.kind = lineContinue
			entries[curEntry].last = i
			values = append(values, stripped)
			continue
		}
		indentLevel = indent
		if name, ok := sectionName(stripped); ok {
			flush()
			if prev, dup := firstLine[name]; dup {
				return nil, &ParseError{Path: path, Line: lineNo, Msg: fmt.Sprintf("section [%s] appears a second time (first at line %d), which the AWS CLI rejects; merge the two sections into one", name, prev)}
			}
			firstLine[name] = lineNo
			l.kind = lineSection
			if len(slab) < cap(slab) {
				slab = append(slab, section{name: name, header: i})
				cur = &slab[len(slab)-1]
			} else {
				cur = &section{name: name, header: i}
			}
			d.sections = append(d.sections, cur)
			starts = append(starts, len(entries))
			curEntry = -1
			clear(keyLine)
			continue
		}
		if cur == nil {
			return nil, &ParseError{Path: path, Line: lineNo, Msg: "a line before the first [section] header is not a comment; add a header such as [default] above it, comment it out with '#', or delete it"}
		}
		delim := strings.IndexAny(stripped, "=:")
		if delim < 0 {
			msg := "the line is not a [section] header, a comment or a key = value line; add the missing '=' or ']', comment it out with '#', or delete it"
			if strings.HasPrefix(stripped, "[") {
				msg = "the section header has no closing ']'; add it, or delete the line"
			}
			return nil, &ParseError{Path: path, Line: lineNo, Msg: msg}
		}
		key := strings.ToLower(strings.TrimRightFunc(stripped[:delim], isPySpace))
		if key == "" {
			return nil, &ParseError{Path: path, Line: lineNo, Msg: "the line has a value but no key name before its '=' or ':'; add the key name or delete the line"}
		}
		if prev, dup := keyLine[key]; dup {
			return nil, &ParseError{Path: path, Line: lineNo, Msg: fmt.Sprintf("key %q appears a second time in section [%s] (first at line %d), which the AWS CLI rejects; delete one of them", key, cur.name, prev)}
		}
		keyLine[key] = lineNo
		flush()
		l.kind = lineKey
		entries = append(entries, entry{key: key, first: i, last: i})
		curEntry = len(entries) - 1
		values = append(values[:0], pyStrip(stripped[delim+1:]))
	}
	flush()
	for k, sec := range d.sections {
		end := len(entries)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		sec.entries = entries[starts[k]:end:end]
	}
	return d, checkNested(path, d)
}

// checkNested rejects what botocore's _parse_nested rejects: when a key's
// value starts on the next line ("s3 =" followed by indented lines), each
// of those lines — split at Python's line boundaries — must hold an '='.
func checkNested(path string, d *document) error {
	for _, s := range d.sections {
		for _, e := range s.entries {
			if !strings.HasPrefix(e.value, "\n") {
				continue
			}
			for i := e.first + 1; i <= e.last; i++ {
				if d.lines[i].kind != lineContinue {
					continue
				}
				for _, part := range strings.FieldsFunc(d.lines[i].text, isPyLineBreak) {
					if pyStrip(part) != "" && !strings.Contains(part, "=") {
						return &ParseError{Path: path, Line: i + 1, Msg: fmt.Sprintf("the indented line under key %q is not a nested key = value setting, which the AWS CLI rejects; add the '=', move the value onto the key's line, or unindent the line", e.key)}
					}
				}
			}
		}
	}
	return nil
}

// isPyLineBreak reports the characters Python's str.splitlines splits at.
func isPyLineBreak(r rune) bool {
	switch r {
	case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
		return true
	}
	return false
}

// valueStart returns the byte offset in a key line's text where its value
// begins (after the delimiter and the spaces that follow it).
func valueStart(text string) int {
	lead := len(indentPrefix(text))
	delim := lead + strings.IndexAny(text[lead:], "=:")
	rest := text[delim+1:]
	return delim + 1 + len(rest) - len(strings.TrimLeftFunc(rest, isPySpace))
}
