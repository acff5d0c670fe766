package awsfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// CredentialsPath returns the shared credentials file the AWS CLI and SDKs
// use: $AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/credentials. A leading "~"
// is expanded to the home folder.
func CredentialsPath() (string, error) {
	return envPath("AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

// ConfigPath returns the shared config file: $AWS_CONFIG_FILE, else
// ~/.aws/config. A leading "~" is expanded to the home folder.
func ConfigPath() (string, error) {
	return envPath("AWS_CONFIG_FILE", "config")
}

// DefaultPath returns CredentialsPath or ConfigPath for kind.
func DefaultPath(kind Kind) (string, error) {
	if kind == Config {
		return ConfigPath()
	}
	return CredentialsPath()
}

func envPath(env, base string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return expandHome(p)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("awsfile: cannot find the home folder for ~/.aws/%s (%w); set %s or HOME", base, err, env)
	}
	return filepath.Join(home, ".aws", base), nil
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") && !strings.HasPrefix(p, "~"+string(filepath.Separator)) {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("awsfile: cannot expand ~ in %s (%w); give an absolute path or set HOME", p, err)
	}
	return filepath.Join(home, p[1:]), nil
}

// maxLinks bounds symlink chains (the Linux kernel's limit is 40).
const maxLinks = 40

// resolve returns path with every symlink in it followed, as realpath
// does, for a file (and folders) that may not exist yet: the result is an
// absolute path without symlinks in its existing part.
//
// It refuses (ErrUnsafePath) to follow a symlink made by another user —
// not the process's own, not root's — unless what the link leads to (or,
// for something still to be created, its nearest existing folder) belongs
// to that same user. So root (sudo, a container) working on a user's
// ~/.aws follows the user's links only to the user's own files, and a link
// another user planted in a shared folder never leads rolehop to one of its
// own files elsewhere. A final target that exists and is not a regular file
// (a FIFO, a device such as /dev/null, a folder) is ErrNotRegular.
func resolve(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("awsfile: %s: %w", path, err)
	}
	r := &resolver{euid: os.Geteuid(), path: path}
	target, err := r.walk(abs)
	if err != nil {
		return "", err
	}
	fi, err := os.Lstat(target)
	if err == nil && !fi.Mode().IsRegular() {
		return "", notRegular(path, target, fi.Mode())
	}
	return target, nil
}

type resolver struct {
	euid  int
	path  string // as given, for messages
	links int
}

func (r *resolver) walk(abs string) (string, error) {
	vol := filepath.VolumeName(abs)
	sep := string(filepath.Separator)
	cur := vol + sep
	parts := strings.Split(strings.TrimPrefix(abs[len(vol):], sep), sep)
	for i, c := range parts {
		switch c {
		case "", ".":
			continue
		case "..":
			cur = filepath.Dir(cur)
			continue
		}
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		}
		if err != nil {
			return "", fmt.Errorf("awsfile: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if r.links++; r.links > maxLinks {
			return "", fmt.Errorf("awsfile: %s: more than %d symlinks in a chain (a loop?); point it at a real file", r.path, maxLinks)
		}
		t, err := os.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("awsfile: %w", err)
		}
		if !filepath.IsAbs(t) {
			t = filepath.Join(cur, t)
		}
		resolved, err := r.walk(filepath.Clean(t))
		if err != nil {
			return "", err
		}
		if err := r.check(next, fi, resolved); err != nil {
			return "", err
		}
		cur = resolved
	}
	return cur, nil
}

// check applies the ownership rule to one symlink.
func (r *resolver) check(link string, li fs.FileInfo, resolved string) error {
	owner, _, ok := atomicfile.Owner(li)
	if !ok || owner == r.euid || owner == 0 {
		return nil
	}
	p := resolved
	fi, err := os.Lstat(p)
	for errors.Is(err, fs.ErrNotExist) && filepath.Dir(p) != p {
		p = filepath.Dir(p)
		fi, err = os.Lstat(p)
	}
	if err != nil {
		return fmt.Errorf("awsfile: %w", err)
	}
	if to, _, ok := atomicfile.Owner(fi); ok && to != owner {
		return fmt.Errorf("awsfile: %w: %s leads through a symlink owned by uid %d (%s) to %s, owned by uid %d; "+
			"rolehop (uid %d) follows another user's symlink only to that user's own files: replace the link with the file itself",
			ErrUnsafePath, r.path, owner, link, p, to, r.euid)
	}
	return nil
}

// notRegular is the one-line refusal of a path that is not a regular file.
func notRegular(path, target string, m fs.FileMode) error {
	where := path
	if target != path {
		where = path + " (" + target + ")"
	}
	return fmt.Errorf("awsfile: %w: %s is %s; rolehop reads and writes only regular files, "+
		"so point the path (or AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE) at one", ErrNotRegular, where, atomicfile.Kind(m))
}
