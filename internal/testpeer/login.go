package testpeer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// ErrLoginRejected reports that the IdP showed its login form again: wrong
// username or password.
var ErrLoginRejected = errors.New("simplesaml rejected the username or password")

// LoginAWS logs in at the IdP-initiated SSO URL for AWS (AWSLoginURL) as a
// browser would — cookie jar, login form, POST — and returns the base64
// SAMLResponse the IdP would post to AWS. It is for tests that need a real
// signed assertion; rolehop's own IdP clients live in saml/idp.
func (s *SimpleSAML) LoginAWS(ctx context.Context, username, password string) (string, error) {
	return s.login(ctx, s.AWSLoginURL, username, password)
}

// LoginSP is LoginAWS for another service provider configured on the IdP
// (the broker's BrokerEntityID): an IdP-initiated login for spEntityID.
func (s *SimpleSAML) LoginSP(ctx context.Context, spEntityID, username, password string) (string, error) {
	return s.login(ctx, s.BaseURL+"/saml2/idp/SSOService.php?spentityid="+url.QueryEscape(spEntityID), username, password)
}

func (s *SimpleSAML) login(ctx context.Context, startURL, username, password string) (string, error) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", err
	}
	c := &http.Client{Jar: jar, Transport: &http.Transport{Proxy: nil}}

	page, pageURL, err := fetch(ctx, c, http.MethodGet, startURL, nil)
	if err != nil {
		return "", err
	}
	in := formInputs(page)
	authState, ok := in["AuthState"]
	if !ok {
		return "", fmt.Errorf("simplesaml login page %s has no AuthState field", pageURL)
	}
	form := url.Values{"username": {username}, "password": {password}, "AuthState": {authState}}
	page, pageURL, err = fetch(ctx, c, http.MethodPost, pageURL.String(), form)
	if err != nil {
		return "", err
	}
	in = formInputs(page)
	if v := in["SAMLResponse"]; v != "" {
		return v, nil
	}
	if _, ok := in["AuthState"]; ok {
		return "", fmt.Errorf("log in as %q: %w", username, ErrLoginRejected)
	}
	return "", fmt.Errorf("simplesaml answered %s with neither a SAMLResponse nor a login form", pageURL)
}

// fetch sends one request (following redirects) and returns the final page
// and its URL.
func fetch(ctx context.Context, c *http.Client, method, u string, form url.Values) (*html.Node, *url.URL, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("simplesaml: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("simplesaml: %s %s: %s", method, resp.Request.URL.Path, resp.Status)
	}
	doc, err := html.Parse(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("simplesaml: parse %s: %w", resp.Request.URL.Path, err)
	}
	return doc, resp.Request.URL, nil
}

// formInputs returns the named <input> values of a page (nameless inputs
// are ignored).
func formInputs(n *html.Node) map[string]string {
	out := map[string]string{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" {
			var name, value string
			for _, a := range n.Attr {
				switch a.Key {
				case "name":
					name = a.Val
				case "value":
					value = a.Val
				}
			}
			if name != "" {
				out[name] = value
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}
