package idp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// OneLogin gets the assertion through OneLogin's API (not by scraping):
//
//  1. POST /auth/oauth2/v2/token with Basic client_id:client_secret and
//     {"grant_type":"client_credentials"} gives an access token (cached
//     until shortly before it expires);
//  2. POST /api/2/saml_assertion {username_or_email, password, app_id,
//     subdomain} with that Bearer token answers {"data": SAMLResponse} or,
//     when MFA is on, a state_token and the user's devices;
//  3. POST /api/2/saml_assertion/verify_factor {app_id, device_id,
//     state_token, otp_token} with the code from Prompter.OTP gives the data.
//
// 400 and 401 answers are ErrAccessDenied with OneLogin's message.
type OneLogin struct {
	Options
	// ClientID and ClientSecret are an API credential pair with the
	// "Authentication Only" scope (or broader).
	ClientID, ClientSecret string
	// Region is "us" (default) or "eu": the API at https://api.REGION.onelogin.com.
	Region string
	// BaseURL overrides the API's base URL (tests, private endpoints).
	BaseURL string
	// Subdomain is the account's subdomain (SUB in SUB.onelogin.com).
	Subdomain string
	// AppID is the OneLogin app ID of the AWS app.
	AppID    string
	Prompter Prompter
	// DeviceID or DeviceType (e.g. "Google Authenticator", compared
	// case-insensitively) pick the MFA device; default the first one.
	DeviceID, DeviceType string

	mu       sync.Mutex
	token    string
	tokenExp time.Time
}

var _ Client = (*OneLogin)(nil)

func (o *OneLogin) base() (string, error) {
	if o.BaseURL != "" {
		return strings.TrimSuffix(o.BaseURL, "/"), nil
	}
	switch r := strings.ToLower(o.Region); r {
	case "", "us":
		return "https://api.us.onelogin.com", nil
	case "eu":
		return "https://api.eu.onelogin.com", nil
	default:
		return "", fmt.Errorf("onelogin: unknown region %q; use \"us\" or \"eu\"", o.Region)
	}
}

// oneLoginAnswer covers the token, assertion and verify answers and both
// error shapes (v2 top-level message; v1-style status object).
type oneLoginAnswer struct {
	AccessToken string          `json:"access_token"`
	ExpiresIn   int64           `json:"expires_in"`
	Data        json.RawMessage `json:"data"`
	Message     string          `json:"message"`
	StateToken  string          `json:"state_token"`
	Devices     []struct {
		DeviceID   json.RawMessage `json:"device_id"`
		DeviceType string          `json:"device_type"`
	} `json:"devices"`
	CallbackURL string `json:"callback_url"`
	Status      *struct {
		Message string `json:"message"`
		Type    string `json:"type"`
	} `json:"status"`
	Name string `json:"name"`
}

func (a *oneLoginAnswer) message() string {
	if a.Message != "" {
		return a.Message
	}
	if a.Status != nil && a.Status.Message != "" {
		return a.Status.Message
	}
	return a.Name
}

// Assertion logs in through the API and returns the base64 SAMLResponse.
func (o *OneLogin) Assertion(ctx context.Context) (string, error) {
	base, err := o.base()
	if err != nil {
		return "", err
	}
	switch {
	case o.ClientID == "" || o.ClientSecret == "":
		return "", fmt.Errorf("onelogin: ClientID and ClientSecret are required (an API credential pair with Authentication Only scope)")
	case o.AppID == "" || o.Subdomain == "":
		return "", fmt.Errorf("onelogin: AppID and Subdomain are required")
	case o.Prompter == nil:
		return "", fmt.Errorf("onelogin: no Prompter configured to ask for the username and password")
	}
	log := o.logger()
	token, err := o.accessToken(ctx, base)
	if err != nil {
		return "", err
	}
	user, err := o.Prompter.Username(ctx)
	if err != nil {
		return "", fmt.Errorf("onelogin: reading the username: %w", err)
	}
	pass, err := o.Prompter.Password(ctx)
	if err != nil {
		return "", fmt.Errorf("onelogin: reading the password: %w", err)
	}
	secrets := []string{pass, token, o.ClientSecret}
	log.DebugContext(ctx, "onelogin: requesting saml assertion", "app_id", o.AppID, "subdomain", o.Subdomain)
	status, ans, err := o.call(ctx, base+"/api/2/saml_assertion", "Bearer "+token, map[string]string{
		"username_or_email": user, "password": pass, "app_id": o.AppID, "subdomain": o.Subdomain,
	}, secrets)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnauthorized:
		return "", fmt.Errorf("%w: onelogin: %s (HTTP %d); check the username and password", ErrAccessDenied, oneLine(ans.message(), 160, secrets...), status)
	case status != http.StatusOK:
		return "", fmt.Errorf("%w: onelogin saml_assertion answered HTTP %d: %s", ErrIdP, status, oneLine(ans.message(), 160, secrets...))
	}
	if data, ok := dataString(ans.Data); ok {
		return data, nil
	}
	if ans.StateToken == "" {
		return "", fmt.Errorf("%w: onelogin answered %q without data or an MFA state token", ErrNoAssertion, oneLine(ans.message(), 160, secrets...))
	}
	return o.verify(ctx, base, token, ans, append(secrets, ans.StateToken))
}

func (o *OneLogin) verify(ctx context.Context, base, token string, ans *oneLoginAnswer, secrets []string) (string, error) {
	if len(ans.Devices) == 0 {
		return "", fmt.Errorf("%w: onelogin requires MFA but the user has no enrolled device", ErrMFARequired)
	}
	dev := ans.Devices[0]
	for _, d := range ans.Devices {
		if (o.DeviceID != "" && rawID(d.DeviceID) == o.DeviceID) ||
			(o.DeviceID == "" && o.DeviceType != "" && strings.EqualFold(d.DeviceType, o.DeviceType)) {
			dev = d
			break
		}
	}
	// The device type is OneLogin's text: it is shown at the prompt.
	devType := oneLine(dev.DeviceType, 80, secrets...)
	code, err := o.Prompter.OTP(ctx, devType)
	if err != nil {
		if errors.Is(err, ErrMFARequired) {
			return "", fmt.Errorf("onelogin: %w", err)
		}
		return "", fmt.Errorf("%w: onelogin: reading the one-time code for %s: %w", ErrMFARequired, devType, err)
	}
	if code = strings.TrimSpace(code); code == "" {
		return "", fmt.Errorf("%w: onelogin asks for a one-time code from %s and none was given", ErrMFARequired, devType)
	}
	secrets = append(secrets, code)
	o.logger().DebugContext(ctx, "onelogin: verifying factor", "device_type", devType)
	status, v, err := o.call(ctx, base+"/api/2/saml_assertion/verify_factor", "Bearer "+token, map[string]string{
		"app_id": o.AppID, "device_id": rawID(dev.DeviceID), "state_token": ans.StateToken, "otp_token": code,
	}, secrets)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnauthorized:
		return "", fmt.Errorf("%w: onelogin rejected the one-time code from %s: %s (HTTP %d)", ErrAccessDenied, devType, oneLine(v.message(), 160, secrets...), status)
	case status != http.StatusOK:
		return "", fmt.Errorf("%w: onelogin verify_factor answered HTTP %d: %s", ErrIdP, status, oneLine(v.message(), 160, secrets...))
	}
	if data, ok := dataString(v.Data); ok {
		return data, nil
	}
	return "", fmt.Errorf("%w: onelogin verify_factor answered %q without an assertion (a push factor still pending?)", ErrMFARequired, oneLine(v.message(), 160, secrets...))
}

func (o *OneLogin) accessToken(ctx context.Context, base string) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	now := time.Now
	if o.token != "" && now().Before(o.tokenExp) {
		return o.token, nil
	}
	secrets := []string{o.ClientSecret}
	req := basicAuth(o.ClientID, o.ClientSecret)
	status, ans, err := o.call(ctx, base+"/auth/oauth2/v2/token", req, map[string]string{"grant_type": "client_credentials"}, secrets)
	if err != nil {
		return "", err
	}
	switch {
	case status == http.StatusBadRequest || status == http.StatusUnauthorized:
		return "", fmt.Errorf("%w: onelogin refused the API client credentials: %s (HTTP %d); check ClientID and ClientSecret", ErrAccessDenied, oneLine(ans.message(), 160, secrets...), status)
	case status != http.StatusOK || ans.AccessToken == "":
		return "", fmt.Errorf("%w: onelogin token endpoint answered HTTP %d without an access token: %s", ErrIdP, status, oneLine(ans.message(), 160, secrets...))
	}
	o.token = ans.AccessToken
	life := time.Duration(ans.ExpiresIn) * time.Second
	if life <= 0 {
		life = time.Hour
	}
	o.tokenExp = now().Add(life * 9 / 10)
	return o.token, nil
}

func basicAuth(user, pass string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header.Get("Authorization")
}

// call POSTs JSON and decodes the JSON answer, whatever its status.
func (o *OneLogin) call(ctx context.Context, u, auth string, body map[string]string, secrets []string) (int, *oneLoginAnswer, error) {
	var ans oneLoginAnswer
	status, err := postJSON(ctx, o.httpClient(), "onelogin", u, http.Header{"Authorization": {auth}}, body, &ans, 80, "",
		func(path string, status int) {
			o.logger().DebugContext(ctx, "onelogin: answer", "path", path, "status", status, "message", oneLine(ans.message(), 160, secrets...))
		})
	if err != nil {
		return 0, nil, err
	}
	return status, &ans, nil
}

// dataString reads "data" when it is a non-empty string (the assertion).
func dataString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || json.Unmarshal(raw, &s) != nil || strings.TrimSpace(s) == "" {
		return "", false
	}
	return strings.TrimSpace(s), true
}

// rawID renders a device_id given as a JSON number or string.
func rawID(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return strings.TrimSpace(string(raw))
}
