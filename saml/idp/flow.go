package idp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

const (
	defaultMaxSteps = 10
	maxPageBytes    = 4 << 20
)

// flow walks an IdP's HTML pages the way a browser user would: fill the
// login form, the one-time-code form, follow auto-submit forms, stop at the
// form that carries the SAMLResponse. Form and ADFS (forms mode) use it.
type flow struct {
	name      string // for messages: "form idp", "adfs"
	client    *http.Client
	log       *slog.Logger
	prompter  Prompter
	userField string     // configured username field name, or ""
	passField string     // configured password field name, or ""
	extra     url.Values // set on the login form's submission
	headers   http.Header
	maxSteps  int
	decorate  func(*http.Request) // e.g. HTTP authentication
	// loginFormErr, when set, is returned when a login form appears (the
	// credentials were already sent another way).
	loginFormErr error
	start        *url.URL
	// passOrigins are the origins besides start's that may receive the
	// password (Options.PasswordOrigins).
	passOrigins []string
	allowed     map[string]bool

	user, pass                  string
	asked                       bool
	userSent, passSent, otpSent bool
	hops                        int // requests sent
}

func (f *flow) run(ctx context.Context, startURL string) (string, error) {
	u, err := url.Parse(startURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("%s: sign-on url %q is not an http(s) url; check the configured IdP url", f.name, oneLine(startURL, 200))
	}
	f.start = u
	if f.allowed, err = parseOrigins(f.passOrigins); err != nil {
		return "", fmt.Errorf("%s: %w", f.name, err)
	}
	f.allowed[origin(u)] = true
	if f.maxSteps <= 0 {
		f.maxSteps = defaultMaxSteps
	}
	p, err := f.fetch(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	for step := 0; step < f.maxSteps; step++ {
		if p.status == http.StatusUnauthorized && len(p.forms) == 0 {
			return "", fmt.Errorf("%w: %s answered %s; check the username and password", ErrAccessDenied, f.name, p.describe())
		}
		if sr := f.findSAMLResponse(p); sr != nil {
			v := strings.TrimSpace(sr.value)
			if v == "" {
				return "", fmt.Errorf("%w: %s sent an empty SAMLResponse (%s)", ErrNoAssertion, f.name, p.describe())
			}
			f.log.DebugContext(ctx, "idp: got SAMLResponse", "idp", f.name, "pages", step+1, "requests", f.hops)
			return v, nil
		}
		if form := f.otpForm(p); form != nil {
			if p, err = f.submitOTP(ctx, p, form); err != nil {
				return "", err
			}
			continue
		}
		if form := f.passwordForm(p); form != nil {
			if f.loginFormErr != nil {
				return "", f.loginFormErr
			}
			if p, err = f.submitLogin(ctx, p, form); err != nil {
				return "", err
			}
			continue
		}
		if form := f.usernameForm(p); form != nil {
			if p, err = f.submitUsername(ctx, p, form); err != nil {
				return "", err
			}
			continue
		}
		if form := autoSubmitForm(p); form != nil {
			f.log.DebugContext(ctx, "idp: following auto-submit form", "idp", f.name, "page", where(p.url))
			if p, err = f.submit(ctx, p, form, form.values(), false); err != nil {
				return "", err
			}
			continue
		}
		if p.status == http.StatusForbidden {
			return "", fmt.Errorf("%w: %s answered %s", ErrAccessDenied, f.name, p.describe())
		}
		return "", fmt.Errorf("%w: %s showed no SAMLResponse, login or one-time-code form (%s); check the sign-on url and that the IdP knows the AWS service provider",
			ErrNoAssertion, f.name, p.describe())
	}
	return "", fmt.Errorf("%w: %s: no SAMLResponse after %d pages; the login flow loops or needs a browser", ErrIdP, f.name, f.maxSteps)
}

func (f *flow) findSAMLResponse(p *page) *formInput {
	for _, form := range p.forms {
		if in := form.has("SAMLResponse"); in != nil {
			return in
		}
	}
	return nil
}

func (f *flow) credentials(ctx context.Context) error {
	if f.asked {
		return nil
	}
	if f.prompter == nil {
		return fmt.Errorf("%s: no Prompter configured to ask for the username and password", f.name)
	}
	var err error
	if f.user, err = f.prompter.Username(ctx); err != nil {
		return fmt.Errorf("%s: reading the username: %w", f.name, err)
	}
	if f.pass, err = f.prompter.Password(ctx); err != nil {
		return fmt.Errorf("%s: reading the password: %w", f.name, err)
	}
	f.asked = true
	return nil
}

// passwordForm is the first form with a password input (or the configured
// password field).
func (f *flow) passwordForm(p *page) *htmlForm {
	for _, form := range p.forms {
		if f.passField != "" && form.has(f.passField) != nil {
			return form
		}
		for _, in := range form.inputs {
			if in.typ == "password" && in.name != "" && !(in.looksOTP() && f.userInput(form) == nil) {
				return form
			}
		}
	}
	return nil
}

func (f *flow) passInput(form *htmlForm) *formInput {
	if f.passField != "" {
		if in := form.has(f.passField); in != nil {
			return in
		}
	}
	for _, in := range form.inputs {
		if in.typ == "password" && in.name != "" {
			return in
		}
	}
	return nil
}

// userInput is the configured username field, else the visible text input
// whose name or label suggests a user name, else the first one.
func (f *flow) userInput(form *htmlForm) *formInput {
	if f.userField != "" {
		if in := form.has(f.userField); in != nil {
			return in
		}
	}
	cands := form.visibleTextInputs()
	for _, in := range cands {
		if userRE().MatchString(in.hint) && !in.looksOTP() {
			return in
		}
	}
	for _, in := range cands {
		if !in.looksOTP() {
			return in
		}
	}
	return nil
}

func (f *flow) submitLogin(ctx context.Context, p *page, form *htmlForm) (*page, error) {
	if f.passSent {
		msg := p.errorText(f.pass)
		if msg == "" {
			msg = "the login form was shown again"
		}
		return nil, fmt.Errorf("%w: %s: %s; check the username and password", ErrAccessDenied, f.name, msg)
	}
	if err := f.credentials(ctx); err != nil {
		return nil, err
	}
	vals := form.values()
	pass := f.passInput(form)
	if user := f.userInput(form); user != nil {
		vals.Set(user.name, f.user)
	}
	vals.Set(pass.name, f.pass)
	for k, v := range f.extra {
		vals[k] = v
	}
	// One-page logins that ask for a code next to the password.
	for _, in := range form.visibleTextInputs() {
		if in.looksOTP() && in.name != pass.name && vals.Get(in.name) == "" {
			code, err := f.otp(ctx, in)
			if err != nil {
				return nil, err
			}
			vals.Set(in.name, code)
			f.otpSent = true
		}
	}
	f.log.DebugContext(ctx, "idp: submitting login form", "idp", f.name, "page", where(p.url))
	f.passSent = true
	return f.submit(ctx, p, form, vals, true)
}

// usernameForm is a first step that asks only for the user name.
func (f *flow) usernameForm(p *page) *htmlForm {
	if f.userSent || f.passSent {
		return nil
	}
	for _, form := range p.forms {
		ins := form.visibleTextInputs()
		if len(ins) != 1 || form.firstOfType("password") != nil {
			continue
		}
		if (f.userField != "" && ins[0].name == f.userField) || (userRE().MatchString(ins[0].hint) && !ins[0].looksOTP()) {
			return form
		}
	}
	return nil
}

func (f *flow) submitUsername(ctx context.Context, p *page, form *htmlForm) (*page, error) {
	if err := f.credentials(ctx); err != nil {
		return nil, err
	}
	vals := form.values()
	vals.Set(f.userInput(form).name, f.user)
	f.userSent = true
	f.log.DebugContext(ctx, "idp: submitting username form", "idp", f.name, "page", where(p.url))
	return f.submit(ctx, p, form, vals, false)
}

// otpForm is a form without a password field whose text input looks like a
// one-time code (name, id, placeholder, autocomplete or label).
func (f *flow) otpForm(p *page) *htmlForm {
	for _, form := range p.forms {
		if form.has("SAMLResponse") != nil {
			continue
		}
		var otp *formInput
		realPassword := false
		for _, in := range form.inputs {
			switch {
			case in.looksOTP():
				if otp == nil {
					otp = in
				}
			case in.typ == "password":
				realPassword = true
			}
		}
		if otp != nil && !realPassword {
			return form
		}
	}
	return nil
}

func (f *flow) otpInput(form *htmlForm) *formInput {
	for _, in := range form.inputs {
		if in.looksOTP() {
			return in
		}
	}
	return nil
}

func (f *flow) otp(ctx context.Context, in *formInput) (string, error) {
	if f.prompter == nil {
		return "", fmt.Errorf("%w: %s asks for a one-time code and no Prompter is configured", ErrMFARequired, f.name)
	}
	// The label is the IdP's text: it is shown at the prompt.
	factor := oneLine(in.label, 80)
	if factor == "" {
		factor = oneLine(in.name, 80)
	}
	code, err := f.prompter.OTP(ctx, factor)
	if err != nil {
		if errors.Is(err, ErrMFARequired) {
			return "", fmt.Errorf("%s: %w", f.name, err)
		}
		return "", fmt.Errorf("%w: %s: reading the one-time code: %w", ErrMFARequired, f.name, err)
	}
	code = strings.TrimSpace(code)
	if code == "" {
		return "", fmt.Errorf("%w: %s asks for a one-time code (%s) and none was given", ErrMFARequired, f.name, oneLine(factor, 60))
	}
	return code, nil
}

func (f *flow) submitOTP(ctx context.Context, p *page, form *htmlForm) (*page, error) {
	if f.otpSent {
		msg := p.errorText(f.pass)
		if msg == "" {
			msg = "the one-time-code form was shown again"
		}
		return nil, fmt.Errorf("%w: %s rejected the one-time code: %s", ErrAccessDenied, f.name, msg)
	}
	in := f.otpInput(form)
	code, err := f.otp(ctx, in)
	if err != nil {
		return nil, err
	}
	vals := form.values()
	vals.Set(in.name, code)
	f.otpSent = true
	f.log.DebugContext(ctx, "idp: submitting one-time-code form", "idp", f.name, "page", where(p.url))
	return f.submit(ctx, p, form, vals, false)
}

// autoSubmitForm is a form with nothing to type: hidden inputs, buttons and
// preset choices (the "JavaScript is off, press Continue" pages,
// Shibboleth's local-storage and attribute-release consent pages), sent as
// the browser would with its defaults.
func autoSubmitForm(p *page) *htmlForm {
	for _, form := range p.forms {
		hidden := 0
		typing := false
		for _, in := range form.inputs {
			switch in.typ {
			case "hidden":
				if in.name != "" {
					hidden++
				}
			case "submit", "button", "image", "reset", "checkbox", "radio":
			default:
				typing = true
			}
		}
		if hidden > 0 && !typing {
			return form
		}
	}
	return nil
}

func (f *flow) submit(ctx context.Context, p *page, form *htmlForm, vals url.Values, secret bool) (*page, error) {
	target, err := actionURL(p, form)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: form action %q is not a url", ErrIdP, f.name, oneLine(form.action, 80))
	}
	if target.Scheme != "https" && target.Scheme != "http" {
		return nil, fmt.Errorf("%w: %s: form posts to unsupported url scheme %q", ErrIdP, f.name, oneLine(target.Scheme, 40))
	}
	if secret && target.Scheme == "http" && f.start.Scheme == "https" {
		return nil, fmt.Errorf("%w: %s: refusing to send the password over plain http to %s (the sign-on url is https)", ErrIdP, f.name, shown(target.Host))
	}
	if secret && !f.allowed[origin(target)] {
		return nil, fmt.Errorf("%w: %s: the login form would send the password to %s, not to the sign-on url's %s; refusing "+
			"(if %s belongs to your IdP, add it to the password origins of the login profile)",
			ErrIdP, f.name, shown(origin(target)), shown(origin(f.start)), shown(target.Host))
	}
	if form.method == http.MethodGet {
		if secret {
			return nil, fmt.Errorf("%w: %s: refusing to put the password in a url (the login form uses GET)", ErrIdP, f.name)
		}
		target.RawQuery = vals.Encode()
		return f.fetch(ctx, http.MethodGet, target, nil)
	}
	return f.fetch(ctx, http.MethodPost, target, vals)
}

// actionURL resolves a form's action against the page URL as a browser
// does: empty means the page itself, "?" the same path without a query.
func actionURL(p *page, form *htmlForm) (*url.URL, error) {
	ref, err := url.Parse(strings.TrimSpace(form.action))
	if err != nil {
		return nil, err
	}
	target := p.url.ResolveReference(ref)
	target.Fragment, target.RawFragment = "", ""
	return target, nil
}

func (f *flow) fetch(ctx context.Context, method string, u *url.URL, form url.Values) (*page, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrIdP, f.name, err)
	}
	for k, vs := range f.headers {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "rolehop")
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if f.decorate != nil {
		f.decorate(req)
	}
	f.hops++
	resp, err := f.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %s %s: %w", f.name, method, where(u), ctx.Err())
		}
		return nil, fmt.Errorf("%w: %s: %s %s: %v", ErrIdP, f.name, method, where(u), unwrapURLError(err))
	}
	defer resp.Body.Close()
	doc, err := html.Parse(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: reading %s: %v", ErrIdP, f.name, where(u), err)
	}
	f.log.DebugContext(ctx, "idp: page", "idp", f.name, "method", method, "url", where(resp.Request.URL), "status", resp.StatusCode)
	return parsePage(doc, resp.Request.URL, resp.StatusCode), nil
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// full URL (query included), says what to do about an untrusted
// certificate, and makes the text safe to print (a certificate's names or
// a malformed answer come from the server).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		err = fmt.Errorf("%v (add the IdP's CA to the system trust store; InsecureSkipVerify is for test IdPs only)", err)
	}
	return errors.New(oneLine(err.Error(), 400))
}

// where is a URL's host and path (no query) for messages: percent-encoded,
// on one line, bounded.
func where(u *url.URL) string {
	return oneLine(u.Host+u.EscapedPath(), 200)
}
