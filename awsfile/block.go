package awsfile

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

// A managed block is the part of an AWS file between the lines
//
//	# >>> rolehop: NAME >>>
//	# <<< rolehop: NAME <<<
//
// that rolehop writes as a whole (the profiles `rolehop populate` generates
// for a login): rewriting it replaces exactly those lines, so running the
// generator again updates its profiles and never duplicates them, and every
// byte outside the block stays as it was. The markers are comments, which
// every AWS tool skips.

// BlockProfile is one profile of a managed block: its name and its keys in
// the order they are written.
type BlockProfile struct {
	Name   string
	Values [][2]string
}

// BlockResult says what ReplaceBlock did.
type BlockResult struct {
	Written []string // profiles now in the block
	Removed []string // profiles the block held before and no longer holds
	Skipped []string // profiles defined outside the block: left as they are
}

func blockMarkers(name string) (start, end string) {
	return "# >>> rolehop: " + name + " >>>", "# <<< rolehop: " + name + " <<<"
}

// ReplaceBlock makes the managed block name hold exactly profiles (under the
// file's lock, atomically, as Apply writes): an existing block is replaced
// in place, a missing one is appended at the end of the file, an empty
// profiles list removes the block. A profile whose name a section outside
// the block already uses is left alone and reported in Skipped. A malformed
// file, or a block whose markers are damaged (one without the other, twice,
// out of order), is refused and not rewritten.
func (f *File) ReplaceBlock(ctx context.Context, name string, profiles []BlockProfile) (BlockResult, error) {
	var res BlockResult
	p, err := f.path()
	if err != nil {
		return res, err
	}
	if name == "" || strings.Contains(name, ">>>") || strings.Contains(name, "<<<") ||
		strings.ContainsFunc(name, func(r rune) bool { return unicode.IsControl(r) }) {
		return res, fmt.Errorf("awsfile: %s: %w: the block name %q must be one line without <<< or >>>", p, ErrInvalid, name)
	}
	seen := map[string]bool{}
	for _, bp := range profiles {
		if err := validateProfile(f.Kind, bp.Name); err != nil {
			return res, fmt.Errorf("awsfile: %s: %w", p, err)
		}
		if seen[bp.Name] {
			return res, fmt.Errorf("awsfile: %s: %w: the block would hold profile %q twice", p, ErrInvalid, bp.Name)
		}
		seen[bp.Name] = true
		keys := map[string]bool{}
		for _, kv := range bp.Values {
			if err := validateKey(kv[0]); err != nil {
				return res, fmt.Errorf("awsfile: %s: profile %q: %w", p, bp.Name, err)
			}
			if err := validateValue(kv[0], kv[1]); err != nil {
				return res, fmt.Errorf("awsfile: %s: profile %q: %w", p, bp.Name, err)
			}
			if keys[kv[0]] {
				return res, fmt.Errorf("awsfile: %s: %w: profile %q sets key %q twice", p, ErrInvalid, bp.Name, kv[0])
			}
			keys[kv[0]] = true
		}
	}
	err = f.modify(ctx, p, func(old []byte) ([]byte, error) {
		res = BlockResult{}
		return replaceBlock(p, old, f.Kind, name, profiles, &res)
	}, "block", []string{name})
	return res, err
}

// replaceBlock computes the new file content (see ReplaceBlock).
func replaceBlock(path string, old []byte, kind Kind, name string, profiles []BlockProfile, res *BlockResult) ([]byte, error) {
	d, err := parse(path, old)
	if err != nil {
		return nil, err
	}
	startMark, endMark := blockMarkers(name)
	start, end := -1, -1
	for i, l := range d.lines {
		if l.kind != lineComment {
			continue
		}
		switch strings.TrimSpace(l.text) {
		case startMark:
			if start >= 0 {
				return nil, blockDamaged(path, name, "two start lines")
			}
			start = i
		case endMark:
			if end >= 0 {
				return nil, blockDamaged(path, name, "two end lines")
			}
			end = i
		}
	}
	switch {
	case (start < 0) != (end < 0):
		return nil, blockDamaged(path, name, "a start line without an end line, or the other way round")
	case start > end:
		return nil, blockDamaged(path, name, "the end line comes before the start line")
	}
	inBlock := func(line int) bool { return start >= 0 && line > start && line < end }

	outside := map[string]map[string]string{}
	for _, s := range d.sections {
		prof, ok := kind.profileOf(s.name)
		if !ok {
			continue
		}
		if inBlock(s.header) {
			res.Removed = append(res.Removed, prof)
			continue
		}
		outside[prof] = sectionValues(s)
	}
	if start >= 0 {
		// Sections that begin before the block must end before it: a key
		// inside the block would belong to them.
		for _, s := range d.sections {
			if s.header < start && s.coreEnd() > start {
				return nil, blockDamaged(path, name, "a section above it continues into it")
			}
		}
	}

	eol := d.eol().String()
	var block []string
	want := map[string]map[string]string{}
	for _, bp := range profiles {
		if _, clash := outside[bp.Name]; clash {
			res.Skipped = append(res.Skipped, bp.Name)
			continue
		}
		res.Written = append(res.Written, bp.Name)
		vals := map[string]string{}
		block = append(block, "", "["+kind.headerFor(bp.Name)+"]")
		for _, kv := range bp.Values {
			block = append(block, kv[0]+" = "+kv[1])
			vals[kv[0]] = kv[1]
		}
		want[bp.Name] = vals
	}
	res.Removed = slices.DeleteFunc(res.Removed, func(n string) bool { return want[n] != nil })

	var b strings.Builder
	writeLines := func(from, to int) {
		for _, l := range d.lines[from:to] {
			b.WriteString(l.text)
			b.WriteString(l.eol.String())
		}
	}
	writeBlock := func() {
		if len(res.Written) == 0 {
			return
		}
		b.WriteString(startMark + eol)
		b.WriteString("# Written by rolehop populate: lines between these markers are replaced when it runs again." + eol)
		for _, line := range block {
			b.WriteString(line + eol)
		}
		b.WriteString(eol + endMark + eol)
	}
	if start >= 0 {
		writeLines(0, start)
		writeBlock()
		writeLines(end+1, len(d.lines))
	} else {
		writeLines(0, len(d.lines))
		if len(res.Written) > 0 {
			if n := len(d.lines); n > 0 && d.lines[n-1].eol == eolNone {
				b.WriteString(eol)
			}
			if len(d.lines) > 0 {
				b.WriteString(eol)
			}
			writeBlock()
		}
	}
	out := []byte(b.String())

	// Check what was written reads back as meant: every profile outside the
	// block unchanged, the block's profiles exactly as asked.
	nd, err := parse(path, out)
	if err != nil {
		return nil, fmt.Errorf("awsfile: %s: the block for %q would not parse back (%w); nothing was written", path, name, err)
	}
	got := map[string]map[string]string{}
	for _, s := range nd.sections {
		if prof, ok := kind.profileOf(s.name); ok {
			got[prof] = sectionValues(s)
		}
	}
	for prof, vals := range outside {
		if !maps.Equal(got[prof], vals) {
			return nil, fmt.Errorf("awsfile: %s: writing the block for %q would change profile %q outside it; nothing was written", path, name, prof)
		}
	}
	for prof, vals := range want {
		if !maps.Equal(got[prof], vals) {
			return nil, fmt.Errorf("awsfile: %s: profile %q of the block for %q does not read back as written; nothing was written", path, prof, name)
		}
	}
	return out, nil
}

func blockDamaged(path, name, what string) error {
	start, end := blockMarkers(name)
	return fmt.Errorf("awsfile: %s: %w: the rolehop block %q is damaged (%s); remove the lines %q and %q and everything between them, then run again",
		path, ErrMalformed, name, what, start, end)
}
