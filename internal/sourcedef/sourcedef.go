// Package sourcedef reads rolehop source definitions (the rolehop_* keys of
// AWS config profiles) without the AWS SDK: the chain from a profile back to
// its base, every parameter validated with STS's rules (internal/stsparam),
// and the on-disk cache key of the final role's credentials.
//
// Package source builds on it (and adds the SDK calls); the
// credential_process fast path (cmd/rolehop-credential-process) uses it to
// find the cache entry a source's credentials live in. One definition, one
// validation and one key for both, so the fast path serves exactly the
// entries the full CLI writes. See package source for the keys and the
// cache key's composition.
package sourcedef

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/credfile"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/internal/stsparam"
)

// The rolehop_* keys of a source.
const (
	KeyBase         = "rolehop_base"
	KeyLogin        = "rolehop_login"
	KeyRoleARN      = "rolehop_role_arn"
	KeyPrincipalARN = "rolehop_principal_arn"
	KeyExternalID   = "rolehop_external_id"
	KeyDuration     = "rolehop_duration"
	KeyRegion       = "region"
)

// LoginPrefix marks a base that is a rolehop login profile: login:NAME.
const LoginPrefix = "login:"

// Sentinel errors, for errors.Is.
var (
	// ErrNotFound: the profile has no section in the AWS config file.
	ErrNotFound = errors.New("profile not found")
	// ErrNotSource: the profile exists but has no rolehop_role_arn.
	ErrNotSource = errors.New("not a rolehop source")
	// ErrInvalid: a source definition is malformed (missing base, bad
	// duration; bad ARNs and ExternalIds are stsparam.ErrInvalidParameter).
	ErrInvalid = errors.New("invalid rolehop source")
	// ErrCycle: sources name each other as bases in a loop.
	ErrCycle = errors.New("rolehop source cycle")
)

// NotFoundError is the named profile missing from the config file.
type NotFoundError struct{ Msg string }

func (e *NotFoundError) Error() string { return e.Msg }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Base is where a chain's first credentials come from: exactly one of
// Profile (an AWS profile the SDK resolves) and Login (a rolehop login
// profile name) is set.
type Base struct {
	Profile string
	Login   string
}

// String returns the base as written in rolehop_base (login:NAME), or the
// login name of a SAML source's rolehop_login.
func (b Base) String() string {
	if b.Login != "" {
		return LoginPrefix + b.Login
	}
	return b.Profile
}

// Hop is one role assumption of a chain, defined by one source profile.
type Hop struct {
	Profile    string        // the profile holding the definition
	RoleARN    string        // rolehop_role_arn
	ExternalID string        // rolehop_external_id
	Duration   time.Duration // rolehop_duration; 0 means STS's default (1h)
	Region     string        // the profile's region, if any
	// SAML marks the hop of a rolehop_login source: AssumeRoleWithSAML
	// with the login's assertion instead of AssumeRole. Only the first hop
	// of a chain can be one.
	SAML bool
	// PrincipalARN is rolehop_principal_arn: the SAML provider, needed
	// only when the assertion grants the role through several.
	PrincipalARN string
}

// Def is a resolved rolehop source: a base and the hops from it to the
// named profile's role.
type Def struct {
	// Profile is the source's name.
	Profile string
	// Base is where the chain starts.
	Base Base
	// Hops are the role assumptions in call order: Hops[0] is made with
	// the base's credentials (or, when Hops[0].SAML, the login's assertion),
	// the last one gives Profile's credentials.
	Hops []Hop
	// Region is the nearest region key from Profile back to the base
	// profile, or Options.Region; "" when none is configured.
	Region string
	// CacheKey names the final role's credentials in the on-disk cache.
	CacheKey string
	// ConfigFile is the config file the definitions were read from.
	ConfigFile string
}

// SAML reports whether the chain starts with AssumeRoleWithSAML (a
// rolehop_login source, or one whose base chain reaches one).
func (d *Def) SAML() bool { return d.Hops[0].SAML }

// RoleARN returns the final role's ARN.
func (d *Def) RoleARN() string { return d.Hops[len(d.Hops)-1].RoleARN }

// Lookup returns a profile's keys (lower case) and values as the AWS CLI
// reads them; a missing profile is an error matching
// awsfile.ErrProfileNotFound (or os.ErrNotExist for a missing file).
type Lookup func(profile string) (map[string]string, error)

// Options tune Resolve.
type Options struct {
	// ConfigFile is the config file's path (messages, and the cache key).
	ConfigFile string
	// Duration, when set, overrides the session duration of the final hop.
	Duration time.Duration
	// Region, when set, overrides the profiles' region.
	Region string
}

// Resolve reads the source named profile through lookup, follows its base
// through other sources, validates every definition and computes the cache
// key. It reads no other file and makes no call.
func Resolve(profile string, lookup Lookup, o Options) (*Def, error) {
	cfgPath := o.ConfigFile
	if profile == "" {
		return nil, fmt.Errorf("%w: no profile given; name the rolehop source profile", ErrInvalid)
	}
	d := &Def{Profile: profile, ConfigFile: cfgPath}
	seen := map[string]bool{}
	var path []string // profile names from the named one inward
	var hops []Hop    // outermost first
	name := profile
	for {
		if seen[name] {
			path = append(path, name)
			return nil, fmt.Errorf("%w: %s; make one of these profiles' rolehop_base an AWS profile or login:NAME",
				ErrCycle, strings.Join(path[indexOf(path, name):], " → "))
		}
		seen[name] = true
		path = append(path, name)
		vals, err := lookup(name)
		if err != nil {
			if errors.Is(err, awsfile.ErrProfileNotFound) || errors.Is(err, os.ErrNotExist) {
				if len(path) == 1 {
					return nil, &NotFoundError{Msg: fmt.Sprintf("profile %q not found in %s; add [profile %s] with %s and %s",
						name, cfgPath, name, KeyBase, KeyRoleARN)}
				}
				// An AWS profile only in the credentials file (or one the SDK
				// reports missing when it is loaded): the base.
				d.Base = Base{Profile: name}
				break
			}
			return nil, fmt.Errorf("read profile %q: %w", name, err)
		}
		roleARN := vals[KeyRoleARN]
		if roleARN == "" {
			if len(path) == 1 {
				return nil, fmt.Errorf("%w: profile %q in %s has no %s; add %s and %s to make it one",
					ErrNotSource, name, cfgPath, KeyRoleARN, KeyBase, KeyRoleARN)
			}
			d.Base = Base{Profile: name}
			if d.Region == "" {
				d.Region = vals[KeyRegion]
			}
			break
		}
		h, base, err := parseHop(name, vals)
		if err != nil {
			return nil, err
		}
		hops = append(hops, h)
		if d.Region == "" {
			d.Region = h.Region
		}
		if h.SAML {
			d.Base = Base{Login: base}
			break
		}
		if login, ok := strings.CutPrefix(base, LoginPrefix); ok {
			if login == "" {
				return nil, fmt.Errorf("%w: profile %q: %s = login: names no login profile; write login:NAME",
					ErrInvalid, name, KeyBase)
			}
			d.Base = Base{Login: login}
			break
		}
		name = base
	}
	for i := len(hops) - 1; i >= 0; i-- {
		d.Hops = append(d.Hops, hops[i])
	}
	if o.Duration != 0 {
		last := &d.Hops[len(d.Hops)-1]
		last.Duration = o.Duration
		if err := last.validate(); err != nil {
			return nil, fmt.Errorf("duration for profile %q: %w", profile, err)
		}
	}
	if o.Region != "" {
		d.Region = o.Region
	}
	key, err := d.cacheKey()
	if err != nil {
		return nil, err
	}
	d.CacheKey = key
	return d, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}

// parseHop validates one source definition and returns it with its base
// (a profile or login:NAME), or, for a SAML hop, the login's name.
func parseHop(profile string, vals map[string]string) (Hop, string, error) {
	h := Hop{
		Profile:      profile,
		RoleARN:      strings.TrimSpace(vals[KeyRoleARN]),
		ExternalID:   strings.TrimSpace(vals[KeyExternalID]),
		Region:       strings.TrimSpace(vals[KeyRegion]),
		PrincipalARN: strings.TrimSpace(vals[KeyPrincipalARN]),
	}
	base := strings.TrimSpace(vals[KeyBase])
	login, hasLogin := vals[KeyLogin]
	login = strings.TrimSpace(login)
	switch {
	case hasLogin && base != "":
		return Hop{}, "", fmt.Errorf("%w: profile %q has both %s and %s; keep %s (one login, AssumeRoleWithSAML) or %s (AssumeRole from another profile)",
			ErrInvalid, profile, KeyLogin, KeyBase, KeyLogin, KeyBase)
	case hasLogin && login == "":
		return Hop{}, "", fmt.Errorf("%w: profile %q: %s is empty; name a login profile of the rolehop settings file",
			ErrInvalid, profile, KeyLogin)
	case hasLogin && strings.ContainsAny(login, `/\`+"\x00"):
		return Hop{}, "", fmt.Errorf("%w: profile %q: %s %q cannot name a login profile; use letters, digits, - and _",
			ErrInvalid, profile, KeyLogin, login)
	case hasLogin:
		h.SAML = true
		if h.ExternalID != "" {
			return Hop{}, "", fmt.Errorf("%w: profile %q: %s does not apply to %s (AssumeRoleWithSAML takes none); remove it",
				ErrInvalid, profile, KeyExternalID, KeyLogin)
		}
		base = login
	case base == "":
		return Hop{}, "", fmt.Errorf("%w: profile %q has %s but no %s; set it to an AWS profile or login:NAME",
			ErrInvalid, profile, KeyRoleARN, KeyBase)
	case h.PrincipalARN != "":
		return Hop{}, "", fmt.Errorf("%w: profile %q: %s applies only with %s; remove it",
			ErrInvalid, profile, KeyPrincipalARN, KeyLogin)
	}
	if d := strings.TrimSpace(vals[KeyDuration]); d != "" {
		dur, err := duration.Parse(d)
		if err != nil {
			return Hop{}, "", fmt.Errorf("%w: profile %q: %s %q is not a duration; write e.g. 1h, 90m or 3600",
				ErrInvalid, profile, KeyDuration, d)
		}
		h.Duration = dur
	}
	if err := h.validate(); err != nil {
		return Hop{}, "", fmt.Errorf("profile %q: %w", profile, err)
	}
	return h, base, nil
}

// validate checks the hop's parameters with STS's rules (the checks of
// session.ValidateAssumeRole, in its order).
func (h Hop) validate() error {
	if err := stsparam.ValidateRoleARN(h.RoleARN); err != nil {
		return err
	}
	if h.SAML && h.PrincipalARN != "" {
		if err := stsparam.ValidatePrincipalARN(h.PrincipalARN); err != nil {
			return err
		}
	}
	if err := stsparam.ValidateDuration(h.Duration); err != nil {
		return err
	}
	return stsparam.ValidateExternalID(h.ExternalID)
}

// cacheKey computes CacheKey (see package source's documentation).
func (d *Def) cacheKey() (string, error) {
	var b strings.Builder
	switch {
	case d.Hops[0].SAML:
		b.WriteString("saml:" + d.Base.Login)
	case d.Base.Login != "":
		b.WriteString("login:" + d.Base.Login)
	default:
		creds, _ := awsfile.CredentialsPath()
		b.WriteString("profile:" + d.Base.Profile + ";config=" + d.ConfigFile + ";credentials=" + creds)
	}
	for _, k := range []string{"AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"} {
		if v := os.Getenv(k); v != "" {
			b.WriteString(";" + k + "=" + v)
		}
	}
	last := d.Hops[len(d.Hops)-1]
	for _, h := range d.Hops[:len(d.Hops)-1] {
		if h.SAML {
			fmt.Fprintf(&b, " > %s;PrincipalArn=%s;DurationSeconds=%d", h.RoleARN, h.PrincipalARN, int64(h.Duration/time.Second))
			continue
		}
		fmt.Fprintf(&b, " > %s;ExternalId=%s;DurationSeconds=%d", h.RoleARN, h.ExternalID, int64(h.Duration/time.Second))
	}
	args := map[string]any{"RoleArn": last.RoleARN, "RolehopBase": b.String()}
	if last.ExternalID != "" {
		args["ExternalId"] = last.ExternalID
	}
	if last.SAML && last.PrincipalARN != "" {
		args["PrincipalArn"] = last.PrincipalARN
	}
	if last.Duration != 0 {
		args["DurationSeconds"] = int64(last.Duration / time.Second)
	}
	key, err := credfile.HashArgs(args)
	if err != nil {
		return "", fmt.Errorf("cache key for profile %q: %w", d.Profile, err)
	}
	return key, nil
}
