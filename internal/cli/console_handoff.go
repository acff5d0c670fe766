package cli

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// signinLifetime is how long a console sign-in URL works: after it, the
// hand-off files holding one are useless and removed.
const signinLifetime = 15 * time.Minute

// signinHandoff writes a page that sends the browser to signinURL into a
// folder only this user can read, and returns its file:// URL. The browser
// is started with that URL, not with the sign-in URL: a command line is
// world-readable (/proc/PID/cmdline), and the sign-in URL is a bearer token
// for the console. Hand-off pages older than the sign-in URL's 15 minutes
// are removed on the next run.
func signinHandoff(f *Factory, signinURL string) (string, error) {
	dir, err := handoffDir(f)
	if err != nil {
		return "", err
	}
	d, _, err := atomicfile.OpenPrivate(dir, true)
	if err != nil {
		return "", fmt.Errorf("the folder for the console hand-off page: %w", err)
	}
	defer d.Close()
	d.RemoveStale(func(n string) bool { return strings.HasPrefix(n, "signin-") }, signinLifetime, f.now())
	var rnd [16]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return "", err
	}
	name := "signin-" + hex.EncodeToString(rnd[:]) + ".html"
	js, err := json.Marshal(signinURL) // a JavaScript string literal
	if err != nil {
		return "", err
	}
	page := "<!doctype html><meta charset=utf-8><meta name=referrer content=no-referrer>" +
		"<meta http-equiv=refresh content=\"0;url=" + html.EscapeString(signinURL) + "\">" +
		"<title>AWS console</title><script>location.replace(" + strings.ReplaceAll(string(js), "</", "<\\/") + ")</script>" +
		"<p>Opening the AWS console…</p>\n"
	if err := d.Write(name, []byte(page), atomicfile.Options{Perm: 0o600}); err != nil {
		return "", fmt.Errorf("write the console hand-off page: %w", err)
	}
	return (&url.URL{Scheme: "file", Path: filepath.Join(dir, name)}).String(), nil
}

// handoffDir is $XDG_RUNTIME_DIR/rolehop (a per-user tmpfs), else
// ~/.cache/rolehop/console.
func handoffDir(f *Factory) (string, error) {
	if d := f.getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "rolehop"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find a folder for the console hand-off page: %w; set XDG_RUNTIME_DIR or HOME", err)
	}
	return filepath.Join(cache, "rolehop", "console"), nil
}
