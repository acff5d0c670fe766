package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Okta gets the assertion through Okta's Authentication API (not by
// scraping its sign-in widget):
//
//  1. POST /api/v1/authn {username, password} (primary authentication)
//     answers a status: SUCCESS with a one-time sessionToken, or
//     MFA_REQUIRED with a stateToken and the user's enrolled factors;
//     LOCKED_OUT, PASSWORD_EXPIRED, MFA_ENROLL and the recovery statuses end
//     the login with what to do; PASSWORD_WARN is skipped;
//  2. MFA: a TOTP factor (token:software:totp: Okta Verify's code, Google
//     Authenticator) is verified with POST
//     /api/v1/authn/factors/ID/verify {stateToken, passCode} and the code
//     from Prompter.OTP; an Okta Verify push is sent with the same call
//     without a code and then polled on its _links.next until the factor
//     result is SUCCESS, REJECTED or TIMEOUT (the number to tap, when Okta
//     asks for number matching, goes to the Prompter when it is a
//     Notifier, and to the log);
//  3. SAML: GET /login/sessionCookieRedirect?token=SESSIONTOKEN&redirectUrl=
//     APPURL turns the sessionToken into an Okta session cookie and sends
//     the client to the AWS app's embed link, whose page is the
//     auto-submit form carrying the SAMLResponse (read with the same form
//     code as Form).
//
// Okta's error bodies ({"errorCode":"E0000004","errorSummary":
// "Authentication failed",...}) become one-line errors: a rejected
// password, code or push is ErrAccessDenied, a factor that cannot be
// answered ErrMFARequired, an app page without an assertion ErrNoAssertion.
// Every request goes through Options' HTTP client. The password, tokens
// and one-time codes never appear in errors or logs.
type Okta struct {
	Options
	// AppURL is the AWS app's embed link (Okta admin console, the app's
	// General tab), e.g. https://example.okta.com/home/amazon_aws/0oa1b2c3d4e5/272.
	AppURL string
	// OrgURL is the Okta org, e.g. https://example.okta.com; empty means
	// AppURL's scheme and host.
	OrgURL   string
	Prompter Prompter
	// FactorType picks the MFA factor: "token:software:totp" or "push"
	// (Okta's factorType names); FactorProvider optionally narrows it
	// ("OKTA", "GOOGLE"). Default: the first of those the user enrolled, in
	// Okta's order.
	FactorType, FactorProvider string
	// PushInterval is the time between two polls of a push (default 2s).
	PushInterval time.Duration
}

var _ Client = (*Okta)(nil)

// Notifier is an optional interface of a Prompter: something to tell the
// person rather than ask (a push was sent; the number to tap).
type Notifier interface {
	Notify(ctx context.Context, message string)
}

// oktaAnswer covers the Authentication API's transaction object and its
// error object.
type oktaAnswer struct {
	Status       string `json:"status"`
	StateToken   string `json:"stateToken"`
	SessionToken string `json:"sessionToken"`
	ExpiresAt    string `json:"expiresAt"`
	FactorResult string `json:"factorResult"`
	Embedded     struct {
		Factors []oktaFactor `json:"factors"`
		Factor  *oktaFactor  `json:"factor"`
	} `json:"_embedded"`
	Links map[string]json.RawMessage `json:"_links"`

	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

type oktaFactor struct {
	ID         string `json:"id"`
	FactorType string `json:"factorType"`
	Provider   string `json:"provider"`
	VendorName string `json:"vendorName"`
	Profile    struct {
		Name       string `json:"name"`
		DeviceType string `json:"deviceType"`
	} `json:"profile"`
	Embedded struct {
		Challenge *struct {
			CorrectAnswer *int `json:"correctAnswer"`
		} `json:"challenge"`
	} `json:"_embedded"`
}

const (
	oktaTOTP = "token:software:totp"
	oktaPush = "push"
)

// describe names a factor for the person: "Okta Verify push to Gibson",
// "Google Authenticator code".
func (f *oktaFactor) describe() string {
	vendor := f.VendorName
	switch strings.ToUpper(f.Provider) {
	case "OKTA":
		vendor = "Okta Verify"
	case "GOOGLE":
		vendor = "Google Authenticator"
	}
	if vendor == "" {
		vendor = f.Provider
	}
	vendor = oneLine(vendor, 40) // server text: no control characters, bounded
	kind := "code"
	if f.FactorType == oktaPush {
		kind = "push"
	}
	s := strings.TrimSpace(vendor + " " + kind)
	if f.Profile.Name != "" && kind == "push" {
		s += " to " + f.Profile.Name
	}
	return oneLine(s, 80)
}

// message is Okta's error text: summary, code and causes.
func (a *oktaAnswer) message() string {
	s := a.ErrorSummary
	if a.ErrorCode != "" {
		s += " (" + a.ErrorCode + ")"
	}
	for _, c := range a.ErrorCauses {
		if c.ErrorSummary != "" && c.ErrorSummary != a.ErrorSummary {
			s += ": " + c.ErrorSummary
		}
	}
	return s
}

// link returns the href of _links[name] (an object, or the first of an
// array).
func (a *oktaAnswer) link(name string) string {
	raw, ok := a.Links[name]
	if !ok {
		return ""
	}
	var one struct {
		Href string `json:"href"`
	}
	if json.Unmarshal(raw, &one) == nil {
		return one.Href
	}
	var many []struct {
		Href string `json:"href"`
	}
	if json.Unmarshal(raw, &many) == nil && len(many) > 0 {
		return many[0].Href
	}
	return ""
}

func (o *Okta) org() (*url.URL, *url.URL, error) {
	app, err := url.Parse(o.AppURL)
	if err != nil || (app.Scheme != "https" && app.Scheme != "http") || app.Host == "" {
		return nil, nil, fmt.Errorf("okta: app url %q is not an http(s) url; set it to the AWS app's embed link (https://ORG.okta.com/home/amazon_aws/APPID/272)", oneLine(o.AppURL, 200))
	}
	if o.OrgURL == "" {
		return &url.URL{Scheme: app.Scheme, Host: app.Host}, app, nil
	}
	org, err := url.Parse(o.OrgURL)
	if err != nil || (org.Scheme != "https" && org.Scheme != "http") || org.Host == "" {
		return nil, nil, fmt.Errorf("okta: org url %q is not an http(s) url like https://example.okta.com", oneLine(o.OrgURL, 200))
	}
	return &url.URL{Scheme: org.Scheme, Host: org.Host}, app, nil
}

// Assertion logs in through the Authentication API and returns the base64
// SAMLResponse of the AWS app.
func (o *Okta) Assertion(ctx context.Context) (string, error) {
	org, app, err := o.org()
	if err != nil {
		return "", err
	}
	if o.Prompter == nil {
		return "", errors.New("okta: no Prompter configured to ask for the username and password")
	}
	user, err := o.Prompter.Username(ctx)
	if err != nil {
		return "", fmt.Errorf("okta: reading the username: %w", err)
	}
	pass, err := o.Prompter.Password(ctx)
	if err != nil {
		return "", fmt.Errorf("okta: reading the password: %w", err)
	}
	sec := &oktaSecrets{list: []string{pass}}
	o.logger().DebugContext(ctx, "okta: primary authentication", "org", org.Host)
	status, ans, err := o.call(ctx, org, org.JoinPath("/api/v1/authn").String(), map[string]any{"username": user, "password": pass}, sec)
	if err != nil {
		return "", err
	}
	if status == http.StatusUnauthorized {
		return "", fmt.Errorf("%w: okta: %s; check the username and password", ErrAccessDenied, oneLine(ans.message(), 200, sec.list...))
	}
	token, err := o.transaction(ctx, org, status, ans, sec)
	if err != nil {
		return "", err
	}
	sec.add(token)
	return o.saml(ctx, org, app, token, sec)
}

type oktaSecrets struct{ list []string }

func (s *oktaSecrets) add(v string) {
	if v != "" {
		s.list = append(s.list, v)
	}
}

// transaction follows the authentication transaction until it gives a
// sessionToken.
func (o *Okta) transaction(ctx context.Context, org *url.URL, status int, ans *oktaAnswer, sec *oktaSecrets) (string, error) {
	for range 5 {
		if status != http.StatusOK {
			return "", o.httpErr("authn", status, ans, sec)
		}
		sec.add(ans.StateToken)
		switch ans.Status {
		case "SUCCESS":
			if ans.SessionToken == "" {
				return "", fmt.Errorf("%w: okta answered SUCCESS without a sessionToken", ErrIdP)
			}
			return ans.SessionToken, nil
		case "MFA_REQUIRED":
			return o.mfa(ctx, org, ans, sec)
		case "PASSWORD_WARN":
			skip := ans.link("skip")
			if skip == "" {
				skip = org.JoinPath("/api/v1/authn/skip").String()
			}
			o.logger().InfoContext(ctx, "okta: the password expires soon; change it in Okta")
			var err error
			if status, ans, err = o.call(ctx, org, skip, map[string]any{"stateToken": ans.StateToken}, sec); err != nil {
				return "", err
			}
			continue
		case "LOCKED_OUT":
			return "", fmt.Errorf("%w: okta: the account is locked out (LOCKED_OUT); unlock it with Okta's self-service unlock or ask an administrator", ErrAccessDenied)
		case "PASSWORD_EXPIRED":
			return "", fmt.Errorf("%w: okta: the password has expired (PASSWORD_EXPIRED); change it by signing in to Okta in a browser", ErrAccessDenied)
		case "MFA_ENROLL", "MFA_ENROLL_ACTIVATE":
			return "", fmt.Errorf("%w: okta wants a second factor enrolled first (%s); sign in to Okta in a browser once to set one up", ErrMFARequired, oneLine(ans.Status, 40))
		default:
			return "", fmt.Errorf("%w: okta: the login needs a step rolehop cannot take (status %s); sign in to Okta in a browser, or use the browser idp", ErrAccessDenied, oneLine(ans.Status, 40))
		}
	}
	return "", fmt.Errorf("%w: okta: the authentication transaction did not end", ErrIdP)
}

// pickFactor chooses the factor to verify.
func (o *Okta) pickFactor(factors []oktaFactor) (*oktaFactor, error) {
	var usable []string
	for i := range factors {
		f := &factors[i]
		if f.FactorType != oktaTOTP && f.FactorType != oktaPush {
			continue
		}
		usable = append(usable, f.FactorType)
		if (o.FactorType == "" || strings.EqualFold(f.FactorType, o.FactorType)) &&
			(o.FactorProvider == "" || strings.EqualFold(f.Provider, o.FactorProvider)) {
			return f, nil
		}
	}
	var all []string
	for _, f := range factors {
		all = append(all, f.FactorType+"/"+f.Provider)
	}
	if len(usable) > 0 {
		return nil, fmt.Errorf("%w: okta: no enrolled factor matches %s (enrolled: %s)", ErrMFARequired,
			oneLine(strings.Trim(o.FactorType+"/"+o.FactorProvider, "/"), 80), oneLine(strings.Join(all, ", "), 160))
	}
	return nil, fmt.Errorf("%w: okta asks for a second factor rolehop cannot answer through the API (enrolled: %s); enroll Okta Verify or Google Authenticator, or use the browser idp",
		ErrMFARequired, oneLine(strings.Join(all, ", "), 160))
}

func (o *Okta) mfa(ctx context.Context, org *url.URL, ans *oktaAnswer, sec *oktaSecrets) (string, error) {
	f, err := o.pickFactor(ans.Embedded.Factors)
	if err != nil {
		return "", err
	}
	if f.ID == "" {
		return "", fmt.Errorf("%w: okta listed a factor without an id", ErrIdP)
	}
	verify := org.JoinPath("/api/v1/authn/factors", f.ID, "verify").String()
	stateToken := ans.StateToken
	log := o.logger()
	if f.FactorType == oktaTOTP {
		code, err := o.Prompter.OTP(ctx, f.describe())
		if err != nil {
			if errors.Is(err, ErrMFARequired) {
				return "", fmt.Errorf("okta: %w", err)
			}
			return "", fmt.Errorf("%w: okta: reading the %s: %w", ErrMFARequired, f.describe(), err)
		}
		if code = strings.TrimSpace(code); code == "" {
			return "", fmt.Errorf("%w: okta asks for a %s and none was given", ErrMFARequired, f.describe())
		}
		sec.add(code)
		log.DebugContext(ctx, "okta: verifying factor", "factor", f.describe())
		status, v, err := o.call(ctx, org, verify, map[string]any{"stateToken": stateToken, "passCode": code}, sec)
		if err != nil {
			return "", err
		}
		if status == http.StatusForbidden || status == http.StatusUnauthorized {
			return "", fmt.Errorf("%w: okta rejected the %s: %s", ErrAccessDenied, f.describe(), oneLine(v.message(), 200, sec.list...))
		}
		if status == http.StatusOK && v.Status != "SUCCESS" {
			return "", fmt.Errorf("%w: okta answered %s to the code from %s", ErrAccessDenied, oneLine(v.Status, 40), f.describe())
		}
		return o.transaction(ctx, org, status, v, sec)
	}

	// Push: send it, then poll.
	o.notify(ctx, "okta: sent an "+f.describe()+"; approve it on the device")
	log.DebugContext(ctx, "okta: verifying factor", "factor", f.describe())
	status, v, err := o.call(ctx, org, verify, map[string]any{"stateToken": stateToken}, sec)
	if err != nil {
		return "", err
	}
	interval := o.PushInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	shown := false
	for {
		if status != http.StatusOK {
			if status == http.StatusForbidden {
				return "", fmt.Errorf("%w: okta rejected the %s: %s", ErrAccessDenied, f.describe(), oneLine(v.message(), 200, sec.list...))
			}
			return "", o.httpErr("push verify", status, v, sec)
		}
		sec.add(v.StateToken)
		if v.Status == "SUCCESS" {
			return o.transaction(ctx, org, status, v, sec)
		}
		switch v.FactorResult {
		case "WAITING":
		case "REJECTED":
			return "", fmt.Errorf("%w: okta: the %s was rejected on the device", ErrAccessDenied, f.describe())
		case "TIMEOUT":
			return "", fmt.Errorf("%w: okta: the %s was not answered in time (TIMEOUT); try again and approve it", ErrMFARequired, f.describe())
		default:
			return "", fmt.Errorf("%w: okta: the %s ended with status %s, factor result %s", ErrAccessDenied, f.describe(), oneLine(v.Status, 40), oneLine(v.FactorResult, 40))
		}
		if ch := v.Embedded.Factor; !shown && ch != nil && ch.Embedded.Challenge != nil && ch.Embedded.Challenge.CorrectAnswer != nil {
			shown = true
			o.notify(ctx, fmt.Sprintf("okta: Okta Verify asks for a number: tap %d", *ch.Embedded.Challenge.CorrectAnswer))
		}
		poll := v.link("next")
		if poll == "" {
			poll = verify
		}
		if err := sameOrigin(org, poll); err != nil {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("okta: waiting for the %s: %w", f.describe(), ctx.Err())
		case <-time.After(interval):
		}
		if v.StateToken != "" {
			stateToken = v.StateToken
		}
		if status, v, err = o.call(ctx, org, poll, map[string]any{"stateToken": stateToken}, sec); err != nil {
			return "", err
		}
	}
}

func (o *Okta) notify(ctx context.Context, msg string) {
	o.logger().InfoContext(ctx, msg)
	if n, ok := o.Prompter.(Notifier); ok {
		n.Notify(ctx, msg)
	}
}

// sameOrigin refuses a link Okta handed out that leaves the org: the state
// token goes only to the org.
func sameOrigin(org *url.URL, link string) error {
	u, err := url.Parse(link)
	if err != nil || originOf(u) != originOf(org) {
		host := "(unreadable)"
		if err == nil {
			host = u.Host
		}
		return fmt.Errorf("%w: okta: refusing to follow a link to %s, outside the org %s", ErrIdP, oneLine(host, 100), org.Host)
	}
	return nil
}

func (o *Okta) httpErr(step string, status int, ans *oktaAnswer, sec *oktaSecrets) error {
	msg := oneLine(ans.message(), 200, sec.list...)
	if msg == "" {
		msg = "no error message"
	}
	if status == http.StatusUnauthorized || status == http.StatusForbidden {
		return fmt.Errorf("%w: okta %s: %s (HTTP %d)", ErrAccessDenied, step, msg, status)
	}
	return fmt.Errorf("%w: okta %s answered HTTP %d: %s", ErrIdP, step, status, msg)
}

// saml turns the sessionToken into the app's SAMLResponse.
func (o *Okta) saml(ctx context.Context, org, app *url.URL, sessionToken string, sec *oktaSecrets) (string, error) {
	u := org.JoinPath("/login/sessionCookieRedirect")
	u.RawQuery = url.Values{"token": {sessionToken}, "redirectUrl": {app.String()}}.Encode()
	fl := &flow{
		name:   "okta",
		client: o.httpClient(),
		log:    o.logger(),
		loginFormErr: fmt.Errorf("%w: okta showed its sign-in page instead of the app: the session was not accepted; check the app url (the AWS app's embed link)",
			ErrNoAssertion),
	}
	o.logger().DebugContext(ctx, "okta: opening the app", "app", app.Host+app.Path)
	sr, err := fl.run(ctx, u.String())
	if err != nil && ctx.Err() == nil && !errors.Is(err, ErrIdP) {
		return "", fmt.Errorf("%w (opening the app at %s%s: check that the app url is the AWS app's embed link in org %s)", err, app.Host, app.Path, org.Host)
	}
	return sr, err
}

// call POSTs JSON to the Authentication API and decodes the JSON answer,
// whatever its status.
func (o *Okta) call(ctx context.Context, org *url.URL, u string, body map[string]any, sec *oktaSecrets) (int, *oktaAnswer, error) {
	if err := sameOrigin(org, u); err != nil {
		return 0, nil, err
	}
	var ans oktaAnswer
	status, err := postJSON(ctx, o.httpClient(), "okta", u, http.Header{"User-Agent": {"rolehop"}}, body, &ans, 60, "; check the org url",
		func(path string, status int) {
			o.logger().DebugContext(ctx, "okta: answer", "path", path, "http_status", status,
				"status", oneLine(ans.Status, 40), "factor_result", oneLine(ans.FactorResult, 40), "error", oneLine(ans.message(), 160, sec.list...))
		})
	if err != nil {
		return 0, nil, err
	}
	return status, &ans, nil
}
