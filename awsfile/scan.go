package awsfile

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"slices"
	"strings"
	"unicode/utf8"
)

// The read path, flat in the file's size.
//
// Reading a profile (Snapshot, File.Profile) must refuse every file parse
// refuses, with the same line and message, so every line is looked at; but
// nothing needs to be kept of most of them. scanFile streams the file
// through a small buffer (a large file is never held whole: no memory, and
// no page faults, in proportion to its size) and keeps, per section, only a
// hash of its name and the byte range it spans. A profile's section is then
// read back on its own (pread on the same open file) and parsed with parse,
// which gives exactly the values parsing the whole file gives: a section's
// parse starts afresh at its header in both cases.
//
// The per-line work is the state machine of parseString, in the same order
// of checks: the BOM, UTF-8 and lone carriage returns, blank lines,
// comments, continuation lines (indented deeper than their key), section
// headers (a second section of one name refused), lines outside a section,
// lines without '=' or ':', empty keys, a key twice in one section; and,
// as checkNested does after a successful parse, the first indented line
// under an empty "key =" that holds no '='. Pure-ASCII lines (nearly all)
// take a byte-level path; any other line is handled by the very helpers
// parse uses.

// scanChunk is the read buffer's size (tests make it tiny to cross chunk
// boundaries everywhere).
var scanChunk = 64 << 10

// secRef is one section of a scanned file.
type secRef struct {
	off, end int64 // byte range: from its header line's start to the next header's
	line     int   // the header's line number
	next     int32 // next section whose name has the same hash, or -1
}

// scanIndex is what scanFile keeps of a file.
type scanIndex struct {
	seed     maphash.Seed
	byHash   hashTable // hash of a section's name -> its last secRef
	refs     []secRef
	profiles []nonCanonical // config sections naming a profile not spelled "profile NAME"
	size     int64
}

// nonCanonical is a config section such as [profile  x] or [profile x ]:
// botocore reads it as profile x, but hashing "profile x" cannot find it.
type nonCanonical struct {
	profile string
	ref     int32
}

// scanKey is one key of the section being scanned.
type scanKey struct {
	start, end int // in scanner.arena
	line       int
}

// scanner holds scanFile's state between lines.
type scanner struct {
	path string
	kind Kind
	f    *os.File
	idx  *scanIndex

	line        int   // current line number
	off         int64 // current line's byte offset
	inSection   bool
	inEntry     bool
	indentLevel int
	emptyFirst  bool   // the current entry's key line has no value
	entryKey    string // the current entry's key, for the nested message (only when emptyFirst)
	keys        []scanKey
	keyMap      map[string]int // a section's keys, once it has many
	arena       []byte
	nested      *ParseError // the first nested violation, reported if nothing else is wrong
}

// scanFile reads f (size bytes, a regular file opened by the caller) and
// returns its index, or the *ParseError parse would return.
func scanFile(path string, kind Kind, f *os.File, size int64) (*scanIndex, error) {
	idx := &scanIndex{seed: maphash.MakeSeed(), size: size}
	est := int(min(size/256, 1<<20)) + 8
	idx.byHash.init(est)
	idx.refs = make([]secRef, 0, est)
	s := &scanner{path: path, kind: kind, f: f, idx: idx}
	var bom [3]byte
	if n, _ := f.ReadAt(bom[:], 0); n == 3 && string(bom[:]) == "\xef\xbb\xbf" {
		return nil, &ParseError{Path: path, Line: 1, Msg: "the file starts with a UTF-8 byte order mark, which the AWS CLI cannot read; save it as UTF-8 without BOM"}
	}
	buf := make([]byte, scanChunk)
	var carry []byte // a line cut by the end of the buffer
	var off int64
	for {
		n, err := io.ReadFull(f, buf)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, err
		}
		data := buf[:n]
		eof := n < len(buf)
		if len(carry) > 0 {
			// Finish the cut line first.
			i := bytes.IndexByte(data, '\n')
			if i < 0 && !eof {
				carry = append(carry, data...)
				continue
			}
			end := len(data)
			if i >= 0 {
				end = i + 1
			}
			carry = append(carry, data[:end]...)
			if err := s.lines(carry, off); err != nil {
				return nil, err
			}
			off += int64(len(carry))
			carry = carry[:0]
			data = data[end:]
		}
		// Whole lines of this buffer.
		last := bytes.LastIndexByte(data, '\n')
		whole := data[:last+1]
		if eof {
			whole = data
		}
		if len(whole) > 0 {
			if err := s.lines(whole, off); err != nil {
				return nil, err
			}
			off += int64(len(whole))
		}
		if eof {
			break
		}
		carry = append(carry, data[len(whole):]...)
	}
	if s.inSection {
		idx.refs[len(idx.refs)-1].end = off
	}
	if s.nested != nil {
		return nil, s.nested
	}
	return idx, nil
}

// lines scans whole lines (the last may lack its "\n" at the end of the
// file) starting at file offset off.
func (s *scanner) lines(data []byte, off int64) error {
	ascii := isASCII(data)
	valid := ascii || utf8.Valid(data)
	hasCR := bytes.IndexByte(data, '\r') >= 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var text []byte
		n := len(data)
		if i >= 0 {
			text, n = data[:i], i+1
		} else {
			text = data
		}
		s.line++
		s.off = off
		lineASCII := ascii || isASCII(text)
		if !valid && !lineASCII && !utf8.Valid(text) {
			return &ParseError{Path: s.path, Line: s.line, Msg: "the line is not valid UTF-8, which the AWS CLI cannot read; save the file as UTF-8"}
		}
		if hasCR {
			if i >= 0 && len(text) > 0 && text[len(text)-1] == '\r' {
				text = text[:len(text)-1]
			}
			if bytes.IndexByte(text, '\r') >= 0 {
				return &ParseError{Path: s.path, Line: s.line, Msg: "the line holds a carriage return not followed by a line feed; convert the file to \\n line endings"}
			}
		}
		var err error
		if lineASCII {
			err = s.asciiLine(text)
		} else {
			err = s.line8(string(text))
		}
		if err != nil {
			return err
		}
		data = data[n:]
		off += int64(n)
	}
	return nil
}

// isASCII reports whether b holds only bytes below 0x80.
func isASCII(b []byte) bool {
	for len(b) >= 8 {
		v := uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
			uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
		if v&0x8080808080808080 != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// isASCIIPySpace is isPySpace for bytes below 0x80.
func isASCIIPySpace(c byte) bool { return asciiClass[c]&classSpace != 0 }

// asciiClass classifies bytes for the scan's inner loops.
var asciiClass = func() (t [256]uint8) {
	for c := 0; c < 0x80; c++ {
		if c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f) {
			t[c] |= classSpace
		}
	}
	t['='] |= classDelim
	t[':'] |= classDelim
	return t
}()

const (
	classSpace = 1 << iota
	classDelim
)

// asciiLine is line8 for a line of ASCII bytes, without copying it.
func (s *scanner) asciiLine(text []byte) error {
	i := 0
	for i < len(text) && isASCIIPySpace(text[i]) {
		i++
	}
	if i == len(text) {
		return nil // blank: part of a value, or nothing
	}
	c := text[i]
	if c == '#' || c == ';' {
		return nil
	}
	indent := i
	if s.inSection && s.inEntry && indent > s.indentLevel {
		if s.emptyFirst && s.nested == nil {
			s.checkNested(string(text))
		}
		return nil
	}
	s.indentLevel = indent
	rest := text[i:]
	if c == '[' {
		if end := bytes.LastIndexByte(rest, ']'); end >= 2 {
			return s.header(rest[1:end], nil)
		}
	}
	if !s.inSection {
		return &ParseError{Path: s.path, Line: s.line, Msg: "a line before the first [section] header is not a comment; add a header such as [default] above it, comment it out with '#', or delete it"}
	}
	delim := -1
	for j, b := range rest {
		if asciiClass[b]&classDelim != 0 {
			delim = j
			break
		}
	}
	if delim < 0 {
		return s.noDelimiter(c == '[')
	}
	k := delim
	for k > 0 && isASCIIPySpace(rest[k-1]) {
		k--
	}
	if k == 0 {
		return s.emptyKey()
	}
	empty := true
	for _, b := range rest[delim+1:] {
		if !isASCIIPySpace(b) {
			empty = false
			break
		}
	}
	return s.key(rest[:k], true, empty)
}

// line8 handles one line that is not pure ASCII, with parse's helpers.
func (s *scanner) line8(text string) error {
	stripped := pyStrip(text)
	if stripped == "" {
		return nil
	}
	if stripped[0] == '#' || stripped[0] == ';' {
		return nil
	}
	indent := indentOf(text)
	if s.inSection && s.inEntry && indent > s.indentLevel {
		if s.emptyFirst && s.nested == nil {
			s.checkNested(text)
		}
		return nil
	}
	s.indentLevel = indent
	if name, ok := sectionName(stripped); ok {
		return s.header(nil, &name)
	}
	if !s.inSection {
		return &ParseError{Path: s.path, Line: s.line, Msg: "a line before the first [section] header is not a comment; add a header such as [default] above it, comment it out with '#', or delete it"}
	}
	delim := strings.IndexAny(stripped, "=:")
	if delim < 0 {
		return s.noDelimiter(strings.HasPrefix(stripped, "["))
	}
	key := strings.ToLower(strings.TrimRightFunc(stripped[:delim], isPySpace))
	if key == "" {
		return s.emptyKey()
	}
	return s.key([]byte(key), false, pyStrip(stripped[delim+1:]) == "")
}

func (s *scanner) noDelimiter(bracket bool) error {
	msg := "the line is not a [section] header, a comment or a key = value line; add the missing '=' or ']', comment it out with '#', or delete it"
	if bracket {
		msg = "the section header has no closing ']'; add it, or delete the line"
	}
	return &ParseError{Path: s.path, Line: s.line, Msg: msg}
}

func (s *scanner) emptyKey() error {
	return &ParseError{Path: s.path, Line: s.line, Msg: "the line has a value but no key name before its '=' or ':'; add the key name or delete the line"}
}

// checkNested records the first indented line under an empty "key =" that
// is not a nested setting (checkNested of parse).
func (s *scanner) checkNested(text string) {
	for _, part := range strings.FieldsFunc(text, isPyLineBreak) {
		if pyStrip(part) != "" && !strings.Contains(part, "=") {
			s.nested = &ParseError{Path: s.path, Line: s.line, Msg: fmt.Sprintf("the indented line under key %q is not a nested key = value setting, which the AWS CLI rejects; add the '=', move the value onto the key's line, or unindent the line", s.entryKey)}
			return
		}
	}
}

// header records a section header: the name as ASCII bytes (raw) or as a
// string (name).
func (s *scanner) header(raw []byte, name *string) error {
	var h uint64
	if name != nil {
		h = maphash.String(s.idx.seed, *name)
	} else {
		h = maphash.Bytes(s.idx.seed, raw)
	}
	idx := s.idx
	if s.inSection {
		idx.refs[len(idx.refs)-1].end = s.off
	}
	first, seen := idx.byHash.get(h)
	if seen {
		nm := ""
		if name != nil {
			nm = *name
		} else {
			nm = string(raw)
		}
		for r := first; r >= 0; r = idx.refs[r].next {
			if prev, err := s.headerName(idx.refs[r].off); err == nil && prev == nm {
				return &ParseError{Path: s.path, Line: s.line, Msg: fmt.Sprintf("section [%s] appears a second time (first at line %d), which the AWS CLI rejects; merge the two sections into one", nm, idx.refs[r].line)}
			}
		}
	}
	ref := secRef{off: s.off, line: s.line, next: -1}
	if seen {
		// A different name with the same hash: chain it.
		ref.next = first
	}
	idx.refs = append(idx.refs, ref)
	i := int32(len(idx.refs) - 1)
	idx.byHash.put(h, i)
	if s.kind == Config {
		var nm string
		switch {
		case name != nil:
			nm = *name
		case bytes.HasPrefix(raw, []byte("profile")) && !canonicalProfile(raw):
			nm = string(raw)
		}
		if nm != "" && strings.HasPrefix(nm, "profile") {
			if p, ok := Config.profileOf(nm); ok && nm != "profile "+p {
				idx.profiles = append(idx.profiles, nonCanonical{profile: p, ref: i})
			}
		}
	}
	s.inSection, s.inEntry = true, false
	s.keys, s.arena, s.keyMap = s.keys[:0], s.arena[:0], nil
	return nil
}

// canonicalProfile reports whether an ASCII section name is "profile NAME"
// with NAME free of whitespace and quotes: hashing "profile "+NAME finds it.
func canonicalProfile(raw []byte) bool {
	rest, ok := bytes.CutPrefix(raw, []byte("profile "))
	if !ok || len(rest) == 0 {
		return false
	}
	for _, c := range rest {
		if isASCIIPySpace(c) || c == '"' || c == '\'' || c == '\\' {
			return false
		}
	}
	return true
}

// headerName reads back the name of the section whose header starts at
// off (only for a hash seen before: a duplicate, or a collision).
func (s *scanner) headerName(off int64) (string, error) {
	b := make([]byte, 0, 256)
	chunk := make([]byte, 256)
	for {
		n, err := s.f.ReadAt(chunk, off+int64(len(b)))
		b = append(b, chunk[:n]...)
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[:i]
			break
		}
		if err != nil {
			break
		}
	}
	name, ok := sectionName(pyStrip(strings.TrimSuffix(string(b), "\r")))
	if !ok {
		return "", fmt.Errorf("no header at %d", off)
	}
	return name, nil
}

// key records a key line of the current section: key is lower case already
// unless ascii (then it is lowered here). A section's keys are compared
// directly while it has few (nearly always), through a map once it has
// many.
func (s *scanner) key(key []byte, ascii, emptyValue bool) error {
	start := len(s.arena)
	s.arena = slices.Grow(s.arena, len(key))[:start+len(key)]
	k := s.arena[start:]
	if ascii {
		for i, c := range key {
			if c-'A' < 26 {
				c += 'a' - 'A'
			}
			k[i] = c
		}
	} else {
		copy(k, key)
	}
	dup := -1
	if s.keyMap != nil {
		if l, ok := s.keyMap[string(k)]; ok {
			dup = l
		}
	} else {
		for _, e := range s.keys {
			if e.end-e.start == len(k) && bytes.Equal(s.arena[e.start:e.end], k) {
				dup = e.line
				break
			}
		}
	}
	if dup >= 0 {
		return &ParseError{Path: s.path, Line: s.line, Msg: fmt.Sprintf("key %q appears a second time in section [%s] (first at line %d), which the AWS CLI rejects; delete one of them", string(k), s.sectionNameNow(), dup)}
	}
	s.keys = append(s.keys, scanKey{start: start, end: len(s.arena), line: s.line})
	if s.keyMap != nil {
		s.keyMap[string(k)] = s.line
	} else if len(s.keys) > 16 {
		s.keyMap = make(map[string]int, 64)
		for _, e := range s.keys {
			s.keyMap[string(s.arena[e.start:e.end])] = e.line
		}
	}
	s.inEntry, s.emptyFirst = true, emptyValue
	if emptyValue {
		s.entryKey = string(k)
	}
	return nil
}

// sectionNameNow is the current section's name (error messages only).
func (s *scanner) sectionNameNow() string {
	name, _ := s.headerName(s.idx.refs[len(s.idx.refs)-1].off)
	return name
}

// section reads back the section at ref and parses it on its own.
func (idx *scanIndex) section(path string, f *os.File, ref int32) (*section, error) {
	r := idx.refs[ref]
	buf := make([]byte, r.end-r.off)
	if _, err := f.ReadAt(buf, r.off); err != nil && !(err == io.EOF && len(buf) == 0) {
		return nil, err
	}
	d, err := parse(path, buf)
	if err != nil || len(d.sections) != 1 || d.sections[0].header != 0 {
		return nil, errChanged
	}
	return d.sections[0], nil
}

// errChanged: the file no longer holds what the scan saw.
var errChanged = fmt.Errorf("awsfile: the file changed while it was read")

// find returns the section of profile, as Kind.find does on a parsed file
// (nil when there is none).
func (idx *scanIndex) find(path string, f *os.File, kind Kind, profile string) (*section, error) {
	var best *section
	bestRef := int32(-1)
	// consider reads the sections whose name hashes like name and keeps
	// the last one that holds profile.
	consider := func(name string, holds func(string) bool) error {
		h := maphash.String(idx.seed, name)
		for r, ok := idx.byHash.get(h); ok && r >= 0; r = idx.refs[r].next {
			if r <= bestRef {
				continue
			}
			sec, err := idx.section(path, f, r)
			if err != nil {
				return err
			}
			if holds(sec.name) {
				best, bestRef = sec, r
			}
		}
		return nil
	}
	isProfile := func(n string) bool { p, ok := kind.profileOf(n); return ok && p == profile }
	switch {
	case kind != Config:
		if err := consider(profile, isProfile); err != nil {
			return nil, err
		}
		return best, nil
	case profile == "default":
		if err := consider("default", func(n string) bool { return n == "default" }); err != nil || best != nil {
			return best, err
		}
	}
	if err := consider("profile "+profile, isProfile); err != nil {
		return nil, err
	}
	for _, nc := range idx.profiles {
		if nc.profile == profile && nc.ref > bestRef {
			sec, err := idx.section(path, f, nc.ref)
			if err != nil {
				return nil, err
			}
			best, bestRef = sec, nc.ref
		}
	}
	return best, nil
}

// named returns the section called exactly name (DEFAULT), or nil.
func (idx *scanIndex) named(path string, f *os.File, name string) (*section, error) {
	h := maphash.String(idx.seed, name)
	for r, ok := idx.byHash.get(h); ok && r >= 0; r = idx.refs[r].next {
		sec, err := idx.section(path, f, r)
		if err != nil {
			return nil, err
		}
		if sec.name == name {
			return sec, nil
		}
	}
	return nil, nil
}

// hashTable maps hashes to section indexes: open addressing with linear
// probing (the hashes are already random), no per-entry allocation, 8
// bytes a slot so that the table of a file of 10,000 sections stays in the
// processor's cache. It keeps 32 bits of each hash: a rare collision of two
// names only costs reading a header back (sections with the same kept hash
// are chained, and compared by name).
type hashTable struct {
	slots []slot
	n     int
}

type slot struct {
	h uint32 // 0: empty (a kept hash of 0 is stored as 1)
	v int32
}

func (t *hashTable) init(hint int) {
	size := 16
	for size < hint*2 {
		size <<= 1
	}
	t.slots, t.n = make([]slot, size), 0
}

// testHookKeep, when set (only by this package's tests), replaces the kept
// hash, to make every name collide.
var testHookKeep func(uint32) uint32

func keep(h uint64) uint32 {
	k := uint32(h >> 32)
	if testHookKeep != nil {
		k = testHookKeep(k)
	}
	if k == 0 {
		return 1
	}
	return k
}

func (t *hashTable) get(h uint64) (int32, bool) {
	k := keep(h)
	mask := uint32(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch t.slots[i].h {
		case k:
			return t.slots[i].v, true
		case 0:
			return -1, false
		}
	}
}

func (t *hashTable) put(h uint64, v int32) {
	if (t.n+1)*2 > len(t.slots) {
		old := t.slots
		t.slots, t.n = make([]slot, len(old)*2), 0
		for _, e := range old {
			if e.h != 0 {
				t.putKept(e.h, e.v)
			}
		}
	}
	t.putKept(keep(h), v)
}

func (t *hashTable) putKept(k uint32, v int32) {
	mask := uint32(len(t.slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch t.slots[i].h {
		case k:
			t.slots[i].v = v
			return
		case 0:
			t.slots[i] = slot{h: k, v: v}
			t.n++
			return
		}
	}
}
