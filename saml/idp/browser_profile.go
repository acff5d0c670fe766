package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
	"github.com/gofrs/flock"

	"github.com/rolehop/rolehop/internal/atomicfile"
)

// ensureOwnedDir creates dir (0700) when missing and checks that it is a
// real folder (not a symbolic link) owned by the user and writable by no
// one else. Wider read permissions are narrowed to 0700. parents creates
// missing parent folders too (0700).
func ensureOwnedDir(dir string, parents bool) error {
	fi, err := os.Lstat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if parents {
			if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
				return fmt.Errorf("creating the browser profile folder's parent: %w", err)
			}
		}
		if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating the browser profile folder: %w", err)
		}
		fi, err = os.Lstat(dir)
	}
	if err != nil {
		return fmt.Errorf("browser profile folder: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("browser profile folder %s is a symbolic link; rolehop uses only a real folder it owns (remove the link or choose another folder)", dir)
	case !fi.IsDir():
		return fmt.Errorf("browser profile folder %s is not a folder", dir)
	}
	if err := ownedByUser(fi); err != nil {
		return fmt.Errorf("browser profile folder %s %v; rolehop uses only a folder the user owns (remove it or choose another folder)", dir, err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("browser profile folder %s is writable by other users (mode %04o); rolehop refuses it (remove it, or chmod 700 it if its contents are yours)", dir, fi.Mode().Perm())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("browser profile folder %s: narrowing its mode to 0700: %w", dir, err)
		}
	}
	return nil
}

// lockProfile takes the profile folder's lock (one browser per profile;
// Chrome would otherwise hand the URL to the running one and exit).
func lockProfile(ctx context.Context, dir string, log *slog.Logger) (func(), error) {
	lk := flock.New(filepath.Join(dir, "rolehop.lock"), flock.SetPermissions(0o600))
	ok, err := lk.TryLock()
	if err == nil && !ok {
		log.InfoContext(ctx, "browser idp: another rolehop login uses the browser profile; waiting for it", "profile", dir)
		ok, err = lk.TryLockContext(ctx, 200*time.Millisecond)
	}
	if err != nil || !ok {
		if err == nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("browser idp: waiting for the browser profile %s: %w", dir, err)
	}
	return func() { _ = lk.Unlock() }, nil
}

// sessionCookieFile holds the IdP's session cookies between two browser
// runs.
const sessionCookieFile = "rolehop-session-cookies.json"

type savedCookies struct {
	Saved   time.Time     `json:"saved"`
	Cookies []savedCookie `json:"cookies"`
}

type savedCookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Domain   string `json:"domain"`
	Path     string `json:"path"`
	Secure   bool   `json:"secure,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
	Scheme   string `json:"sourceScheme,omitempty"`
	Port     int64  `json:"sourcePort,omitempty"`
}

// saveCookies writes the browser's session cookies (those Chrome drops at
// exit) to the profile, 0600, atomically.
func (s *browserLogin) saveCookies(ctx context.Context) error {
	res, err := chromedp.CallBrowser(ctx, storage.GetCookies, storage.GetCookiesParams{})
	if err != nil {
		return err
	}
	out := savedCookies{Saved: time.Now().UTC()}
	for _, c := range res.Cookies {
		if c == nil || !c.Session || c.PartitionKey != nil {
			continue
		}
		out.Cookies = append(out.Cookies, savedCookie{
			Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path, Secure: c.Secure, HTTPOnly: c.HTTPOnly,
			SameSite: string(c.SameSite), Scheme: string(c.SourceScheme), Port: c.SourcePort,
		})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.dir, sessionCookieFile), b, atomicfile.Options{Perm: 0o600})
}

// restoreCookies puts the saved session cookies back, when the file is
// ours, private and younger than SessionCookieMaxAge.
func (s *browserLogin) restoreCookies(ctx context.Context) error {
	path := filepath.Join(s.dir, sessionCookieFile)
	f, err := os.OpenFile(path, os.O_RDONLY|noFollow, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", sessionCookieFile, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is not a private regular file (mode %s); ignored", sessionCookieFile, fi.Mode())
	}
	if err := ownedByUser(fi); err != nil {
		return fmt.Errorf("%s %v; ignored", sessionCookieFile, err)
	}
	b, err := io.ReadAll(io.LimitReader(f, 4<<20))
	if err != nil {
		return err
	}
	var in savedCookies
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("%s is not valid JSON; ignored", sessionCookieFile)
	}
	if age := time.Since(in.Saved); age < 0 || age > SessionCookieMaxAge {
		return nil
	}
	var params []*network.CookieParam
	for _, c := range in.Cookies {
		if c.Name == "" || c.Domain == "" {
			continue
		}
		p := &network.CookieParam{
			Name: c.Name, Value: c.Value, Path: c.Path, Secure: c.Secure, HTTPOnly: c.HTTPOnly,
			SameSite: network.CookieSameSite(c.SameSite), SourceScheme: network.CookieSourceScheme(c.Scheme), SourcePort: c.Port,
		}
		if strings.HasPrefix(c.Domain, ".") {
			p.Domain = c.Domain
		} else {
			// A host-only cookie: set through a URL, so it stays host-only.
			scheme := "http"
			if c.Secure || c.Scheme == string(network.CookieSourceSchemeSecure) {
				scheme = "https"
			}
			host := c.Domain
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			if c.Port > 0 && !(scheme == "https" && c.Port == 443) && !(scheme == "http" && c.Port == 80) {
				host += ":" + strconv.FormatInt(c.Port, 10)
			}
			p.URL = scheme + "://" + host + c.Path
		}
		params = append(params, p)
	}
	if len(params) == 0 {
		return nil
	}
	if _, err := chromedp.CallBrowser(ctx, storage.SetCookies, storage.SetCookiesParams{Cookies: params}); err != nil {
		return err
	}
	s.log.DebugContext(ctx, "browser idp: restored the IdP session cookies", "cookies", len(params), "saved", in.Saved.Format(time.RFC3339))
	return nil
}
