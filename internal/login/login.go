// Package login builds what a rolehop login profile describes: the IdP
// client (form, ADFS, OneLogin) and the SAML session provider. The settings
// themselves (files, environment, flags) are package settings' business;
// this package turns the resolved settings.LoginProfile into library
// objects, and nothing here talks to the network.
package login

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// EnvOneLoginSecret holds the OneLogin API client secret (never the file).
const EnvOneLoginSecret = "ONELOGIN_CLIENT_SECRET"

// NewIdPClient builds the IdP client a login profile describes: Form for
// "form" (or empty), ADFS for "adfs" (lp.URL is the sign-on URL or the
// server's host name), OneLogin for "onelogin" (client secret from
// ONELOGIN_CLIENT_SECRET, read with getenv (nil: os.Getenv); lp.URL, when
// set, overrides the API base URL).
func NewIdPClient(lp settings.LoginProfile, prompter idp.Prompter, logger *slog.Logger, getenv func(string) string) (idp.Client, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	switch lp.IdP {
	case "", settings.IdPForm:
		if lp.URL == "" {
			return nil, errors.New("form idp needs a url: set url in the login profile or pass --idp-url")
		}
		return &idp.Form{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify, PasswordOrigins: lp.PasswordOrigins}, URL: lp.URL, Prompter: prompter}, nil
	case settings.IdPADFS:
		a := &idp.ADFS{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify, PasswordOrigins: lp.PasswordOrigins}, Prompter: prompter, Mode: idp.ADFSForms}
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
	case settings.IdPBrowser:
		if lp.URL == "" {
			return nil, errors.New("browser idp needs the idp-initiated sign-on url for AWS: set url in the login profile or pass --idp-url")
		}
		b := lp.Browser
		return &idp.Browser{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify, PasswordOrigins: lp.PasswordOrigins}, URL: lp.URL, Name: lp.Name,
			BrowserPath: b.Path, ProfileDir: b.ProfileDir, Headless: b.Headless, Prompter: prompter, TypeOrigins: append(b.TypeOrigins, lp.PasswordOrigins...),
			LoginTimeout: b.Timeout}, nil
	case settings.IdPOkta:
		if lp.URL == "" {
			return nil, errors.New("okta idp needs the AWS app's embed link (https://ORG.okta.com/home/amazon_aws/...): set url in the login profile or pass --idp-url")
		}
		return &idp.Okta{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify, PasswordOrigins: lp.PasswordOrigins}, AppURL: lp.URL, OrgURL: lp.Okta.OrgURL,
			Prompter: prompter, FactorType: lp.Okta.Factor, FactorProvider: lp.Okta.FactorProvider}, nil
	case settings.IdPOneLogin:
		ol := lp.OneLogin
		secret := getenv(EnvOneLoginSecret)
		if ol.ClientID == "" || secret == "" || ol.Subdomain == "" || ol.AppID == "" {
			return nil, fmt.Errorf("onelogin idp needs onelogin.client_id, subdomain and app_id in the login profile and the client secret in %s", EnvOneLoginSecret)
		}
		return &idp.OneLogin{Options: idp.Options{Logger: logger, InsecureSkipVerify: lp.InsecureSkipVerify, PasswordOrigins: lp.PasswordOrigins}, ClientID: ol.ClientID, ClientSecret: secret, Region: ol.Region,
			BaseURL: lp.URL, Subdomain: ol.Subdomain, AppID: ol.AppID, Prompter: prompter}, nil
	}
	return nil, fmt.Errorf("idp %q: want form, adfs, onelogin, okta or browser", lp.IdP)
}

// NewSAML builds the IdP client and the session.SAML provider a login
// profile describes: role lp.Role (any role when empty: see
// CredentialsForRole), duration lp.Duration, region lp.Region, STS endpoint
// lp.STSEndpoint (else the SDK's: AWS_ENDPOINT_URL_STS, ...). extra options
// come last (an assertion store, a disk cache). Nothing is sent over the
// network here.
func NewSAML(lp settings.LoginProfile, prompter idp.Prompter, logger *slog.Logger, getenv func(string) string, extra ...func(*session.SAMLOptions)) (*session.SAML, error) {
	client, err := NewIdPClient(lp, prompter, logger, getenv)
	if err != nil {
		return nil, err
	}
	return newSAML(lp, client, logger, extra...)
}

// newSAML is the session.SAML of lp logging in through client.
func newSAML(lp settings.LoginProfile, client idp.Client, logger *slog.Logger, extra ...func(*session.SAMLOptions)) (*session.SAML, error) {
	opts := append([]func(*session.SAMLOptions){func(o *session.SAMLOptions) {
		o.Logger, o.Duration, o.Region = logger, lp.Duration, lp.Region
		if ep := lp.STSEndpoint; ep != "" {
			o.STSOptions = append(o.STSOptions, func(so *sts.Options) { so.BaseEndpoint = aws.String(ep) })
		}
	}}, extra...)
	// An empty role: Config by account takes the account's only role;
	// Roles and CredentialsForRole (what login uses) serve any.
	return session.NewSAML(client, lp.Role, opts...)
}
