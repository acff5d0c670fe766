package credfile

import (
	"bytes"
	"crypto/sha1" // #nosec G505 -- SHA-1 is what the AWS CLI uses for cache file names; not a security use.
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// AssumeRoleArgs are the sts:AssumeRole parameters that name a cache entry,
// spelled as botocore spells them. Zero values are left out of the key, as
// botocore leaves out parameters that are not set.
type AssumeRoleArgs struct {
	RoleArn string
	// RoleSessionName is left out when empty. botocore also leaves it out
	// when it generated the name itself (no role_session_name in the
	// profile), so pass "" for generated names.
	RoleSessionName string
	ExternalId      string
	SerialNumber    string
	DurationSeconds int32
	// Policy is the session policy as JSON text. Like botocore, the key
	// hashes the parsed document, so key order and spacing do not matter.
	Policy string
}

// ErrInvalidArgs is returned by AssumeRoleKey and HashArgs for arguments
// that cannot be turned into a cache key.
var ErrInvalidArgs = errors.New("credcache: invalid cache key arguments")

// AssumeRoleKey returns the AWS CLI's cache key (the file name without
// ".json") for an assume-role call with these arguments. It is exactly
// botocore's BaseAssumeRoleCredentialFetcher._create_cache_key, so an entry
// written by rolehop in ~/.aws/cli/cache is used by the AWS CLI and the
// other way round.
func AssumeRoleKey(a AssumeRoleArgs) (string, error) {
	if a.RoleArn == "" {
		return "", fmt.Errorf("%w: RoleArn is empty; set the role ARN", ErrInvalidArgs)
	}
	args := map[string]any{"RoleArn": a.RoleArn}
	if a.RoleSessionName != "" {
		args["RoleSessionName"] = a.RoleSessionName
	}
	if a.ExternalId != "" {
		args["ExternalId"] = a.ExternalId
	}
	if a.SerialNumber != "" {
		args["SerialNumber"] = a.SerialNumber
	}
	if a.DurationSeconds != 0 {
		args["DurationSeconds"] = int64(a.DurationSeconds)
	}
	if a.Policy != "" {
		dec := json.NewDecoder(strings.NewReader(a.Policy))
		dec.UseNumber()
		var p any
		if err := dec.Decode(&p); err != nil {
			return "", fmt.Errorf("%w: Policy is not valid JSON; pass the policy document as JSON text", ErrInvalidArgs)
		}
		if dec.More() {
			return "", fmt.Errorf("%w: Policy has trailing data after the JSON document", ErrInvalidArgs)
		}
		args["Policy"] = p
	}
	return HashArgs(args)
}

// HashArgs returns the sha1 hex digest of args serialised the way Python's
// json.dumps(args, sort_keys=True) does (default separators ", " and ": ",
// ensure_ascii), with ':' and '/' replaced by '_' as botocore's
// _make_file_safe does (a hex digest contains neither).
//
// Values may be string, bool, nil, int, int32, int64, float64, json.Number,
// []any, []string, map[string]any and map[string]string.
func HashArgs(args map[string]any) (string, error) {
	var b bytes.Buffer
	if err := pyDump(&b, args); err != nil {
		return "", err
	}
	sum := sha1.Sum(b.Bytes()) // #nosec G401 -- file naming, as the AWS CLI does.
	return hex.EncodeToString(sum[:]), nil
}

// pyDump writes v as Python's json.dumps(v, sort_keys=True) would.
func pyDump(b *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		return pyString(b, x)
	case int:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case float64:
		return pyFloat(b, x)
	case json.Number:
		return pyNumber(b, x)
	case []string:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := pyString(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := pyDump(b, e); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return pyDump(b, m)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		// Byte order of UTF-8 equals code point order, which is how
		// Python compares str.
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := pyString(b, k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := pyDump(b, x[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("%w: unsupported value of type %T", ErrInvalidArgs, v)
	}
	return nil
}

// pyString writes s as json.dumps with ensure_ascii=True: everything
// outside printable ASCII becomes \uXXXX (lower-case hex, surrogate pairs
// above the BMP).
func pyString(b *bytes.Buffer, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: a string is not valid UTF-8", ErrInvalidArgs)
	}
	const hexdigits = "0123456789abcdef"
	u4 := func(r rune) {
		b.WriteString(`\u`)
		b.WriteByte(hexdigits[r>>12&0xf])
		b.WriteByte(hexdigits[r>>8&0xf])
		b.WriteByte(hexdigits[r>>4&0xf])
		b.WriteByte(hexdigits[r&0xf])
	}
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= ' ' && r <= '~':
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			u4(0xd800 | (r>>10)&0x3ff)
			u4(0xdc00 | r&0x3ff)
		default:
			u4(r)
		}
	}
	b.WriteByte('"')
	return nil
}

// pyNumber writes a JSON number literal as Python would after json.loads:
// literals with a fraction or exponent become floats, others ints.
func pyNumber(b *bytes.Buffer, n json.Number) error {
	s := string(n)
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("%w: number %q is out of range", ErrInvalidArgs, s)
		}
		return pyFloat(b, f)
	}
	// Python ints are exact; only "-0" needs normalising.
	if strings.TrimLeft(s, "-0") == "" {
		s = "0"
	}
	b.WriteString(s)
	return nil
}

// pyFloat writes f as Python's float.__repr__: shortest round-trip digits,
// fixed notation with a trailing ".0" when the decimal exponent is in
// [-4, 16), scientific (e.g. 1e+16, 1.5e-05) otherwise.
func pyFloat(b *bytes.Buffer, f float64) error {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("%w: non-finite number", ErrInvalidArgs)
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	i := strings.LastIndexByte(e, 'e')
	exp, _ := strconv.Atoi(e[i+1:])
	if f != 0 && (exp < -4 || exp >= 16) {
		b.WriteString(e)
		return nil
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	b.WriteString(s)
	return nil
}
