// Package safetext makes text that came from elsewhere — an IdP's page, an
// API's answer, a file another user could write — safe to put in a one-line
// error or log message shown on a terminal.
//
// A server's text may carry terminal escape sequences (ESC ] 0 ; title BEL
// changes the window title, ESC [ 2 J clears the screen, others move the
// cursor or rewrite what the user saw), bidirectional overrides that make
// "moc.live//:sptth" read as something else (Trojan Source), invisible
// format characters, line breaks that forge a second log line, or
// megabytes of text. Clean removes all of that and bounds the length; it
// does not redact secrets (the caller knows them: replace them first).
package safetext

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMax is the length Line keeps, in characters.
const DefaultMax = 200

// Ellipsis marks text that was cut.
const Ellipsis = "..."

// Clean returns s as one line of at most max characters (runes; max <= 0
// means no bound), with Ellipsis appended when it was cut:
//
//   - control characters (C0 including ESC, DEL, C1 including NEL) and
//     every whitespace character, line and paragraph separators included,
//     become a space, and runs of spaces become one; the ends are trimmed;
//   - Unicode format characters (category Cf) are removed: the
//     bidirectional embeddings, overrides and isolates (U+202A–U+202E,
//     U+2066–U+2069), the marks U+200E, U+200F and U+061C, zero-width
//     characters, the byte order mark, soft hyphens and tag characters;
//   - invalid UTF-8 becomes U+FFFD.
func Clean(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s), 4*max+len(Ellipsis)))
	n := 0
	space := false
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			r = unicode.ReplacementChar
		case unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029':
			space = true
			continue
		case unicode.Is(unicode.Cf, r):
			continue
		}
		if space && n > 0 {
			if max > 0 && n >= max {
				b.WriteString(Ellipsis)
				return b.String()
			}
			b.WriteByte(' ')
			n++
		}
		space = false
		if max > 0 && n >= max {
			b.WriteString(Ellipsis)
			return b.String()
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// Line is Clean(s, DefaultMax).
func Line(s string) string { return Clean(s, DefaultMax) }
