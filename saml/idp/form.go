package idp

import (
	"context"
	"net/http"
)

// Form logs in to a generic HTML-forms IdP (SimpleSAMLphp, Shibboleth,
// Keycloak and the like) the way a browser does: it opens the IdP-initiated
// sign-on URL, keeps cookies, fills the login form (the form with a password
// input; the username field is found by its type and name, or configured),
// posts back every other named input, asks for a one-time code when a code
// form appears, follows auto-submit forms, and returns the SAMLResponse of
// the form that carries it. A login form shown again after the password was
// sent means the IdP rejected it (ErrAccessDenied).
//
// Cookies are kept across calls (with the default HTTP client), so while
// the IdP session lives a new assertion needs no password.
type Form struct {
	Options
	// URL is the IdP-initiated sign-on URL for AWS, e.g.
	// https://idp.example.com/simplesaml/saml2/idp/SSOService.php?spentityid=urn:amazon:webservices
	URL      string
	Prompter Prompter
	// UsernameField and PasswordField name the login form's inputs when
	// the defaults (found by input type and name) pick the wrong ones.
	UsernameField, PasswordField string
	// Headers are added to every request.
	Headers http.Header
	// MaxSteps bounds the pages followed (default 10).
	MaxSteps int
}

var _ Client = (*Form)(nil)

// Assertion logs in and returns the base64 SAMLResponse.
func (f *Form) Assertion(ctx context.Context) (string, error) {
	fl := &flow{
		name:      "form idp",
		client:    f.httpClient(),
		log:       f.logger(),
		prompter:  f.Prompter,
		userField: f.UsernameField,
		passField: f.PasswordField,
		headers:   f.Headers,
		maxSteps:  f.MaxSteps,

		passOrigins: f.PasswordOrigins,
	}
	return fl.run(ctx, f.URL)
}
