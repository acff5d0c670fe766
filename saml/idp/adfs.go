package idp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	ntlmssp "github.com/Azure/go-ntlmssp"
)

// ADFS modes (the awsrun names).
const (
	// ADFSForms ("POST") fills ADFS's forms-authentication page.
	ADFSForms = "POST"
	// ADFSHTTPAuth ("GET") sends the credentials with HTTP authentication
	// (NTLM by default, or Basic) on the GET of the sign-on page.
	ADFSHTTPAuth = "GET"
)

// ADFSSignOnPath is ADFS's IdP-initiated sign-on page for AWS.
const ADFSSignOnPath = "/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices"

// ADFS logs in to Active Directory Federation Services.
//
// In forms mode (the default, "POST") it GETs the sign-on page and posts
// UserName, Password and AuthMethod=FormsAuthentication with the page's
// hidden inputs; the page shown again with its error text means a wrong
// password (ErrAccessDenied). In HTTP-authentication mode ("GET") the GET
// itself carries the credentials: NTLM (Windows integrated authentication,
// via github.com/Azure/go-ntlmssp; user as DOMAIN\user or user@domain) or,
// with HTTPAuth "basic", Basic. ADFS only offers integrated authentication
// to browsers it recognises; set Headers["User-Agent"] accordingly.
type ADFS struct {
	Options
	// Host is the ADFS server name; the URL is
	// https://Host/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices.
	Host string
	// URL overrides the sign-on URL built from Host.
	URL      string
	Prompter Prompter
	// Mode is ADFSForms ("POST", default) or ADFSHTTPAuth ("GET").
	Mode string
	// HTTPAuth picks the GET mode's scheme: "ntlm" (default) or "basic".
	HTTPAuth string
	// Headers are added to every request (e.g. a User-Agent).
	Headers http.Header
	// MaxSteps bounds the pages followed (default 10).
	MaxSteps int
}

var _ Client = (*ADFS)(nil)

func (a *ADFS) signOnURL() (string, error) {
	if a.URL != "" {
		return a.URL, nil
	}
	if a.Host == "" {
		return "", fmt.Errorf("adfs: neither Host nor URL is set; give the ADFS server name")
	}
	return "https://" + strings.TrimSuffix(a.Host, "/") + ADFSSignOnPath, nil
}

// Assertion logs in and returns the base64 SAMLResponse.
func (a *ADFS) Assertion(ctx context.Context) (string, error) {
	u, err := a.signOnURL()
	if err != nil {
		return "", err
	}
	fl := &flow{
		name:     "adfs",
		client:   a.httpClient(),
		log:      a.logger(),
		prompter: a.Prompter,
		headers:  a.Headers,
		maxSteps: a.MaxSteps,

		passOrigins: a.PasswordOrigins,
	}
	switch strings.ToUpper(a.Mode) {
	case "", ADFSForms:
		fl.userField, fl.passField = "UserName", "Password"
		fl.extra = url.Values{"AuthMethod": {"FormsAuthentication"}}
		return fl.run(ctx, u)
	case ADFSHTTPAuth:
		return a.httpAuth(ctx, fl, u)
	default:
		return "", fmt.Errorf("adfs: unknown mode %q; use %q (forms) or %q (HTTP authentication)", a.Mode, ADFSForms, ADFSHTTPAuth)
	}
}

func (a *ADFS) httpAuth(ctx context.Context, fl *flow, signOn string) (string, error) {
	target, err := url.Parse(signOn)
	if err != nil {
		return "", fmt.Errorf("adfs: sign-on url %q is not a url", signOn)
	}
	allowed, err := parseOrigins(a.PasswordOrigins)
	if err != nil {
		return "", fmt.Errorf("adfs: %w", err)
	}
	allowed[origin(target)] = true
	if err := fl.credentials(ctx); err != nil {
		return "", err
	}
	scheme := strings.ToLower(a.HTTPAuth)
	switch scheme {
	case "", "ntlm":
		c := *fl.client
		c.Transport = ntlmssp.Negotiator{RoundTripper: transportOf(fl.client)}
		fl.client = &c
	case "basic":
	default:
		return "", fmt.Errorf("adfs: unknown HTTP authentication %q; use \"ntlm\" or \"basic\"", a.HTTPAuth)
	}
	if target.Scheme != "https" {
		fl.log.WarnContext(ctx, "adfs: sending HTTP authentication over plain http", "host", target.Host)
	}
	// Credentials go only to the ADFS origin (and the allowed ones), never
	// to where it redirects.
	fl.decorate = func(r *http.Request) {
		if allowed[origin(r.URL)] {
			r.SetBasicAuth(fl.user, fl.pass)
		}
	}
	fl.loginFormErr = fmt.Errorf("%w: adfs showed its login form instead of accepting HTTP authentication; "+
		"check the credentials, set a User-Agent that ADFS offers integrated authentication to, or use forms mode (%q)",
		ErrAccessDenied, ADFSForms)
	return fl.run(ctx, signOn)
}

func transportOf(c *http.Client) http.RoundTripper {
	if c.Transport != nil {
		return c.Transport
	}
	return http.DefaultTransport
}
