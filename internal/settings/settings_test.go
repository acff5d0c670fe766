package settings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `# rolehop settings
defaults:
  region: us-east-1
  duration: 1h
  sort: role
  accounts_file: ~/.config/rolehop/accounts.yaml
logins:
  corp:
    idp: form
    url: http://127.0.0.1:8080/simplesaml/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices
    username: alice
    keyring: false
    account: "111111111111"
    role: Admin
    region: eu-west-1
    duration: 2h
    profile: corp
    sts_endpoint: ""
    adfs: {auth: forms}
  ad:
    idp: ADFS
    url: https://adfs.example.com/adfs/ls/IdpInitiatedSignOn.aspx?loginToRp=urn:amazon:webservices
    duration: 5400
    adfs: {auth: ntlm}
  ol:
    idp: onelogin
    onelogin: {region: eu, subdomain: acme, app_id: "123", client_id: cid}
  br:
    idp: browser
    url: https://idp.example.com/sso
    browser: {path: ~/bin/chrome, headless: true, timeout: 2m, type_origins: [https://login.example.com]}
  ok:
    idp: okta
    url: https://example.okta.com/home/amazon_aws/0oa1/272
    okta: {org_url: https://example.okta.com, factor: push, factor_provider: OKTA}
`

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadAndMerge(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	f, err := Load(writeFile(t, "config.yaml", sample))
	if err != nil {
		t.Fatal(err)
	}
	if br := f.Logins["br"]; br.IdP != IdPBrowser || br.Browser.Path != "/home/tester/bin/chrome" || !br.Browser.Headless ||
		br.Browser.Timeout != 2*time.Minute || len(br.Browser.TypeOrigins) != 1 {
		t.Errorf("browser login: %+v", br)
	}
	if ok := f.Logins["ok"]; ok.IdP != IdPOkta || ok.Okta.Factor != "push" || ok.Okta.OrgURL != "https://example.okta.com" || ok.Okta.FactorProvider != "OKTA" {
		t.Errorf("okta login: %+v", ok)
	}
	if !f.Exists || strings.Join(f.Names(), ",") != "ad,br,corp,ok,ol" {
		t.Fatalf("exists %v, names %v", f.Exists, f.Names())
	}
	if f.Defaults.AccountsFile != "/home/tester/.config/rolehop/accounts.yaml" {
		t.Errorf("accounts_file %q: want ~ expanded", f.Defaults.AccountsFile)
	}

	corp, err := f.Login("corp")
	if err != nil {
		t.Fatal(err)
	}
	want := LoginProfile{
		Name: "corp", IdP: "form", Username: "alice", Account: "111111111111", Role: "Admin",
		URL:    "http://127.0.0.1:8080/simplesaml/saml2/idp/SSOService.php?spentityid=urn%3Aamazon%3Awebservices",
		Region: "eu-west-1", Duration: 2 * time.Hour, Profile: "corp", Sort: "role",
		AccountsFile: "/home/tester/.config/rolehop/accounts.yaml", ADFS: ADFSSettings{Auth: "forms"},
	}
	if !reflect.DeepEqual(corp, want) {
		t.Errorf("corp:\n got %+v\nwant %+v", corp, want)
	}

	ad, _ := f.Login("ad")
	if ad.IdP != IdPADFS || ad.Duration != 90*time.Minute || ad.Region != "us-east-1" || ad.ADFS.Auth != "ntlm" {
		t.Errorf("ad: %+v (want adfs, 5400s, region from defaults, ntlm)", ad)
	}
	ol, _ := f.Login("ol")
	if ol.OneLogin != (OneLoginSettings{Region: "eu", Subdomain: "acme", AppID: "123", ClientID: "cid"}) || ol.Duration != time.Hour {
		t.Errorf("ol: %+v", ol)
	}

	_, err = f.Login("nope")
	if !errors.Is(err, ErrUnknownLogin) || !strings.Contains(err.Error(), "known: ad, br, corp, ok, ol") {
		t.Errorf("unknown login: %v", err)
	}
	// No name and several logins without "default": the defaults alone.
	none, err := f.Login("")
	if err != nil || none.Name != "" || none.Region != "us-east-1" || none.Duration != time.Hour {
		t.Errorf("no name: %+v, %v", none, err)
	}
}

func TestLoginWithoutNamePicksTheOnlyOne(t *testing.T) {
	f, err := Load(writeFile(t, "c.yaml", "logins:\n  only:\n    username: bob\n"))
	if err != nil {
		t.Fatal(err)
	}
	lp, err := f.Login("")
	if err != nil || lp.Name != "only" || lp.Username != "bob" {
		t.Errorf("got %+v, %v", lp, err)
	}
}

func TestMissingFileIsEmpty(t *testing.T) {
	f, err := Load(filepath.Join(t.TempDir(), "none.yaml"))
	if err != nil || f.Exists || len(f.Logins) != 0 {
		t.Fatalf("got %+v, %v", f, err)
	}
	lp, err := f.Login("")
	if err != nil || !reflect.DeepEqual(lp, LoginProfile{}) {
		t.Errorf("login from empty file: %+v, %v", lp, err)
	}
}

func TestInvalidFiles(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string
	}{
		{"unknown top-level key", "defaults:\n  region: x\nlogin:\n  a: {}\n", "line 3: unknown key login"},
		{"unknown login key", "logins:\n  corp:\n    idp: form\n    passwd: hunter2\n", "line 4: unknown key passwd"},
		{"unknown default key", "defaults:\n  regoin: x\n", "line 2: unknown key regoin"},
		{"bad duration", "defaults:\n  duration: soon\n", "line 2: duration \"soon\""},
		{"bad idp", "logins:\n  a:\n    idp: okta2\n", "logins.a.idp \"okta2\": want form, adfs, onelogin, okta or browser"},
		{"bad okta factor", "logins:\n  a:\n    idp: okta\n    okta: {factor: sms}\n", "okta.factor \"sms\""},
		{"bad sort", "defaults:\n  sort: age\n", "defaults.sort \"age\": want account or role"},
		{"bad adfs auth", "logins:\n  a:\n    adfs: {auth: kerberos}\n", "want forms, basic or ntlm"},
		{"not yaml", "defaults: [\n", "line"},
		{"unknown nested key", "logins:\n  a:\n    adfs:\n      mode: forms\n", "line 4: unknown key mode"},
		{"login twice", "logins:\n  a:\n    idp: form\n  a:\n    idp: adfs\n", "line 4: login \"a\" is defined twice"},
		{"logins not a map", "logins: [a, b]\n", "line 1: logins must be a map"},
		{"bad login duration", "logins:\n  a:\n    duration: [1h]\n", "line 3: a duration must be a value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, "config.yaml", tc.body)
			_, err := Load(p)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("err %v: want ErrInvalid naming %s and %q", err, p, tc.want)
			}
			if strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "rawLogin") {
				t.Errorf("message %q: want one line without values or Go type names", err)
			}
		})
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	t.Setenv("ROLEHOP_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", "")
	if got := DefaultPath(); got != "/home/tester/.config/rolehop/config.yaml" {
		t.Errorf("home: %q", got)
	}
	t.Setenv("XDG_CONFIG_HOME", "/xdg")
	if got := DefaultPath(); got != "/xdg/rolehop/config.yaml" {
		t.Errorf("xdg: %q", got)
	}
	t.Setenv("ROLEHOP_CONFIG", "~/rh.yaml")
	if got := DefaultPath(); got != "/home/tester/rh.yaml" {
		t.Errorf("ROLEHOP_CONFIG: %q", got)
	}
}

func TestResolvePrecedence(t *testing.T) {
	t.Setenv("HOME", "/home/tester")
	path := writeFile(t, "config.yaml", sample)
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }

	// defaults < login profile: corp sets region, duration; sort from defaults.
	lp, err := Resolve(path, getenv, Overrides{Login: "corp"})
	if err != nil {
		t.Fatal(err)
	}
	if lp.Region != "eu-west-1" || lp.Duration != 2*time.Hour || lp.Sort != "role" || lp.Username != "alice" || lp.IdP != "form" {
		t.Errorf("profile over defaults: %+v", lp)
	}
	// < environment (ROLEHOP_LOGIN picks the login, ROLEHOP_* override it).
	env = map[string]string{EnvLogin: "corp", EnvUsername: "bob", EnvDuration: "900", EnvAccount: "222222222222",
		EnvAccounts: "~/acc.yaml"}
	lp, err = Resolve(path, getenv, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	if lp.Name != "corp" || lp.Username != "bob" || lp.Duration != 15*time.Minute || lp.Account != "222222222222" ||
		lp.Role != "Admin" || lp.AccountsFile != "/home/tester/acc.yaml" {
		t.Errorf("environment over profile: %+v", lp)
	}
	// < flags.
	lp, err = Resolve(path, getenv, Overrides{Username: "carol", Duration: 3 * time.Hour, IdP: "ADFS", Sort: "account", Keyring: true})
	if err != nil {
		t.Fatal(err)
	}
	if lp.Username != "carol" || lp.Duration != 3*time.Hour || lp.IdP != "adfs" || lp.Sort != "account" || !lp.Keyring {
		t.Errorf("flags over environment: %+v", lp)
	}
	// Built-in defaults when nothing sets them.
	lp, err = Resolve(filepath.Join(t.TempDir(), "none.yaml"), func(string) string { return "" }, Overrides{URL: "https://idp.example.com/sso"})
	if err != nil {
		t.Fatal(err)
	}
	if lp.Duration != DefaultDuration || lp.IdP != DefaultIdP || lp.Sort != DefaultSort || lp.SettingsExist {
		t.Errorf("built-in defaults: %+v", lp)
	}
}

func TestResolveValidatesOnce(t *testing.T) {
	path := writeFile(t, "config.yaml", sample)
	none := func(string) string { return "" }
	for name, tc := range map[string]struct {
		env   map[string]string
		flags Overrides
		want  string
	}{
		"duration short (flag)":     {nil, Overrides{Login: "corp", Duration: time.Minute}, "out of range"},
		"duration long (env)":       {map[string]string{EnvDuration: "13h"}, Overrides{Login: "corp"}, "out of range"},
		"duration not one (env)":    {map[string]string{EnvDuration: "forever"}, Overrides{Login: "corp"}, EnvDuration},
		"idp kind (flag)":           {nil, Overrides{Login: "corp", IdP: "okta2"}, "want form"},
		"idp kind (env)":            {map[string]string{EnvIdP: "nope"}, Overrides{Login: "corp"}, "want form"},
		"sort (flag)":               {nil, Overrides{Login: "corp", Sort: "size"}, "want account or role"},
		"output (flag)":             {nil, Overrides{Login: "corp", Output: "xml"}, "want json"},
		"account (flag)":            {nil, Overrides{Login: "corp", Account: "12345"}, "12-digit"},
		"no url":                    {nil, Overrides{Login: "ad", URL: ""}, ""},
		"unknown login":             {nil, Overrides{Login: "nobody"}, "known: ad, br, corp, ok, ol"},
		"no url without a settings": {nil, Overrides{}, "no idp url"},
	} {
		getenv := none
		if tc.env != nil {
			getenv = func(k string) string { return tc.env[k] }
		}
		p := path
		if name == "no url without a settings" {
			p = filepath.Join(t.TempDir(), "missing.yaml")
		}
		_, err := Resolve(p, getenv, tc.flags)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
			continue
		}
		if (!errors.Is(err, ErrInvalid) && !errors.Is(err, ErrUnknownLogin)) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
		if name == "no url without a settings" && !strings.Contains(err.Error(), p) {
			t.Errorf("the error does not name the settings file: %v", err)
		}
	}
}

func TestLoadRefusesWhatWouldBeSilentlyIgnored(t *testing.T) {
	for body, want := range map[string]string{
		"defaults:\n  duration: [1h, 2h]\n":           "not a list or map",
		"defaults:\n  region: x\n---\ndefaults: {}\n": "second YAML document",
	} {
		_, err := Load(writeFile(t, "c.yaml", body))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestLoadAccounts(t *testing.T) {
	p := writeFile(t, "accounts.yaml", "# aliases\n\"111111111111\": prod\n222222222222: dev\n\"012345678901\": zero\n")
	got, err := LoadAccounts(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got["111111111111"] != "prod" || got["222222222222"] != "dev" || got["012345678901"] != "zero" {
		t.Errorf("got %v", got)
	}
	if m, err := LoadAccounts(filepath.Join(t.TempDir(), "none")); err != nil || len(m) != 0 {
		t.Errorf("missing: %v %v", m, err)
	}
	if m, err := LoadAccounts(writeFile(t, "empty.yaml", "")); err != nil || len(m) != 0 {
		t.Errorf("empty: %v %v", m, err)
	}
	for body, want := range map[string]string{
		"\"1111\": short\n":                          "line 1: key is not a 12-digit account ID",
		"- a\n- b\n":                                 "line 1: want a map",
		"\"111111111111\": [a]\n":                    "line 1: want an alias",
		"\"111111111111\": a\n\"111111111111\": b\n": "line 2",
	} {
		_, err := LoadAccounts(writeFile(t, "bad.yaml", body))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err %v, want %q", body, err, want)
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"1h": time.Hour, "3600": time.Hour, "90m": 90 * time.Minute, "": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"-1h", "x", "1 hour"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}

func TestAccountAliases(t *testing.T) {
	aliases := map[string]string{"111111111111": "payments-prod-00", "222222222222": "dev"}
	for in, want := range map[string]string{"111111111111": "111111111111", "payments-prod-00": "111111111111", "DEV": "222222222222"} {
		if got, err := AccountID(aliases, in); err != nil || got != want {
			t.Errorf("AccountID(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := AccountID(aliases, "prod"); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "known aliases: dev, payments-prod-00") {
		t.Errorf("unknown alias: %v", err)
	}
	many := map[string]string{}
	for i := range 400 {
		many[fmt.Sprintf("%012d", 100000000000+i)] = fmt.Sprintf("acct-%03d", i)
	}
	if _, err := AccountID(many, "nope"); err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), "and 392 more") {
		t.Errorf("the list of 400 aliases is not bounded: %d bytes", len(err.Error()))
	}
	// Resolve takes an alias for the account, from the accounts file.
	dir := t.TempDir()
	acc := writeFile(t, "accounts.yaml", "\"111111111111\": payments-prod-00\n")
	cfg := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(cfg, []byte("defaults:\n  accounts_file: "+acc+"\nlogins:\n  corp:\n    url: https://idp/sso\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lp, err := Resolve(cfg, func(string) string { return "" }, Overrides{Account: "payments-prod-00"})
	if err != nil || lp.Account != "111111111111" {
		t.Errorf("Resolve with an alias: %q %v", lp.Account, err)
	}
}
