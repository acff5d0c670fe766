package awsfile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// Keys rolehop writes.
const (
	KeyAccessKeyID     = "aws_access_key_id"
	KeySecretAccessKey = "aws_secret_access_key"
	KeySessionToken    = "aws_session_token"
	// KeyExpiration is the expiry of temporary credentials (RFC 3339, UTC),
	// under the name aws-vault and saml2aws use; AWS tools ignore it.
	KeyExpiration = "x_security_token_expires"
	KeyRegion     = "region"
	KeyOutput     = "output"
)

// AWSCredentials is the layout of aws-sdk-go-v2's aws.Credentials, spelled out
// so that this package does not import the SDK (the credential_process fast
// path, cmd/rolehop-credential-process, reads AWS files and must not link
// it). It is an alias of an unnamed struct type, so an aws.Credentials value
// is passed as it is: CredentialValues(creds) with creds an aws.Credentials
// compiles unchanged. Should the SDK ever change that struct, the call sites
// stop compiling rather than misbehave.
type AWSCredentials = struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Source          string
	CanExpire       bool
	Expires         time.Time
	AccountID       string
}

// CredentialValues returns the keys to write for c: the access key, the
// secret key, the session token (when there is one) and, when c expires, its
// expiry as KeyExpiration. Use Update.Unset with the keys it leaves out to
// drop stale ones.
func CredentialValues(c AWSCredentials) map[string]string {
	m := map[string]string{
		KeyAccessKeyID:     c.AccessKeyID,
		KeySecretAccessKey: c.SecretAccessKey,
	}
	if c.SessionToken != "" {
		m[KeySessionToken] = c.SessionToken
	}
	if c.CanExpire && !c.Expires.IsZero() {
		m[KeyExpiration] = c.Expires.UTC().Format(time.RFC3339)
	}
	return m
}

// CredentialsUpdate is the update that writes c to profile of a credentials
// file: CredentialValues(c), and the session token and expiry removed when c
// has none, so that a profile once holding temporary credentials never
// keeps a stale token or expiry beside new long-term keys.
func CredentialsUpdate(profile string, c AWSCredentials) Update {
	set := CredentialValues(c)
	var unset []string
	for _, k := range []string{KeySessionToken, KeyExpiration} {
		if _, ok := set[k]; !ok {
			unset = append(unset, k)
		}
	}
	return Update{Profile: profile, Set: set, Unset: unset}
}

// DefaultLockTimeout is how long a writer waits for another one by default.
const DefaultLockTimeout = 30 * time.Second

// staleTempAge is how old a leftover temporary file must be before a writer
// removes it.
const staleTempAge = time.Minute

// tempInfix marks this package's temporary files: ".<base>.rolehop-*.tmp".
const tempInfix = ".rolehop-"

// File is one AWS config or credentials file. The zero value (with Kind
// set) uses the default path for its kind. A File is safe for concurrent
// use; writers in other processes are serialized by the lock file.
type File struct {
	// Path is the file; empty means CredentialsPath or ConfigPath for Kind.
	Path string
	// Kind is Credentials or Config; it decides the section names.
	Kind Kind
	// LockTimeout bounds the wait for another writer; 0 means
	// DefaultLockTimeout. The context may end the wait earlier.
	LockTimeout time.Duration
	// Logger receives debug lines (paths and profile names, never values);
	// nil discards them.
	Logger *slog.Logger
}

// testHookMidWrite, when set (only by this package's tests), runs after half
// of the temporary file has been written and synced.
var testHookMidWrite func()

func (f *File) logger() *slog.Logger {
	if f.Logger != nil {
		return f.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (f *File) path() (string, error) {
	if !f.Kind.valid() {
		return "", fmt.Errorf("%w: file kind must be Credentials or Config", ErrInvalid)
	}
	if f.Path != "" {
		return expandHome(f.Path)
	}
	return DefaultPath(f.Kind)
}

// read returns the parsed file (an empty document when it does not exist).
func (f *File) read() (string, *document, error) {
	p, err := f.path()
	if err != nil {
		return "", nil, err
	}
	target, err := resolve(p)
	if err != nil {
		return p, nil, err
	}
	dir, base := filepath.Split(target)
	d, err := atomicfile.OpenDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return p, &document{}, nil
	}
	if err != nil {
		return p, nil, fmt.Errorf("awsfile: cannot open the folder of %s: %w", p, err)
	}
	defer d.Close()
	data, _, err := d.ReadFile(base, 0, nil)
	if errors.Is(err, fs.ErrNotExist) {
		return p, &document{}, nil
	}
	if err != nil {
		return p, nil, fileError(p, target, err)
	}
	doc, err := parse(p, data)
	return p, doc, err
}

// fileError words an error from opening or reading the file.
func fileError(p, target string, err error) error {
	var nr *atomicfile.NotRegularError
	if errors.As(err, &nr) {
		where := p
		if target != p {
			where = p + " (" + target + ")"
		}
		return fmt.Errorf("awsfile: %w: %s is %s; rolehop reads and writes only regular files, "+
			"so point the path (or AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE) at one", ErrNotRegular, where, nr.Kind)
	}
	return fmt.Errorf("awsfile: %w; check the file's permissions", err)
}

// Profiles lists the profiles in the file in file order; a missing file has
// none.
func (f *File) Profiles() ([]string, error) {
	_, d, err := f.read()
	if err != nil {
		return nil, err
	}
	var names []string
	seen := map[string]bool{}
	for _, s := range d.sections {
		if p, ok := f.Kind.profileOf(s.name); ok && !seen[p] && (f.Kind == Config || s.name != "DEFAULT") {
			seen[p] = true
			names = append(names, p)
		}
	}
	return names, nil
}

// Profile returns the keys of profile as the AWS CLI reads them: lower-case
// key names, values with surrounding whitespace removed, a nested value as
// its lines joined by "\n", keys from a [DEFAULT] section of the credentials
// file included. A missing profile (or file) gives ErrProfileNotFound.
func (f *File) Profile(profile string) (map[string]string, error) {
	snap, err := f.Snapshot()
	if err != nil {
		return nil, err
	}
	defer snap.Close()
	return snap.Profile(profile)
}

// Snapshot is a file read and checked once: looking up several profiles
// in it (a chain of rolehop sources) reads only their sections.
//
// Taking it streams the whole file through a small buffer with every check
// parsing makes (a malformed file is refused with its line, as the AWS CLI
// refuses it) but keeps only an index of the sections; Profile then reads
// and parses just the sections it needs, from the file still open. Its cost
// grows with the file's size only as fast as the file can be read, and its
// memory not at all. Should the file change between the two (an editor
// rewriting it in place), the file is read again whole. Close releases the
// file (an unclosed Snapshot releases it when garbage collected).
type Snapshot struct {
	kind Kind
	path string

	mu  sync.Mutex
	doc *document // the whole file, parsed (a missing file, or a fallback)
	idx *scanIndex
	f   *os.File
	fi  fs.FileInfo
	src *File
}

// Snapshot reads and checks the file once.
func (f *File) Snapshot() (*Snapshot, error) {
	p, err := f.path()
	if err != nil {
		return nil, err
	}
	target, err := resolve(p)
	if err != nil {
		return nil, err
	}
	dir, base := filepath.Split(target)
	d, err := atomicfile.OpenDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{kind: f.Kind, path: p, doc: &document{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("awsfile: cannot open the folder of %s: %w", p, err)
	}
	defer d.Close()
	file, fi, err := d.OpenRegular(base)
	if errors.Is(err, fs.ErrNotExist) {
		return &Snapshot{kind: f.Kind, path: p, doc: &document{}}, nil
	}
	if err != nil {
		return nil, fileError(p, target, err)
	}
	idx, err := scanFile(p, f.Kind, file, fi.Size())
	if err != nil {
		file.Close()
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, err
		}
		return nil, fileError(p, target, err)
	}
	return &Snapshot{kind: f.Kind, path: p, idx: idx, f: file, fi: fi, src: f}, nil
}

// Close releases the file. The Snapshot must not be used afterwards.
func (s *Snapshot) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f, s.idx = nil, nil
	return err
}

// Profile returns a profile's keys and values, with the file's [DEFAULT]
// section's values underneath, as File.Profile does.
func (s *Snapshot) Profile(profile string) (map[string]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sec, def, err := s.sections(profile)
	if err != nil {
		return nil, err
	}
	if sec == nil || (s.kind == Credentials && profile == "DEFAULT") {
		return nil, fmt.Errorf("awsfile: %w: no profile %q in %s", ErrProfileNotFound, profile, s.path)
	}
	m := map[string]string{}
	if def != nil {
		maps.Copy(m, sectionValues(def))
	}
	maps.Copy(m, sectionValues(sec))
	return m, nil
}

// sections finds profile's section and [DEFAULT]: in the index, or in the
// whole file when the file changed since the scan.
func (s *Snapshot) sections(profile string) (sec, def *section, err error) {
	if s.idx != nil {
		sec, err = s.idx.find(s.path, s.f, s.kind, profile)
		if err == nil {
			def, err = s.idx.named(s.path, s.f, "DEFAULT")
		}
		if err == nil {
			if fi, serr := s.f.Stat(); serr != nil || fi.Size() != s.fi.Size() || !fi.ModTime().Equal(s.fi.ModTime()) {
				err = errChanged
			}
		}
		if err == nil {
			return sec, def, nil
		}
		// Changed under us (or unreadable now): read it again, whole.
		_ = s.f.Close()
		s.f, s.idx = nil, nil
		_, doc, rerr := s.src.read()
		if rerr != nil {
			return nil, nil, rerr
		}
		s.doc = doc
	}
	if s.doc == nil {
		return nil, nil, errors.New("awsfile: the snapshot is closed")
	}
	return s.kind.find(s.doc, profile), s.doc.section("DEFAULT"), nil
}

// Apply makes all updates under one lock with one atomic write: the file is
// read again under the lock, edited, checked and replaced. A malformed file
// gives a *ParseError and is left untouched; so does every other error.
func (f *File) Apply(ctx context.Context, updates ...Update) error {
	p, err := f.path()
	if err != nil {
		return err
	}
	for _, u := range updates {
		if err := validateUpdate(f.Kind, u); err != nil {
			return fmt.Errorf("awsfile: %s: %w", p, err)
		}
	}
	names := make([]string, 0, len(updates))
	for _, u := range updates {
		names = append(names, u.Profile)
	}
	return f.modify(ctx, p, func(old []byte) ([]byte, error) {
		return edit(p, old, f.Kind, updates)
	}, "profiles", names)
}

// modify rewrites the file at p (the path the caller gave) as change says,
// under the file's lock, atomically, keeping its owner and never widening
// its mode. change gets the current content (nil when there is none) and
// returns the new one; unchanged content writes nothing. what/names describe
// the change in the debug log.
func (f *File) modify(ctx context.Context, p string, change func(old []byte) ([]byte, error), what string, names []string) error {
	target, err := resolve(p)
	if err != nil {
		return err
	}
	dir, base := filepath.Split(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("awsfile: cannot create the folder for %s: %w", p, err)
	}
	// Every step from here on is relative to the folder's descriptor: the
	// folder cannot be swapped for a symlink under us.
	d, err := atomicfile.OpenDir(dir)
	if err != nil {
		return fmt.Errorf("awsfile: cannot open the folder of %s: %w", p, err)
	}
	defer d.Close()

	timeout := f.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	// Root writing a user's file (sudo) must not leave files the user can
	// no longer open: the lock file and a new file get the folder's owner
	// (through their descriptors), a replaced file keeps its own.
	lockPath := target + ".lock"
	lock, err := d.Lock(ctx, base+".lock", atomicfile.LockOptions{Timeout: timeout, Retry: 20 * time.Millisecond, Owner: d.Info()})
	if err != nil {
		var nr *atomicfile.NotRegularError
		switch {
		case errors.Is(err, atomicfile.ErrLockTimeout):
			return fmt.Errorf("awsfile: %w: waited %s for %s; another rolehop is writing %s, try again when it is done", ErrLocked, timeout, lockPath, p)
		case ctx.Err() != nil:
			return fmt.Errorf("awsfile: gave up waiting for the lock on %s: %w", lockPath, ctx.Err())
		case errors.As(err, &nr):
			return fmt.Errorf("awsfile: %w: the lock file %s is %s; remove it (rolehop creates its lock file itself)", ErrNotRegular, lockPath, nr.Kind)
		case errors.Is(err, atomicfile.ErrLinked):
			return fmt.Errorf("awsfile: %w: the lock file %s has other hard links; remove it (rolehop creates its lock file itself)", ErrUnsafePath, lockPath)
		}
		return fmt.Errorf("awsfile: cannot lock %s: %w; make its folder writable", lockPath, err)
	}
	defer func() { _ = lock.Unlock() }()

	log := f.logger().With("path", p)
	prefix := "." + base + tempInfix
	for _, name := range d.RemoveStale(func(n string) bool {
		return strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".tmp")
	}, staleTempAge, time.Now()) {
		log.Debug("awsfile: removed a leftover temporary file", "file", name)
	}

	var (
		old    []byte
		st     fs.FileInfo
		exists bool
	)
	switch old, st, err = d.ReadFile(base, 0, nil); {
	case err == nil:
		exists = true
	case errors.Is(err, fs.ErrNotExist):
	default:
		return fileError(p, target, err)
	}
	// Parse errors name the path the caller gave, not the symlink target.
	data, err := change(old)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return pe
		}
		return err
	}
	mode := fs.FileMode(0o600)
	if exists {
		mode = st.Mode().Perm() & 0o600
		if string(data) == string(old) && st.Mode().Perm() == mode {
			log.Debug("awsfile: nothing to change")
			return nil
		}
	} else if len(data) == 0 {
		return nil
	}
	owner := st
	if owner == nil {
		owner = d.Info()
	}
	if err := writeAtomic(d, base, data, mode, owner); err != nil {
		return fmt.Errorf("awsfile: cannot write %s: %w; check that its folder is writable", p, err)
	}
	log.Debug("awsfile: file updated", "kind", f.Kind.String(), what, names, "target", target)
	if exists && st.Mode().Perm() != mode {
		log.Info("awsfile: tightened file mode", "from", st.Mode().Perm().String(), "to", mode.String())
	}
	return nil
}

// writeAtomic replaces base in d with data through package atomicfile,
// with mode, owner's owner when possible, and a temporary name Apply's
// sweep recognises.
func writeAtomic(d *atomicfile.Dir, base string, data []byte, mode fs.FileMode, owner fs.FileInfo) error {
	return d.Write(base, data, atomicfile.Options{
		Perm:        mode,
		TempPattern: "." + base + tempInfix + "*.tmp",
		MidWrite:    testHookMidWrite,
		Prepare: func(f *os.File) {
			if fi, err := f.Stat(); err == nil {
				atomicfile.KeepOwner(f, fi, owner)
			}
		},
	})
}

// Apply is (&File{Path: path, Kind: kind}).Apply.
func Apply(ctx context.Context, path string, kind Kind, updates ...Update) error {
	return (&File{Path: path, Kind: kind}).Apply(ctx, updates...)
}

// UpdateCredentials sets keys of profile in the credentials file at path
// ("" for the default one).
func UpdateCredentials(ctx context.Context, path, profile string, set map[string]string) error {
	return Apply(ctx, path, Credentials, Update{Profile: profile, Set: set})
}

// UpdateConfig sets keys of profile in the config file at path ("" for the
// default one); the section is [profile NAME], or [default].
func UpdateConfig(ctx context.Context, path, profile string, set map[string]string) error {
	return Apply(ctx, path, Config, Update{Profile: profile, Set: set})
}

// DeleteProfile removes profile's section from the file; a missing profile
// is not an error.
func DeleteProfile(ctx context.Context, path string, kind Kind, profile string) error {
	return Apply(ctx, path, kind, Update{Profile: profile, Delete: true})
}

// ReadProfile is (&File{Path: path, Kind: kind}).Profile.
func ReadProfile(path string, kind Kind, profile string) (map[string]string, error) {
	return (&File{Path: path, Kind: kind}).Profile(profile)
}

// Profiles is (&File{Path: path, Kind: kind}).Profiles.
func Profiles(path string, kind Kind) ([]string, error) {
	return (&File{Path: path, Kind: kind}).Profiles()
}
