package source

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/session"
)

// SAMLSession is what a rolehop_login source needs of a login's SAML
// session (a *session.SAML): the roles its assertion grants, one role's
// credentials (AssumeRoleWithSAML, the session name the IdP's
// RoleSessionName), and the STS configuration for the hops after it.
type SAMLSession interface {
	Roles(ctx context.Context) ([]saml.Role, error)
	CredentialsForRole(ctx context.Context, role saml.Role) (aws.Credentials, error)
	BaseConfig(ctx context.Context, accountID string) (aws.Config, error)
}

var _ SAMLSession = (*session.SAML)(nil)

// ErrAmbiguousRole: the assertion grants the role through several SAML
// providers and the source names none (rolehop_principal_arn).
var ErrAmbiguousRole = fmt.Errorf("%w: role granted through several saml providers", ErrInvalid)

// samlHop assumes the first hop's role with the login's assertion. With
// chain set it also returns the configuration later hops start from (the
// SAML role's refreshing credentials on the login's STS settings).
func (s *Source) samlHop(ctx context.Context, chain bool) (aws.Credentials, aws.Config, error) {
	h := s.Hops[0]
	if s.opts.SAML == nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("%w: profile %q: %s = %s needs rolehop's login profiles; use rolehop credential-process",
			ErrLoginUnavailable, h.Profile, KeyLogin, s.Base.Login)
	}
	d := h.Duration
	sess, err := s.opts.SAML(ctx, s.Base.Login, d)
	if err != nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("login %s of profile %q: %w", s.Base.Login, h.Profile, err)
	}
	roles, err := sess.Roles(ctx)
	if err != nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("login %s of profile %q: %w", s.Base.Login, h.Profile, err)
	}
	role, err := pickRole(roles, h)
	if err != nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("profile %q: %w", h.Profile, err)
	}
	s.opts.Logger.Debug("assuming role with saml", "profile", h.Profile, "role", role.RoleARN, "principal", role.PrincipalARN)
	creds, err := sess.CredentialsForRole(ctx, role)
	if err != nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("profile %q: %w", h.Profile, err)
	}
	if !chain {
		return creds, aws.Config{}, nil
	}
	cfg, err := sess.BaseConfig(ctx, role.AccountID())
	if err != nil {
		return aws.Credentials{}, aws.Config{}, fmt.Errorf("profile %q: %w", h.Profile, err)
	}
	cfg = cfg.Copy()
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(ctx context.Context) (aws.Credentials, error) {
		return sess.CredentialsForRole(ctx, role)
	}))
	return creds, cfg, nil
}

// pickRole finds the hop's role among the granted ones: its ARN (IAM
// compares role names without case), and its provider when the source
// names one; several providers and none named is ErrAmbiguousRole.
func pickRole(granted []saml.Role, h Hop) (saml.Role, error) {
	var matches []saml.Role
	for _, r := range granted {
		if strings.EqualFold(r.RoleARN, h.RoleARN) && (h.PrincipalARN == "" || strings.EqualFold(r.PrincipalARN, h.PrincipalARN)) {
			matches = append(matches, r)
		}
	}
	switch len(matches) {
	case 1:
		return matches[0], nil
	case 0:
		acct := ""
		if parts := strings.Split(h.RoleARN, ":"); len(parts) > 4 {
			acct = parts[4]
		}
		return saml.Role{}, &session.RoleNotGrantedError{AccountID: acct, RoleName: h.RoleARN, Granted: granted}
	}
	ps := make([]string, len(matches))
	for i, m := range matches {
		ps[i] = m.PrincipalARN
	}
	return saml.Role{}, fmt.Errorf("%w: the assertion grants %s through %d providers (%s); set %s to one of them",
		ErrAmbiguousRole, h.RoleARN, len(matches), strings.Join(ps, ", "), KeyPrincipalARN)
}
