package session

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/rolehop/rolehop/saml"
)

// Sentinel errors of the SAML provider, for errors.Is.
var (
	// ErrIdPAccessDenied: the IdP rejected the login (wrong password, bad
	// one-time code, locked account). The error also matches
	// idp.ErrAccessDenied.
	ErrIdPAccessDenied = errors.New("identity provider rejected the login")
	// ErrNoAssertion: the IdP answered without a usable SAML assertion
	// (unknown service provider, unexpected page, unreadable response).
	ErrNoAssertion = errors.New("identity provider answered without a usable saml assertion")
	// ErrRoleNotGranted: the assertion does not grant the role asked for.
	ErrRoleNotGranted = errors.New("role not granted by the saml assertion")
)

// maxListedRoles bounds how many roles an error message names; the rest are
// counted.
const maxListedRoles = 10

// RoleNotGrantedError reports that the assertion grants no role (or more
// than one) of the name asked for in the account. Granted lists what the
// assertion does grant, so a user can pick one; it holds no secret. Its
// message names at most 10 roles and counts the rest.
type RoleNotGrantedError struct {
	AccountID string      // the account asked for
	RoleName  string      // the role name (or ARN) asked for
	Matches   []saml.Role // more than one match: the ambiguous roles
	Granted   []saml.Role // every role the assertion grants
}

func (e *RoleNotGrantedError) Error() string {
	if e.RoleName == "" {
		if len(e.Matches) > 1 {
			return fmt.Sprintf("account %s has %d roles in the saml assertion (%s): name the role",
				e.AccountID, len(e.Matches), RolesList(e.Matches, maxListedRoles))
		}
		if len(e.Granted) == 0 {
			return fmt.Sprintf("account %s is not granted: the saml assertion grants no AWS roles; ask the IdP administrator for access", e.AccountID)
		}
		return fmt.Sprintf("account %s is not granted by the saml assertion; it grants %s: pick one of those or ask the IdP administrator for access",
			e.AccountID, RolesList(e.Granted, maxListedRoles))
	}
	if len(e.Matches) > 1 {
		return fmt.Sprintf("role %q in account %s is ambiguous: the saml assertion grants %s; pick one by its ARN",
			e.RoleName, e.AccountID, RolesList(e.Matches, maxListedRoles))
	}
	if len(e.Granted) == 0 {
		return fmt.Sprintf("role %q in account %s is not granted: the saml assertion grants no AWS roles; ask the IdP administrator for access",
			e.RoleName, e.AccountID)
	}
	return fmt.Sprintf("role %q in account %s is not granted by the saml assertion; it grants %s: pick one of those or ask the IdP administrator for access",
		e.RoleName, e.AccountID, RolesList(e.Granted, maxListedRoles))
}

// Is reports whether target is ErrRoleNotGranted.
func (e *RoleNotGrantedError) Is(target error) bool { return target == ErrRoleNotGranted }

// RolesList is "ACCOUNT/NAME, ..." sorted by account then name, each role
// once; past max roles (max > 0) it ends "and N more".
func RolesList(roles []saml.Role, max int) string {
	names := make([]string, 0, len(roles))
	seen := map[string]bool{}
	for _, r := range roles {
		n := r.AccountID() + "/" + r.Name()
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if max > 0 && len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
	}
	return strings.Join(names, ", ")
}

// idpError classifies an IdP client's error as one of this package's
// sentinels without repeating what the IdP client already said: its message
// is the client's, and errors.Is matches both the sentinel and the client's
// own error.
type idpError struct {
	kind error
	err  error
}

func (e *idpError) Error() string        { return e.err.Error() }
func (e *idpError) Unwrap() error        { return e.err }
func (e *idpError) Is(target error) bool { return target == e.kind }
