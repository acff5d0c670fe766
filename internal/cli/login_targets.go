package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"text/template"

	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml"
)

// This file holds how login picks the roles to write and names their
// profiles.

// sortRoles orders roles by account then role name, or by role name then
// account.
func sortRoles(roles []saml.Role, by string) {
	slices.SortStableFunc(roles, func(a, b saml.Role) int {
		ka := []string{a.AccountID(), strings.ToLower(a.Name()), a.RoleARN}
		kb := []string{b.AccountID(), strings.ToLower(b.Name()), b.RoleARN}
		if by == settings.SortRole {
			ka[0], ka[1] = ka[1], ka[0]
			kb[0], kb[1] = kb[1], kb[0]
		}
		return slices.Compare(ka, kb)
	})
}

// choose picks the roles to write.
func (r *loginRun) choose(ctx context.Context, roles []saml.Role) ([]saml.Role, error) {
	acct, name := r.lp.Account, r.lp.Role
	matched := (&saml.Response{Roles: roles}).RolesFor(acct, name)
	granted := roleList(roles, r.aliases)
	if r.opts.All {
		if len(matched) == 0 {
			return nil, notGranted(acct, name, granted)
		}
		return matched, nil
	}
	switch {
	case len(matched) == 1:
		return matched, nil
	case len(matched) == 0:
		return nil, notGranted(acct, name, granted)
	case acct != "" && name != "":
		// The same role through two saml-providers: the first one.
		return matched[:1], nil
	case acct != "":
		return nil, usageError(fmt.Errorf("account %s has %d roles (%s): pass --role", acct, len(matched), roleList(matched, r.aliases)))
	case name != "":
		return nil, usageError(fmt.Errorf("role %s is granted in %d accounts (%s): pass --account", name, len(matched), roleList(matched, r.aliases)))
	}
	if !r.opts.F.IO.InTerminal || !r.opts.F.IO.ErrTerminal {
		return nil, usageError(fmt.Errorf("%d roles granted (%s): pass --account and --role, or --all", len(roles), granted))
	}
	ro, err := pickRole(ctx, r.opts.F.IO, roles, r.aliases)
	if err != nil {
		return nil, err
	}
	return []saml.Role{ro}, nil
}

func notGranted(acct, name, granted string) error {
	what := "role " + name + " in account " + acct
	switch {
	case acct == "":
		what = "role " + name
	case name == "":
		what = "account " + acct
	}
	return &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("%s is not granted to this user; granted: %s", what, granted)}
}

// profileNamer names profiles from a template (--profile-template).
type profileNamer struct {
	tmpl    *template.Template
	aliases map[string]string
	login   string
}

// newProfileNamer parses the profile name template ("" is the default) and
// tries it on a sample role.
func newProfileNamer(text string, aliases map[string]string, login string) (*profileNamer, error) {
	if text == "" {
		text = DefaultProfileTemplate
	}
	t, err := template.New("profile").Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, usageError(fmt.Errorf("--profile-template: %w", err))
	}
	n := &profileNamer{tmpl: t, aliases: aliases, login: login}
	if _, err := n.name(saml.Role{RoleARN: "arn:aws:iam::111111111111:role/R"}); err != nil {
		return nil, err
	}
	return n, nil
}

// profileData are the fields of --profile-template.
type profileData struct {
	Alias, Account, Role, RoleARN, Login string
}

func (n *profileNamer) name(ro saml.Role) (string, error) {
	alias := n.aliases[ro.AccountID()]
	if alias == "" {
		alias = ro.AccountID()
	}
	var b strings.Builder
	err := n.tmpl.Execute(&b, profileData{Alias: alias, Account: ro.AccountID(), Role: ro.Name(), RoleARN: ro.RoleARN, Login: n.login})
	if err != nil {
		return "", usageError(fmt.Errorf("--profile-template: %w", err))
	}
	name := strings.TrimSpace(b.String())
	if name == "" || strings.ContainsAny(name, "[]\r\n") {
		return "", usageError(fmt.Errorf("--profile-template gives the profile name %q: it must be non-empty without brackets or line breaks", name))
	}
	return name, nil
}

// targets names a profile for each role (fixed, when given and there is
// one role); a template naming two different roles alike is refused.
func (n *profileNamer) targets(roles []saml.Role, fixed string) ([]target, error) {
	out := make([]target, 0, len(roles))
	seen := map[string]saml.Role{}
	for _, ro := range roles {
		name := fixed
		if name == "" || len(roles) > 1 {
			var err error
			if name, err = n.name(ro); err != nil {
				return nil, err
			}
		}
		if prev, dup := seen[name]; dup {
			if prev.RoleARN == ro.RoleARN {
				continue
			}
			return nil, usageError(fmt.Errorf("--profile-template gives %q for both %s and %s: include {{.Account}} or {{.Role}}", name, prev.RoleARN, ro.RoleARN))
		}
		seen[name] = ro
		out = append(out, target{role: ro, profile: name})
	}
	return out, nil
}

// target is a role and the profile it is written to.
type target struct {
	role    saml.Role
	profile string
}

func (r *loginRun) profiles(roles []saml.Role) ([]target, error) {
	return r.namer.targets(roles, r.lp.Profile)
}
