package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SigninURL returns a console sign-in URL for creds. See the package doc
// for how Options.Kind and SessionDuration interact.
func SigninURL(ctx context.Context, creds aws.Credentials, opts Options) (string, error) {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" {
		return "", fmt.Errorf("%w: access key ID or secret access key is empty; check the profile's credentials", ErrNoCredentials)
	}
	part, err := partitionFor(opts.Partition, opts.Region)
	if err != nil {
		return "", err
	}
	partID := part.ID
	region := opts.Region
	if region == "" {
		region = part.DefaultRegion
	}
	dest, err := destinationURL(opts.Destination, part, region)
	if err != nil {
		return "", err
	}
	if d := opts.SessionDuration; d != 0 && (d < MinSessionDuration || d > MaxSessionDuration) {
		return "", fmt.Errorf("%w: %v; use 15m to 12h", ErrSessionDuration, d)
	}
	fed := opts.FederationURL
	if fed == "" {
		fed = part.FederationURL()
	}
	fedURL, err := url.Parse(fed)
	if err != nil || (fedURL.Scheme != "https" && fedURL.Scheme != "http") || fedURL.Host == "" {
		return "", fmt.Errorf("console: federation URL %q is not an http(s) URL; fix Options.FederationURL", fed)
	}

	kind, duration, err := sessionKind(ctx, &creds, opts, partID, region, log)
	if err != nil {
		return "", err
	}
	token, err := getSigninToken(ctx, creds, duration, fedURL, opts.HTTPClient)
	if err != nil {
		return "", err
	}

	lq := url.Values{}
	lq.Set("Action", "login")
	if opts.Issuer != "" {
		lq.Set("Issuer", opts.Issuer)
	}
	lq.Set("Destination", dest)
	lq.Set("SigninToken", token)
	login := *fedURL
	login.RawQuery = lq.Encode()
	log.Debug("console: sign-in URL ready", "partition", partID, "destination", dest, "kind", kind.String(),
		"session_duration", duration.String())
	return login.String(), nil
}

// sessionKind settles how the credentials were obtained (exchanging IAM
// user keys for a federation token, which replaces *creds) and the
// SessionDuration to send under that kind's rules (see the package doc).
func sessionKind(ctx context.Context, creds *aws.Credentials, opts Options, partID, region string, log *slog.Logger) (Kind, time.Duration, error) {
	var err error
	kind := opts.Kind
	if kind == KindAuto {
		if creds.SessionToken == "" {
			kind = KindIAMUser
		} else {
			kind = KindChained
		}
	}
	if kind != KindIAMUser && creds.SessionToken == "" {
		return 0, 0, fmt.Errorf("%w: no session token for a %s session; long-term IAM user keys need Kind KindIAMUser (or KindAuto)", ErrNoCredentials, kind)
	}
	if kind == KindIAMUser {
		*creds, err = federationToken(ctx, *creds, opts, partID, region, log)
		if err != nil {
			return 0, 0, err
		}
		kind = KindFederationToken
	}

	duration := opts.SessionDuration
	switch kind {
	case KindFederationToken:
		if duration != 0 && opts.Kind != KindAuto && opts.Kind != KindIAMUser {
			log.Info("console: session duration not sent: a GetFederationToken session lasts as long as its token", "requested", duration.String())
		}
		duration = 0
	case KindChained:
		if duration > MaxChainedSessionDuration {
			why := "chained role session"
			if opts.Kind == KindAuto {
				why = "role session of unknown chaining (a first-hop role session, Kind KindRole, allows up to 12h)"
			}
			log.Info("console: session duration clamped to 1h for a "+why, "requested", duration.String())
			duration = MaxChainedSessionDuration
		}
	case KindRole:
	default:
		return 0, 0, fmt.Errorf("console: unknown credential kind %v; use one of the Kind constants", kind)
	}

	return kind, duration, nil
}

// getSigninToken asks the federation endpoint for a sign-in token for
// creds.
func getSigninToken(ctx context.Context, creds aws.Credentials, duration time.Duration, fedURL *url.URL, client *http.Client) (string, error) {
	sessJSON, err := json.Marshal(map[string]string{
		"sessionId":    creds.AccessKeyID,
		"sessionKey":   creds.SecretAccessKey,
		"sessionToken": creds.SessionToken,
	})
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Set("Action", "getSigninToken")
	if duration != 0 {
		q.Set("SessionDuration", strconv.Itoa(int(duration/time.Second)))
	}
	q.Set("Session", string(sessJSON))
	tokURL := *fedURL
	tokURL.RawQuery = q.Encode()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tokURL.String(), nil)
	if err != nil {
		return "", fmt.Errorf("console: building the getSigninToken request: %w", redactURLError(err))
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: cannot reach %s: %w", ErrFederation, fedURL.Redacted(), redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return "", fmt.Errorf("%w: reading the answer of %s: %w", ErrFederation, fedURL.Redacted(), err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", &FederationError{StatusCode: resp.StatusCode, Body: redactBody(body, creds)}
	}
	var tok struct{ SigninToken string }
	if err := json.Unmarshal(body, &tok); err != nil || tok.SigninToken == "" {
		return "", fmt.Errorf("%w: %s answered 200 without a SigninToken; check Options.FederationURL", ErrFederation, fedURL.Redacted())
	}
	return tok.SigninToken, nil

}

// redactURLError drops the *url.Error wrapper, whose message holds the
// request URL (and so the Session JSON with the secret key).
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

var nonPrint = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^\x20-\x7e]+`) })

func redactBody(b []byte, creds aws.Credentials) string {
	s := string(b)
	for _, secret := range []string{creds.SecretAccessKey, creds.SessionToken} {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	s = strings.TrimSpace(nonPrint().ReplaceAllString(s, " "))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
