package cli

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/source"
)

// maxRecent is how many profile names the recent list keeps.
const maxRecent = 50

// recentPath is the file holding the profiles picked or named on a terminal,
// most recent first: $XDG_STATE_HOME/rolehop/recent-profiles, else
// ~/.local/state/rolehop/recent-profiles. It holds names only, no secret.
func recentPath(f *Factory) string {
	if d := f.getenv("XDG_STATE_HOME"); filepath.IsAbs(d) {
		return filepath.Join(d, "rolehop", "recent-profiles")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "rolehop", "recent-profiles")
}

// loadRecent returns the recent profile names, most recent first.
func loadRecent(f *Factory) []string {
	p := recentPath(f)
	if p == "" {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() && len(out) < maxRecent {
		if n := strings.TrimSpace(sc.Text()); n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// recordRecent puts name first in the recent list; a failure only costs the
// ordering, so it is ignored.
func recordRecent(f *Factory, name string) {
	p := recentPath(f)
	if p == "" || name == "" || strings.ContainsAny(name, "\r\n") {
		return
	}
	names := append([]string{name}, slices.DeleteFunc(loadRecent(f), func(n string) bool { return n == name })...)
	if len(names) > maxRecent {
		names = names[:maxRecent]
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return
	}
	_ = atomicfile.Write(p, []byte(strings.Join(names, "\n")+"\n"), atomicfile.Options{Perm: 0o600})
}

// orderRecentFirst returns names with the recent ones first (most recent
// first), then the others in their order.
func orderRecentFirst(names, recent []string) []string {
	out := make([]string, 0, len(names))
	for _, r := range recent {
		if slices.Contains(names, r) {
			out = append(out, r)
		}
	}
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// pickProfile fills d.Profile from a picker when no profile is named (no
// PROFILE, --profile or AWS_PROFILE) and the command runs on a terminal:
// the profiles of the AWS files, recent ones first. Elsewhere it leaves the
// profile empty (the SDK's default chain).
func pickProfile(ctx context.Context, f *Factory, d *Delivery) error {
	if d.Profile != "" || f.getenv("AWS_PROFILE") != "" || !f.IO.InTerminal || !f.IO.ErrTerminal {
		return nil
	}
	names, err := source.Names(&source.Options{Getenv: f.getenv})
	if err != nil || len(names) == 0 {
		return nil //nolint:nilerr // no profiles to offer: the default chain applies
	}
	names = orderRecentFirst(names, loadRecent(f))
	items := make([]pickItem, len(names))
	for i, n := range names {
		items[i] = pickItem{label: n, filter: n}
	}
	i, err := pick(ctx, f.IO, newPicker("Choose a profile", "profile", items))
	if err != nil {
		return err
	}
	d.Profile = names[i]
	return nil
}
