package settings

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/rolehop/rolehop/awsarn"
)

// Built-in defaults, applied by Resolve to what no layer sets.
const (
	DefaultDuration = time.Hour
	DefaultIdP      = IdPForm
	DefaultSort     = SortAccount
)

// STS's session duration limits, checked by Resolve (AssumeRoleWithSAML
// takes 15 minutes to 12 hours).
const (
	minDuration = 15 * time.Minute
	maxDuration = 12 * time.Hour
)

// Overrides are the command-line flags that override a login profile; the
// zero value of a field means "not given".
type Overrides struct {
	Login           string // --login: the login profile's name
	IdP             string
	URL             string
	Username        string
	Keyring         bool
	Account         string
	Role            string
	Region          string
	Duration        time.Duration
	Profile         string
	ProfileTemplate string
	Output          string
	Sort            string
}

// Resolve returns the login profile a command runs with: the settings file
// at path ("" means DefaultPath()), the login profile named by
// flags.Login, else ROLEHOP_LOGIN, else the default one (File.Login), merged
// with the file's defaults; then the ROLEHOP_* environment (getenv; nil means
// os.Getenv); then the flags; then the built-in defaults (1h, form, account).
// The result is validated once, here: every error wraps ErrInvalid (or
// ErrUnknownLogin) and says which setting is wrong and how to fix it.
func Resolve(path string, getenv func(string) string, flags Overrides) (LoginProfile, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	file, err := Load(path)
	if err != nil {
		return LoginProfile{}, err
	}
	name := flags.Login
	if name == "" {
		name = getenv(EnvLogin)
	}
	lp, err := file.Login(name)
	if err != nil {
		return LoginProfile{}, err
	}
	if err := lp.applyEnv(getenv); err != nil {
		return LoginProfile{}, err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&lp.IdP, strings.ToLower(flags.IdP))
	set(&lp.URL, flags.URL)
	set(&lp.Username, flags.Username)
	set(&lp.Account, flags.Account)
	set(&lp.Role, flags.Role)
	set(&lp.Region, flags.Region)
	set(&lp.Profile, flags.Profile)
	set(&lp.ProfileTemplate, flags.ProfileTemplate)
	set(&lp.Output, flags.Output)
	set(&lp.Sort, flags.Sort)
	if flags.Keyring {
		lp.Keyring = true
	}
	if flags.Duration != 0 {
		lp.Duration = flags.Duration
	}
	if lp.Duration == 0 {
		lp.Duration = DefaultDuration
	}
	if lp.IdP == "" {
		lp.IdP = DefaultIdP
	}
	if lp.Sort == "" {
		lp.Sort = DefaultSort
	}
	lp.SettingsFile, lp.SettingsExist = file.Path, file.Exists
	if lp.Account != "" && !awsarn.IsAccountID(lp.Account) {
		aliases, err := LoadAccounts(lp.AccountsFile)
		if err != nil {
			return LoginProfile{}, err
		}
		if lp.Account, err = AccountID(aliases, lp.Account); err != nil {
			return LoginProfile{}, err
		}
	}
	if err := lp.validate(); err != nil {
		return LoginProfile{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return lp, nil
}

// validate checks a merged login profile.
func (lp LoginProfile) validate() error {
	if err := lp.check("login"); err != nil {
		return err
	}
	if lp.Duration < minDuration || lp.Duration > maxDuration {
		return fmt.Errorf("duration %s out of range: use 15m to 12h (900 to 43200 seconds)", lp.Duration)
	}
	switch lp.Output {
	case "", "json", "text", "table", "yaml", "yaml-stream":
	default:
		return fmt.Errorf("output %q: want json, text, table, yaml or yaml-stream", lp.Output)
	}
	if lp.URL == "" && lp.IdP != IdPOneLogin {
		where := "name a login profile with --login"
		if !lp.SettingsExist {
			where = "or write a login profile into " + lp.SettingsFile + " with rolehop init"
		}
		return errors.New("no idp url: pass --idp-url, set ROLEHOP_IDP_URL, " + where)
	}
	if lp.Account != "" && !awsarn.IsAccountID(lp.Account) {
		return fmt.Errorf("account %q: want a 12-digit AWS account ID", lp.Account)
	}
	return nil
}
