package settings

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// EnvOneLoginSecret holds the OneLogin API client secret (never the file).
const EnvOneLoginSecret = "ONELOGIN_CLIENT_SECRET"

// NewIdPClient builds the IdP client a login profile describes: Form for
// "form" (or empty), ADFS for "adfs" (lp.URL is the sign-on URL or the
// server's host name), OneLogin for "onelogin" (client secret from
// ONELOGIN_CLIENT_SECRET; lp.URL, when set, overrides the API base URL).
func NewIdPClient(lp LoginProfile, prompter idp.Prompter, logger *slog.Logger) (idp.Client, error) {
	switch lp.IdP {
	case "", IdPForm:
		if lp.URL == "" {
			return nil, errors.New("form idp needs a url: set url in the login profile or pass --idp-url")
		}
		return &idp.Form{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify}, URL: lp.URL, Prompter: prompter}, nil
	case IdPADFS:
		a := &idp.ADFS{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify}, Prompter: prompter, Mode: idp.ADFSForms}
		switch {
		case strings.HasPrefix(lp.URL, "https://") || strings.HasPrefix(lp.URL, "http://"):
			a.URL = lp.URL
		case lp.URL != "":
			a.Host = lp.URL
		default:
			return nil, errors.New("adfs idp needs a url or host name: set url in the login profile or pass --idp-url")
		}
		switch lp.ADFS.Auth {
		case "basic", "ntlm":
			a.Mode, a.HTTPAuth = idp.ADFSHTTPAuth, lp.ADFS.Auth
		}
		return a, nil
	case IdPOneLogin:
		ol := lp.OneLogin
		secret := os.Getenv(EnvOneLoginSecret)
		if ol.ClientID == "" || secret == "" || ol.Subdomain == "" || ol.AppID == "" {
			return nil, fmt.Errorf("onelogin idp needs onelogin.client_id, subdomain and app_id in the login profile and the client secret in %s", EnvOneLoginSecret)
		}
		return &idp.OneLogin{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify}, ClientID: ol.ClientID, ClientSecret: secret, Region: ol.Region,
			BaseURL: lp.URL, Subdomain: ol.Subdomain, AppID: ol.AppID, Prompter: prompter}, nil
	}
	return nil, fmt.Errorf("idp %q: want form, adfs or onelogin", lp.IdP)
}

// NewSAMLProvider builds the IdP client and the session.SAML provider a
// login profile describes: role lp.Role (any role when empty: see
// CredentialsForRole), duration lp.Duration, region lp.Region, STS endpoint
// lp.STSEndpoint (else the SDK's: AWS_ENDPOINT_URL_STS, ...). extra options
// come last (e.g. session.WithAssertionStore for --cache-saml). Nothing is
// sent over the network here.
func NewSAMLProvider(ctx context.Context, lp LoginProfile, prompter idp.Prompter, logger *slog.Logger, extra ...session.SAMLOption) (*session.SAML, error) {
	_ = ctx
	client, err := NewIdPClient(lp, prompter, logger)
	if err != nil {
		return nil, err
	}
	opts := []session.SAMLOption{session.WithLogger(logger)}
	if lp.Duration != 0 {
		opts = append(opts, session.WithDuration(lp.Duration))
	}
	if lp.Region != "" {
		opts = append(opts, session.WithRegion(lp.Region))
	}
	if ep := lp.STSEndpoint; ep != "" {
		opts = append(opts, session.WithSTSOptions(func(o *sts.Options) { o.BaseEndpoint = aws.String(ep) }))
	}
	opts = append(opts, extra...)
	// An empty role: Config by account takes the account's only role;
	// Roles and CredentialsForRole (what login uses) serve any.
	return session.NewSAML(client, lp.Role, opts...)
}
