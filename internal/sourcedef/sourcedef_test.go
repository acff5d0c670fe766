package sourcedef

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/stsparam"
)

const pinConfig = `[profile base]
region = eu-west-1

[profile a]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/A
rolehop_external_id = ext-1

[profile b]
rolehop_base = a
rolehop_role_arn = arn:aws:iam::222222222222:role/B
rolehop_duration = 2h

[profile c]
rolehop_base = login:corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C

[profile s1]
rolehop_login = corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C
region = eu-central-1

[profile s2]
rolehop_login = corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C
rolehop_principal_arn = arn:aws:iam::333333333333:saml-provider/X

[profile s3]
rolehop_login = corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C
rolehop_duration = 2h

[profile over]
rolehop_base = s1
rolehop_role_arn = arn:aws:iam::444444444444:role/D

[profile both]
rolehop_login = corp
rolehop_base = base
rolehop_role_arn = arn:aws:iam::333333333333:role/C

[profile emptylogin]
rolehop_login =
rolehop_role_arn = arn:aws:iam::333333333333:role/C

[profile samlext]
rolehop_login = corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C
rolehop_external_id = ext-1

[profile principalnologin]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::333333333333:role/C
rolehop_principal_arn = arn:aws:iam::333333333333:saml-provider/X

[profile badprincipal]
rolehop_login = corp
rolehop_role_arn = arn:aws:iam::333333333333:role/C
rolehop_principal_arn = arn:aws:iam::333333333333:role/X

[profile slash]
rolehop_login = ../etc
rolehop_role_arn = arn:aws:iam::333333333333:role/C
`

func resolveIn(t *testing.T, cfg, profile string, o Options) (*Def, error) {
	t.Helper()
	snap, err := (&awsfile.File{Path: cfg, Kind: awsfile.Config}).Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	o.ConfigFile = cfg
	return Resolve(profile, snap.Profile, o)
}

// TestCacheKeysUnchanged pins the keys of existing sources: computed by
// package source before the definitions moved here, for this config at
// this path. A changed key would orphan every cached entry of every user.
func TestCacheKeysUnchanged(t *testing.T) {
	if err := os.MkdirAll("/tmp/rolehop-pin", 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "/tmp/rolehop-pin/config"
	if err := os.WriteFile(cfg, []byte(pinConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/creds")
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1")
	t.Setenv("AWS_ENDPOINT_URL", "")
	for _, tc := range []struct {
		profile string
		d       time.Duration
		key     string
	}{
		{"a", 0, "74b1d3bec6a63a2b17cbe2cb4fd8e4ef7695e1d8"},
		{"b", 0, "3d4eb7b2b5218ac32dc0c521bf4ea9a75b0f647c"},
		{"c", 0, "046eae939c5cec670a50d3c0f5c7f2b6cc8fe2ae"},
		{"b", time.Hour, "b8e417f1470ec3570076e50f23a81f0bc89657c9"},
	} {
		d, err := resolveIn(t, cfg, tc.profile, Options{Duration: tc.d})
		if err != nil {
			t.Fatal(err)
		}
		if d.CacheKey != tc.key {
			t.Errorf("profile %s (duration %v): key %s, want %s", tc.profile, tc.d, d.CacheKey, tc.key)
		}
	}
}

func TestSAMLSources(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(cfg, []byte(pinConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{}
	for _, p := range []string{"c", "s1", "s2", "s3", "over"} {
		d, err := resolveIn(t, cfg, p, Options{})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if other, dup := keys[d.CacheKey]; dup {
			t.Errorf("%s and %s share a cache key", p, other)
		}
		keys[d.CacheKey] = p
	}
	d, _ := resolveIn(t, cfg, "s2", Options{})
	if !d.SAML() || d.Base.Login != "corp" || len(d.Hops) != 1 || d.Hops[0].PrincipalARN != "arn:aws:iam::333333333333:saml-provider/X" {
		t.Errorf("s2: %+v", d)
	}
	d, _ = resolveIn(t, cfg, "over", Options{})
	if !d.SAML() || len(d.Hops) != 2 || !d.Hops[0].SAML || d.Hops[1].SAML || d.Region != "eu-central-1" || d.RoleARN() != "arn:aws:iam::444444444444:role/D" {
		t.Errorf("over: %+v", d)
	}
	if d, err := resolveIn(t, cfg, "s1", Options{Duration: 10 * time.Minute}); err == nil || !errors.Is(err, stsparam.ErrInvalidParameter) {
		t.Errorf("s1 with a 10m duration: %v %v", d, err)
	}
	for p, want := range map[string]string{
		"both":             "both rolehop_login and rolehop_base",
		"emptylogin":       "rolehop_login is empty",
		"samlext":          "rolehop_external_id does not apply",
		"principalnologin": "rolehop_principal_arn applies only with rolehop_login",
		"slash":            "cannot name a login profile",
	} {
		_, err := resolveIn(t, cfg, p, Options{})
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v; want ErrInvalid with %q", p, err, want)
		}
	}
	if _, err := resolveIn(t, cfg, "badprincipal", Options{}); !errors.Is(err, stsparam.ErrInvalidParameter) || !strings.Contains(err.Error(), "PrincipalArn") {
		t.Errorf("badprincipal: %v", err)
	}
	var nf *NotFoundError
	if _, err := resolveIn(t, cfg, "nope", Options{}); !errors.As(err, &nf) || !errors.Is(err, ErrNotFound) {
		t.Errorf("nope: %v", err)
	}
	if _, err := resolveIn(t, cfg, "base", Options{}); !errors.Is(err, ErrNotSource) {
		t.Errorf("base: %v", err)
	}
}
