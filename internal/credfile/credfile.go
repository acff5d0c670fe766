// Package credfile is the SDK-free core of package credcache: where the
// on-disk credential cache lives, how an entry is named (botocore's cache
// key), the entry's JSON layout, and the checks that decide whether an
// entry may be trusted and is fresh.
//
// credcache builds the cache on it (locking, fetching, writing, with
// aws.Credentials); the credential_process fast path
// (cmd/rolehop-credential-process) reads entries with Lookup without linking
// the AWS SDK. Both apply the same rules, so an entry the fast path serves
// is one credcache.Cache.Get would have served: see credcache's package
// documentation for the rules and their reasons.
package credfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// DefaultRefreshWindow is how long before expiry an entry is replaced: 15
// minutes, as the AWS CLI does.
const DefaultRefreshWindow = 15 * time.Minute

// MaxLifetime bounds how far in the future a cached entry may expire: 36
// hours is the longest any STS call issues.
const MaxLifetime = 36 * time.Hour

// MaxEntryBytes bounds an entry file: an AssumeRole answer with the AWS
// CLI's response metadata is a few kilobytes.
const MaxEntryBytes = 64 << 10

// ErrInvalidKey is returned for a key that cannot be a file name.
var ErrInvalidKey = errors.New("credcache: invalid cache key")

// Entry is one cached credential, as stored.
type Entry struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expires         time.Time
	AssumedRoleUser *AssumedRoleUser
}

// AssumedRoleUser is the STS AssumedRoleUser element.
type AssumedRoleUser struct {
	AssumedRoleId string `json:"AssumedRoleId"` //nolint:revive // the wire name
	Arn           string `json:"Arn"`
}

// DefaultDir returns $XDG_CACHE_HOME/rolehop/creds, or
// ~/.cache/rolehop/creds when XDG_CACHE_HOME is unset or not absolute.
func DefaultDir() (string, error) {
	if x := os.Getenv("XDG_CACHE_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "rolehop", "creds"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("credcache: cannot find the home folder for the cache; set HOME or XDG_CACHE_HOME: %w", err)
	}
	return filepath.Join(home, ".cache", "rolehop", "creds"), nil
}

// AWSCLIDir returns ~/.aws/cli/cache, the AWS CLI's assume-role cache.
func AWSCLIDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("credcache: cannot find the home folder; set HOME: %w", err)
	}
	return filepath.Join(home, ".aws", "cli", "cache"), nil
}

// CheckKey reports whether key can name an entry (a file name of letters,
// digits, '-', '_' and '.').
func CheckKey(key string) error {
	if key == "" || key == "." || key == ".." || len(key) > 200 {
		return fmt.Errorf("%w %q: use AssumeRoleKey or HashArgs to make one", ErrInvalidKey, key)
	}
	for _, r := range key {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.'
		if !ok {
			return fmt.Errorf("%w %q: only letters, digits, '-', '_' and '.' are allowed", ErrInvalidKey, key)
		}
	}
	return nil
}

// IsTemp recognises atomicfile's temporary files for entries
// (".<key>.json.<random>.tmp").
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") && strings.Contains(name, ".json.")
}

// Fresh reports whether e may be served at now with the refresh window
// (0: DefaultRefreshWindow; negative: none).
func Fresh(e Entry, now time.Time, window time.Duration) bool {
	switch {
	case window == 0:
		window = DefaultRefreshWindow
	case window < 0:
		window = 0
	}
	return now.Before(e.Expires.Add(-window))
}

// Load reads and checks the entry name in d: a regular file (opened without
// following a symlink or blocking) owned by the user with no group or other
// bits, at most MaxEntryBytes, well formed, and expiring no later than
// MaxLifetime from now. A missing file is absent with no reason; anything
// else refused is absent with a reason that never quotes the file.
func Load(d *atomicfile.Dir, name string, now time.Time) (Entry, bool, string) {
	data, _, err := d.ReadFile(name, MaxEntryBytes, atomicfile.CheckPrivate)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return Entry{}, false, ""
		}
		var nr *atomicfile.NotRegularError
		switch {
		case errors.As(err, &nr):
			return Entry{}, false, "it is " + nr.Kind + ", not a file rolehop wrote"
		case errors.Is(err, atomicfile.ErrTooLarge):
			return Entry{}, false, fmt.Sprintf("it holds more than %d bytes, more than any entry", MaxEntryBytes)
		}
		return Entry{}, false, err.Error()
	}
	e, reason := Parse(data)
	if reason == "" {
		if limit := now.Add(MaxLifetime); e.Expires.After(limit) {
			reason = fmt.Sprintf("it expires at %s, later than STS can issue (%d hours from now)",
				e.Expires.UTC().Format(time.RFC3339), int(MaxLifetime.Hours()))
		}
	}
	if reason != "" {
		return Entry{}, false, reason
	}
	return e, true, ""
}

// Lookup is the read-only fast path: the entry for key in the folder dir
// when it is there, trusted and fresh at now. It changes nothing on disk:
// a folder that is missing, not a real folder, not the user's, or open to
// anyone else (which credcache would tighten, or refuse, with a warning) is
// a miss, and so is every entry Load refuses. The caller then goes to
// credcache, which says why.
func Lookup(dir, key string, now time.Time) (Entry, bool) {
	if CheckKey(key) != nil {
		return Entry{}, false
	}
	d, ok := OpenPrivateRO(dir)
	if !ok {
		return Entry{}, false
	}
	defer d.Close()
	e, ok, _ := Load(d, key+".json", now)
	if !ok || !Fresh(e, now, 0) {
		return Entry{}, false
	}
	return e, true
}

// OpenPrivateRO opens the cache folder for the fast path: only when it
// exists, is a real folder, is the user's and is open to no one else (what
// credcache would tighten or refuse, with a warning, is not used here).
func OpenPrivateRO(dir string) (*atomicfile.Dir, bool) {
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		return nil, false
	}
	if uid, _, ok := atomicfile.Owner(d.Info()); ok && (uid != os.Geteuid() || d.Info().Mode().Perm()&0o077 != 0) {
		d.Close()
		return nil, false
	}
	return d, true
}

// fileEntry is the AWS CLI's JSON layout.
type fileEntry struct {
	Credentials *struct {
		AccessKeyId     string `json:"AccessKeyId"` //nolint:revive // the wire name
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
		Expiration      string `json:"Expiration"`
	} `json:"Credentials"`
	AssumedRoleUser  *AssumedRoleUser `json:"AssumedRoleUser,omitempty"`
	ResponseMetadata map[string]any   `json:"ResponseMetadata"`
}

// Parse returns the entry or a reason it is not one. The reason never
// quotes the file's content.
func Parse(data []byte) (Entry, string) {
	if len(bytes.TrimSpace(data)) == 0 {
		return Entry{}, "the file is empty"
	}
	var f fileEntry
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Entry{}, "the JSON ends early (a torn or truncated file)"
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return Entry{}, fmt.Sprintf("not valid JSON (error at byte %d)", se.Offset)
		}
		return Entry{}, "not a credential cache entry (unexpected JSON types)"
	}
	if f.Credentials == nil {
		return Entry{}, "no Credentials object"
	}
	cr := f.Credentials
	switch {
	case cr.AccessKeyId == "":
		return Entry{}, "Credentials.AccessKeyId is missing"
	case cr.SecretAccessKey == "":
		return Entry{}, "Credentials.SecretAccessKey is missing"
	case cr.SessionToken == "":
		return Entry{}, "Credentials.SessionToken is missing"
	case cr.Expiration == "":
		return Entry{}, "Credentials.Expiration is missing"
	}
	exp, err := parseExpiration(cr.Expiration)
	if err != nil {
		return Entry{}, "Credentials.Expiration is not a timestamp"
	}
	return Entry{
		AccessKeyID:     cr.AccessKeyId,
		SecretAccessKey: cr.SecretAccessKey,
		SessionToken:    cr.SessionToken,
		Expires:         exp,
		AssumedRoleUser: f.AssumedRoleUser,
	}, ""
}

// parseExpiration reads RFC 3339 (rolehop, boto3 isoformat) and botocore's
// "2006-01-02T15:04:05UTC" (the AWS CLI's cache files).
func parseExpiration(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if rest, ok := strings.CutSuffix(s, "UTC"); ok {
		return time.Parse("2006-01-02T15:04:05.999999999", rest)
	}
	if rest, ok := strings.CutSuffix(s, "GMT"); ok {
		return time.Parse("2006-01-02T15:04:05.999999999", rest)
	}
	return time.Time{}, fmt.Errorf("unknown timestamp format")
}

// Encode is an entry in the AWS CLI's JSON layout.
func Encode(e Entry) ([]byte, error) {
	var f fileEntry
	f.Credentials = &struct {
		AccessKeyId     string `json:"AccessKeyId"` //nolint:revive // the wire name
		SecretAccessKey string `json:"SecretAccessKey"`
		SessionToken    string `json:"SessionToken"`
		Expiration      string `json:"Expiration"`
	}{
		AccessKeyId:     e.AccessKeyID,
		SecretAccessKey: e.SecretAccessKey,
		SessionToken:    e.SessionToken,
		Expiration:      e.Expires.UTC().Format(time.RFC3339),
	}
	f.AssumedRoleUser = e.AssumedRoleUser
	f.ResponseMetadata = map[string]any{}
	return json.Marshal(f)
}
