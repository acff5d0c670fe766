// Package settings reads rolehop's settings file (config.yaml): global
// defaults and named login profiles (IdP kind and URL, username, account,
// role, region, duration, target AWS profile), plus the accounts.yaml file
// that maps account IDs to aliases. It also builds a session.SAML provider
// from a login profile (NewSAMLProvider), used by `rolehop login` and by
// credential delivery for `login:NAME` bases.
//
// The settings file is found at $ROLEHOP_CONFIG, else
// $XDG_CONFIG_HOME/rolehop/config.yaml, else ~/.config/rolehop/config.yaml:
//
//	defaults:
//	  region: us-east-1
//	  duration: 1h
//	  sort: account            # account|role
//	  accounts_file: ~/.config/rolehop/accounts.yaml
//	logins:
//	  corp:
//	    idp: form              # form|adfs|onelogin|okta|browser
//	    url: https://idp.example.com/simplesaml/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices
//	    username: alice
//	    keyring: false         # opt-in: password from the OS keyring
//	    account: "111111111111"
//	    role: Admin
//	    region: us-east-1
//	    duration: 1h
//	    profile: corp          # AWS profile written by login
//	    sts_endpoint: ""       # optional
//	    insecure_skip_verify: false  # test IdPs only: no TLS checks, a warning each run
//	    password_origins: [https://login.example.com]  # other hosts the password may go to
//	    adfs: {auth: forms}    # forms|basic|ntlm
//	    onelogin: {region: us, subdomain: x, app_id: "1", client_id: y}
//	    okta: {org_url: https://example.okta.com, factor: push}   # url: the AWS app's embed link
//	    browser: {path: /usr/bin/chromium, headless: false, timeout: 5m}
//
// Unknown keys are errors naming the file and line, so a typo never silently
// drops a setting. A leading "~" in paths is expanded to the home folder.
// Precedence, highest first: command-line flags, ROLEHOP_* environment
// variables, the login profile, the defaults; Resolve applies them in that
// order, fills the built-in defaults and validates the result once.
package settings

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/internal/duration"
)

// Sentinel errors; check them with errors.Is.
var (
	// ErrInvalid: the settings (or accounts) file cannot be read as rolehop
	// settings: bad YAML, an unknown key, a bad value. The error names the
	// file and line.
	ErrInvalid = errors.New("invalid rolehop settings")
	// ErrUnknownLogin: no login profile of that name in the settings file.
	ErrUnknownLogin = errors.New("unknown login profile")
)

// IdP kinds.
const (
	IdPForm     = "form"
	IdPADFS     = "adfs"
	IdPOneLogin = "onelogin"
	IdPOkta     = "okta"
	IdPBrowser  = "browser" // the user's own Chromium/Chrome: any IdP, any MFA
)

// idpKinds lists the kinds for messages.
const idpKinds = "form, adfs, onelogin, okta or browser"

// Sort orders for role lists.
const (
	SortAccount = "account"
	SortRole    = "role"
)

// File is a parsed settings file.
type File struct {
	// Path is the file read ("" for built-in defaults).
	Path string
	// Exists is false when the file did not exist (every value is then the
	// zero value).
	Exists   bool
	Defaults Defaults
	// Logins are the named login profiles, keyed by name.
	Logins map[string]LoginProfile
}

// Defaults are the global settings, under `defaults:`.
type Defaults struct {
	Region          string
	Duration        time.Duration
	Sort            string // SortAccount or SortRole; "" means account
	AccountsFile    string // accounts.yaml path, "~" expanded
	Output          string // AWS CLI output format written to the config profile
	ProfileTemplate string // profile name template for login --all
}

// ADFSSettings configure an ADFS login.
type ADFSSettings struct {
	Auth string // forms (default), basic or ntlm
}

// OneLoginSettings configure a OneLogin login. The client secret comes from
// the environment variable ONELOGIN_CLIENT_SECRET, never from the file.
type OneLoginSettings struct {
	Region    string // us (default) or eu
	Subdomain string
	AppID     string
	ClientID  string
}

// BrowserSettings configure a browser login (idp: browser).
type BrowserSettings struct {
	Path        string        // browser_path: the browser to run; "" finds Chromium/Chrome on PATH
	ProfileDir  string        // browser_profile_dir; "" means ~/.cache/rolehop/browser/<login>
	Headless    bool          // headless: rolehop types the username and password into the page
	Timeout     time.Duration // timeout of the whole login; 0 means 5 minutes
	TypeOrigins []string      // type_origins: other origins where headless mode may type
}

// OktaSettings configure an Okta login (idp: okta); url is the AWS app's
// embed link.
type OktaSettings struct {
	OrgURL         string // org_url; "" means the embed link's host
	Factor         string // factor: token:software:totp or push; "" takes the first enrolled
	FactorProvider string // factor_provider: OKTA, GOOGLE, ...
}

// LoginProfile is one named login profile merged with the defaults: what
// `rolehop login --login NAME` starts from.
type LoginProfile struct {
	Name     string // the profile's name in the settings file ("" for none)
	IdP      string // IdPForm, IdPADFS or IdPOneLogin; "" means form
	URL      string // IdP-initiated sign-on URL for AWS
	Username string
	Keyring  bool // password from the OS keyring (opt-in)
	// InsecureSkipVerify turns off TLS certificate checks of the IdP (only
	// for test IdPs); every use logs a warning.
	InsecureSkipVerify bool
	Account            string
	Role               string
	Region             string
	Duration           time.Duration
	Profile            string // target AWS profile
	STSEndpoint        string // STS endpoint URL; "" means the SDK's (AWS_ENDPOINT_URL_STS, ...)
	Output             string
	Sort               string
	// ProfileTemplate names profiles written by login --all.
	ProfileTemplate string
	AccountsFile    string
	ADFS            ADFSSettings
	OneLogin        OneLoginSettings
	Browser         BrowserSettings
	Okta            OktaSettings
	// PasswordOrigins are origins ("https://host[:port]") besides the
	// sign-on URL's where the password may be sent (an IdP whose login page
	// lives on another host); any other is refused.
	PasswordOrigins []string

	// SettingsFile is the settings file Resolve read (it may not exist:
	// SettingsExist), named in messages.
	SettingsFile  string
	SettingsExist bool
}

// The YAML shapes, decoded with unknown keys rejected.
type rawFile struct {
	Defaults rawDefaults `yaml:"defaults"`
	// Logins is decoded one login at a time (decodeLogins): yaml.v3 checks
	// a mapping's keys for duplicates pairwise, which is quadratic in the
	// number of logins.
	Logins yaml.Node `yaml:"logins"`
}

type rawDefaults struct {
	Region          string        `yaml:"region"`
	Duration        durationValue `yaml:"duration"`
	Sort            string        `yaml:"sort"`
	AccountsFile    string        `yaml:"accounts_file"`
	Output          string        `yaml:"output"`
	ProfileTemplate string        `yaml:"profile_template"`
}

type rawLogin struct {
	IdP             string        `yaml:"idp"`
	URL             string        `yaml:"url"`
	Username        string        `yaml:"username"`
	Keyring         bool          `yaml:"keyring"`
	Account         string        `yaml:"account"`
	Role            string        `yaml:"role"`
	Region          string        `yaml:"region"`
	Duration        durationValue `yaml:"duration"`
	Profile         string        `yaml:"profile"`
	STSEndpoint     string        `yaml:"sts_endpoint"`
	Output          string        `yaml:"output"`
	Sort            string        `yaml:"sort"`
	ProfileTemplate string        `yaml:"profile_template"`
	Insecure        bool          `yaml:"insecure_skip_verify"`
	ADFS            rawADFS       `yaml:"adfs"`
	OneLogin        rawOneLogin   `yaml:"onelogin"`
	Browser         rawBrowser    `yaml:"browser"`
	Okta            rawOkta       `yaml:"okta"`
	PasswordOrigins []string      `yaml:"password_origins"`
}

type rawBrowser struct {
	Path        string        `yaml:"path"`
	ProfileDir  string        `yaml:"profile_dir"`
	Headless    bool          `yaml:"headless"`
	Timeout     durationValue `yaml:"timeout"`
	TypeOrigins []string      `yaml:"type_origins"`
}

type rawOkta struct {
	OrgURL         string `yaml:"org_url"`
	Factor         string `yaml:"factor"`
	FactorProvider string `yaml:"factor_provider"`
}

type rawADFS struct {
	Auth string `yaml:"auth"`
}

type rawOneLogin struct {
	Region    string `yaml:"region"`
	Subdomain string `yaml:"subdomain"`
	AppID     string `yaml:"app_id"`
	ClientID  string `yaml:"client_id"`
}

// durationValue reads "1h", "90m", "3600s" or a plain number of seconds.
type durationValue struct{ d time.Duration }

func (d *durationValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration must be a value like 1h, 90m or 3600, not a list or map", n.Line)
	}
	v, err := ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	d.d = v
	return nil
}

// ParseDuration reads a duration ("1h", "90m" or a number of seconds); an
// empty string is 0 (not set).
func ParseDuration(s string) (time.Duration, error) {
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	return duration.Parse(s)
}

// DefaultPath returns the settings file's path: $ROLEHOP_CONFIG, else
// $XDG_CONFIG_HOME/rolehop/config.yaml, else ~/.config/rolehop/config.yaml.
func DefaultPath() string {
	if p := os.Getenv("ROLEHOP_CONFIG"); p != "" {
		return ExpandHome(p)
	}
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "rolehop", "config.yaml")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".config", "rolehop", "config.yaml")
	}
	return filepath.Join(home, ".config", "rolehop", "config.yaml")
}

// DefaultAccountsPath is accounts.yaml next to the default settings file's
// folder: $XDG_CONFIG_HOME/rolehop/accounts.yaml or
// ~/.config/rolehop/accounts.yaml.
func DefaultAccountsPath() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "rolehop", "accounts.yaml")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(".config", "rolehop", "accounts.yaml")
	}
	return filepath.Join(home, ".config", "rolehop", "accounts.yaml")
}

// ExpandHome replaces a leading "~" (alone or followed by a separator) with
// the home folder.
func ExpandHome(p string) string {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return p
	}
	return filepath.Join(home, p[1:])
}

// Load reads the settings file at path ("" means DefaultPath()). A missing
// file is not an error: it gives an empty File with Exists false. A file
// that is not valid settings gives an error wrapping ErrInvalid that names
// the file and the line.
func Load(path string) (*File, error) {
	if path == "" {
		path = DefaultPath()
	}
	path = ExpandHome(path)
	f := &File{Path: path, Logins: map[string]LoginProfile{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rolehop settings: %w", err)
	}
	f.Exists = true
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: %s; fix the file or point ROLEHOP_CONFIG elsewhere", ErrInvalid, path, yamlMessage(err))
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: %s: line %d: a second YAML document (after ---); rolehop reads one: merge them", ErrInvalid, path, extra.Line)
	}
	if err := checkSort("defaults.sort", raw.Defaults.Sort); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
	}
	f.Defaults = Defaults{
		Region:          raw.Defaults.Region,
		Duration:        raw.Defaults.Duration.d,
		Sort:            raw.Defaults.Sort,
		AccountsFile:    ExpandHome(raw.Defaults.AccountsFile),
		Output:          raw.Defaults.Output,
		ProfileTemplate: raw.Defaults.ProfileTemplate,
	}
	logins, err := decodeLogins(&raw.Logins)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %s; fix the file or point ROLEHOP_CONFIG elsewhere", ErrInvalid, path, err)
	}
	for name, rl := range logins {
		lp := LoginProfile{
			Name: name, IdP: strings.ToLower(rl.IdP), URL: rl.URL, Username: rl.Username, Keyring: rl.Keyring, InsecureSkipVerify: rl.Insecure,
			Account: rl.Account, Role: rl.Role, Region: rl.Region, Duration: rl.Duration.d,
			Profile: rl.Profile, STSEndpoint: rl.STSEndpoint, Output: rl.Output, Sort: rl.Sort,
			ProfileTemplate: rl.ProfileTemplate,
			ADFS:            ADFSSettings{Auth: strings.ToLower(rl.ADFS.Auth)},
			OneLogin: OneLoginSettings{Region: rl.OneLogin.Region, Subdomain: rl.OneLogin.Subdomain,
				AppID: rl.OneLogin.AppID, ClientID: rl.OneLogin.ClientID},
			Browser: BrowserSettings{Path: ExpandHome(rl.Browser.Path), ProfileDir: ExpandHome(rl.Browser.ProfileDir),
				Headless: rl.Browser.Headless, Timeout: rl.Browser.Timeout.d, TypeOrigins: rl.Browser.TypeOrigins},
			Okta:            OktaSettings{OrgURL: rl.Okta.OrgURL, Factor: rl.Okta.Factor, FactorProvider: rl.Okta.FactorProvider},
			PasswordOrigins: rl.PasswordOrigins,
		}
		if err := lp.check("logins." + name); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrInvalid, path, err)
		}
		f.Logins[name] = lp
	}
	return f, nil
}

// yamlMessage turns yaml.v3's messages ("yaml: unmarshal errors:\n  line 3:
// field x not found in type settings.rawLogin") into one line without Go
// type names.
func yamlMessage(err error) string {
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs := make([]string, 0, len(te.Errors))
		for _, m := range te.Errors {
			if i := strings.Index(m, " not found in type "); i >= 0 {
				m = strings.Replace(m[:i], "field ", "unknown key ", 1)
			}
			msgs = append(msgs, m)
		}
		return strings.Join(msgs, "; ")
	}
	return strings.TrimPrefix(strings.Join(strings.Fields(err.Error()), " "), "yaml: ")
}

func checkSort(field, v string) error {
	if v != "" && v != SortAccount && v != SortRole {
		return fmt.Errorf("%s %q: want account or role", field, v)
	}
	return nil
}

// check validates the values a login profile may hold.
func (lp LoginProfile) check(field string) error {
	switch lp.IdP {
	case "", IdPForm, IdPADFS, IdPOneLogin, IdPOkta, IdPBrowser:
	default:
		return fmt.Errorf("%s.idp %q: want %s", field, lp.IdP, idpKinds)
	}
	switch lp.Okta.Factor {
	case "", "token:software:totp", "push":
	default:
		return fmt.Errorf("%s.okta.factor %q: want token:software:totp or push", field, lp.Okta.Factor)
	}
	switch lp.ADFS.Auth {
	case "", "forms", "basic", "ntlm":
	default:
		return fmt.Errorf("%s.adfs.auth %q: want forms, basic or ntlm", field, lp.ADFS.Auth)
	}
	return checkSort(field+".sort", lp.Sort)
}

// Names returns the login profile names, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.Logins))
	for n := range f.Logins {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Login returns the login profile name merged with the defaults: every
// setting the profile leaves empty takes the default's value. An empty name
// gives the login named "default" if there is one, else the only login if
// there is exactly one, else the defaults alone. An unknown name gives an
// error wrapping ErrUnknownLogin that lists the known ones.
func (f *File) Login(name string) (LoginProfile, error) {
	var lp LoginProfile
	switch {
	case name != "":
		p, ok := f.Logins[name]
		if !ok {
			known := "none"
			if len(f.Logins) > 0 {
				known = strings.Join(f.Names(), ", ")
			}
			where := f.Path
			if where == "" {
				where = "the settings file"
			}
			return LoginProfile{}, fmt.Errorf("%w %q in %s (known: %s); add it with rolehop init --login %s, or pick another", ErrUnknownLogin, name, where, known, name)
		}
		lp = p
	case len(f.Logins) == 1:
		for _, p := range f.Logins {
			lp = p
		}
	default:
		lp = f.Logins["default"]
	}
	d := f.Defaults
	or := func(v *string, def string) {
		if *v == "" {
			*v = def
		}
	}
	or(&lp.Region, d.Region)
	or(&lp.Sort, d.Sort)
	or(&lp.Output, d.Output)
	or(&lp.ProfileTemplate, d.ProfileTemplate)
	or(&lp.AccountsFile, d.AccountsFile)
	if lp.Duration == 0 {
		lp.Duration = d.Duration
	}
	return lp, nil
}

// Env variables read by ApplyEnv (a password is never read from the
// environment).
const (
	EnvLogin       = "ROLEHOP_LOGIN"
	EnvIdP         = "ROLEHOP_IDP"
	EnvIdPURL      = "ROLEHOP_IDP_URL"
	EnvUsername    = "ROLEHOP_USERNAME"
	EnvAccount     = "ROLEHOP_ACCOUNT"
	EnvRole        = "ROLEHOP_ROLE"
	EnvRegion      = "ROLEHOP_REGION"
	EnvDuration    = "ROLEHOP_DURATION"
	EnvProfile     = "ROLEHOP_PROFILE"
	EnvSTSEndpoint = "ROLEHOP_STS_ENDPOINT"
	EnvSort        = "ROLEHOP_SORT"
	EnvAccounts    = "ROLEHOP_ACCOUNTS_FILE"
)

// applyEnv overrides lp with the ROLEHOP_* environment variables that are
// set: ROLEHOP_IDP, ROLEHOP_IDP_URL, ROLEHOP_USERNAME, ROLEHOP_ACCOUNT,
// ROLEHOP_ROLE, ROLEHOP_REGION, ROLEHOP_DURATION, ROLEHOP_PROFILE,
// ROLEHOP_STS_ENDPOINT, ROLEHOP_SORT and ROLEHOP_ACCOUNTS_FILE. A bad
// duration gives an error wrapping ErrInvalid; the values are validated by
// Resolve with the others.
func (lp *LoginProfile) applyEnv(getenv func(string) string) error {
	set := func(v *string, key string) {
		if e := getenv(key); e != "" {
			*v = e
		}
	}
	set(&lp.URL, EnvIdPURL)
	set(&lp.Username, EnvUsername)
	set(&lp.Account, EnvAccount)
	set(&lp.Role, EnvRole)
	set(&lp.Region, EnvRegion)
	set(&lp.Profile, EnvProfile)
	set(&lp.STSEndpoint, EnvSTSEndpoint)
	if e := getenv(EnvAccounts); e != "" {
		lp.AccountsFile = ExpandHome(e)
	}
	if e := getenv(EnvIdP); e != "" {
		lp.IdP = strings.ToLower(e)
	}
	if e := getenv(EnvSort); e != "" {
		lp.Sort = e
	}
	if e := getenv(EnvDuration); e != "" {
		d, err := ParseDuration(e)
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, EnvDuration, err)
		}
		lp.Duration = d
	}
	return nil
}

// LoadAccounts reads accounts.yaml, a map of account ID to alias
// (`"111111111111": prod`). A missing file gives an empty map and no error.
func LoadAccounts(path string) (map[string]string, error) {
	if path == "" {
		path = DefaultAccountsPath()
	}
	path = ExpandHome(path)
	out := map[string]string{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read accounts file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: %s: %s; want lines like \"111111111111\": prod", ErrInvalid, path, yamlMessage(err))
	}
	if len(doc.Content) == 0 {
		return out, nil
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%w: %s: line %d: want a map of account ID to alias, like \"111111111111\": prod", ErrInvalid, path, m.Line)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		id := k.Value
		if k.Kind != yaml.ScalarNode || !awsarn.IsAccountID(id) {
			return nil, fmt.Errorf("%w: %s: line %d: key is not a 12-digit account ID; quote IDs with leading zeros", ErrInvalid, path, k.Line)
		}
		if v.Kind != yaml.ScalarNode || v.Value == "" {
			return nil, fmt.Errorf("%w: %s: line %d: want an alias string for account %s", ErrInvalid, path, v.Line, id)
		}
		if _, dup := out[id]; dup {
			return nil, fmt.Errorf("%w: %s: line %d: account %s listed twice", ErrInvalid, path, k.Line, id)
		}
		out[id] = v.Value
	}
	return out, nil
}

// AccountID resolves an account given as an ID or as an alias of aliases
// (accounts.yaml; aliases compare case-insensitively). An unknown alias is
// an error wrapping ErrInvalid that names a few known aliases.
func AccountID(aliases map[string]string, s string) (string, error) {
	s = strings.TrimSpace(s)
	if awsarn.IsAccountID(s) {
		return s, nil
	}
	var known []string
	for id, alias := range aliases {
		if strings.EqualFold(alias, s) {
			return id, nil
		}
		known = append(known, alias)
	}
	slices.Sort(known)
	hint := "no aliases are defined (accounts.yaml maps \"111111111111\": prod)"
	if len(known) > 0 {
		hint = "known aliases: " + boundedList(known, 8)
	}
	return "", fmt.Errorf("%w: account %q is neither a 12-digit ID nor an alias; %s", ErrInvalid, clip(s), hint)
}

// boundedList joins at most n items and counts the rest.
func boundedList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// decodeLogins decodes the logins mapping in linear time, refusing duplicate
// names and unknown keys (with their lines) as the file's KnownFields
// decoder does for the rest.
func decodeLogins(n *yaml.Node) (map[string]rawLogin, error) {
	out := map[string]rawLogin{}
	if n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.Tag == "!!null") {
		return out, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: logins must be a map of login names to settings", n.Line)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: a login name must be a plain name", k.Line)
		}
		if _, dup := out[k.Value]; dup {
			return nil, fmt.Errorf("line %d: login %q is defined twice", k.Line, k.Value)
		}
		if err := knownKeys(v, reflect.TypeFor[rawLogin]()); err != nil {
			return nil, err
		}
		var rl rawLogin
		if err := v.Decode(&rl); err != nil {
			return nil, errors.New(yamlMessage(err))
		}
		out[k.Value] = rl
	}
	return out, nil
}

// knownKeys refuses a mapping key that names no field of the struct type t
// (by its yaml tag), in n and in the mappings of nested struct fields.
func knownKeys(n *yaml.Node, t reflect.Type) error {
	if n.Kind != yaml.MappingNode || t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name != "" && name != "-" {
			fields[name] = f.Type
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		ft, ok := fields[k.Value]
		if !ok {
			return fmt.Errorf("line %d: unknown key %s", k.Line, k.Value)
		}
		if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[durationValue]() {
			if err := knownKeys(n.Content[i+1], ft); err != nil {
				return err
			}
		}
	}
	return nil
}
