package login

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"sync"
	"time"

	"github.com/rolehop/rolehop/internal/settings"
)

// savingJar is a cookie jar (net/http/cookiejar) that remembers every
// cookie set in it, with the URL that set it, so that the IdP session can
// be saved to disk and restored later by replaying the same Set-Cookie
// values: the jar itself then applies the usual domain, path and
// host-only rules, exactly as for the original answers.
type savingJar struct {
	jar *cookiejar.Jar
	now func() time.Time

	mu  sync.Mutex
	set []settings.SavedCookie
}

func newSavingJar(now func() time.Time) *savingJar {
	j, _ := cookiejar.New(nil)
	return &savingJar{jar: j, now: now}
}

// SetCookies implements http.CookieJar.
func (j *savingJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.jar.SetCookies(u, cookies)
	now := j.now()
	origin := (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cookies {
		sc := settings.SavedCookie{URL: origin, Name: c.Name, Value: c.Value, Domain: c.Domain, Path: c.Path,
			Secure: c.Secure, HTTPOnly: c.HttpOnly, SameSite: int(c.SameSite), Set: now}
		switch {
		case c.MaxAge < 0:
			sc.Expires = now.Add(-time.Second) // deleted
		case c.MaxAge > 0:
			sc.Expires = now.Add(time.Duration(c.MaxAge) * time.Second)
		case !c.Expires.IsZero():
			sc.Expires = c.Expires
		}
		j.set = append(j.set, sc)
	}
}

// Cookies implements http.CookieJar.
func (j *savingJar) Cookies(u *url.URL) []*http.Cookie { return j.jar.Cookies(u) }

// restore replays saved cookies into the jar.
func (j *savingJar) restore(saved []settings.SavedCookie) {
	for _, sc := range saved {
		u, err := url.Parse(sc.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			continue
		}
		c := &http.Cookie{Name: sc.Name, Value: sc.Value, Domain: sc.Domain, Path: sc.Path, Expires: sc.Expires,
			Secure: sc.Secure, HttpOnly: sc.HTTPOnly, SameSite: http.SameSite(sc.SameSite)}
		j.SetCookies(u, []*http.Cookie{c})
		// Keep when it was first set: replaying does not extend a session.
		j.mu.Lock()
		j.set[len(j.set)-1].Set = sc.Set
		j.mu.Unlock()
	}
}

// saved returns the cookies to keep: the last value of each (origin,
// domain, path, name), live ones only.
func (j *savingJar) saved() []settings.SavedCookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.now()
	type key struct{ url, domain, path, name string }
	last := map[key]int{}
	for i, c := range j.set {
		last[key{c.URL, c.Domain, c.Path, c.Name}] = i
	}
	var out []settings.SavedCookie
	for i, c := range j.set {
		if last[key{c.URL, c.Domain, c.Path, c.Name}] == i && c.Live(now) {
			out = append(out, c)
		}
	}
	return out
}
