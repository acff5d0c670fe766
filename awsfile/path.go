package awsfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// resolve follows path while it is a symlink and returns the final target,
// which may not exist yet (a link to a file still to be created).
func resolve(path string) (string, error) {
	p := path
	for range maxLinks {
		fi, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
		if err != nil {
			return "", fmt.Errorf("awsfile: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if fi.IsDir() {
				return "", fmt.Errorf("awsfile: %s is a folder, not a file; point the path at a file", path)
			}
			return p, nil
		}
		target, err := os.Readlink(p)
		if err != nil {
			return "", fmt.Errorf("awsfile: %w", err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("awsfile: %s: more than %d symlinks in a chain (a loop?); point it at a real file", path, maxLinks)
}
