package idp

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/rolehop/rolehop/internal/safetext"
)

// Where credentials may go. A password (and ADFS's HTTP authentication) is
// sent only to the sign-on URL's origin — scheme, host and port — or to an
// origin listed in Options.PasswordOrigins; a login form elsewhere is
// refused with a message naming the host. Every client's HTTP requests
// follow redirects under one policy: never from https to http (a 307 or 308
// would re-send a password in clear text, and Go's client keeps the
// Authorization header for the same host name on any port or scheme), never
// a request body (a 307/308 re-POST) to another origin, and no
// Authorization header to another origin.

// origin is u's scheme://host:port, lower case, with the scheme's default
// port written out.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// shown is a URL's origin or host as it may appear in a message.
func shown(s string) string { return safetext.Clean(s, 120) }

// parseOrigins reads PasswordOrigins: "https://host[:port]" (a path is
// ignored) or a bare "host[:port]", which means https.
func parseOrigins(list []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		raw := s
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Hostname() == "" {
			return nil, fmt.Errorf("password origin %q is not a host name or an https url; write it as https://host[:port]", shown(s))
		}
		out[origin(u)] = true
	}
	return out, nil
}

// errRedirect is returned by the redirect policy; callers wrap it with
// ErrIdP.
var errRedirect = errors.New("refusing a redirect")

// redirectPolicy wraps next (a client's own CheckRedirect, or nil for Go's
// default of at most 10 redirects) with the rules above.
func redirectPolicy(next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		prev := via[len(via)-1]
		from, to := origin(prev.URL), origin(req.URL)
		if strings.EqualFold(prev.URL.Scheme, "https") && !strings.EqualFold(req.URL.Scheme, "https") {
			return fmt.Errorf("%w from %s to %s: it would go on over plain http", errRedirect, shown(from), shown(to))
		}
		if from != to {
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				return fmt.Errorf("%w from %s to %s: it would re-send the %s body (which may hold the password) to another origin",
					errRedirect, shown(from), shown(to), req.Method)
			}
			req.Header.Del("Authorization")
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
}
