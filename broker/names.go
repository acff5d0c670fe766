package broker

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"unicode"
)

// SessionName turns a user name (a NameID, an e-mail address, a uid) into
// an STS RoleSessionName and SourceIdentity: 2 to 64 characters of
// [\w+=,.@-]. A name that already fits is kept as it is, so CloudTrail
// shows what the IdP said. Otherwise every other character becomes "_" and
// the result is cut to 55 characters and followed by "-" and 8 hex digits
// of the SHA-256 of the original name: two users whose names clean to the
// same text ("jürgen" and "jörgen", or two long names sharing their first
// 64 characters) still get different session names, so that attribution
// stays unambiguous. A name starting with "aws:" (reserved for
// SourceIdentity) cannot result, ":" being replaced.
func SessionName(user string) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x80 && (r == '_' || r == '+' || r == '=' || r == ',' || r == '.' || r == '@' || r == '-' ||
			unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '_'
	}, user)
	if clean == user && len(clean) >= 2 && len(clean) <= 64 {
		return clean
	}
	sum := sha256.Sum256([]byte(user))
	if len(clean) > 55 {
		clean = clean[:55]
	}
	return clean + "-" + hex.EncodeToString(sum[:4])
}

// tagValue makes s an STS session tag value: letters, digits, spaces and
// _.:/=+-@, at most 256 characters.
func tagValue(s string) string {
	v := strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsSpace(r) || strings.ContainsRune("_.:/=+-@", r) {
			if unicode.IsSpace(r) {
				return ' '
			}
			return r
		}
		return '_'
	}, s)
	if r := []rune(v); len(r) > 256 {
		v = string(r[:256])
	}
	return v
}

// groupsTag joins groups for the "groups" session tag with ":" between
// them, whole groups only, within the 256-character limit.
func groupsTag(groups []string) string {
	var b strings.Builder
	n := 0
	for _, g := range groups {
		v := tagValue(g)
		l := len([]rune(v))
		if n > 0 {
			l++
		}
		if n+l > 256 {
			break
		}
		if n > 0 {
			b.WriteByte(':')
		}
		b.WriteString(v)
		n += l
	}
	return b.String()
}
