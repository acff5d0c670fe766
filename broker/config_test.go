package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/session"
)

const validTop = "external_url: https://aws.example.com\nidp:\n  metadata_url: https://idp.example.com/metadata\n"

const validTarget = "targets:\n  prod-admin:\n    role: arn:aws:iam::111111111111:role/Admin\n    groups: [admins]\n"

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig([]byte(validTop+validTarget), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8080" || c.Store != "memory" || c.URLPrefix != "/" || !c.SourceIdentity || c.SessionTags ||
		c.DefaultDuration != time.Hour || c.SessionLifetime != time.Hour || c.IdP.GroupsAttribute != "groups" ||
		c.IdP.NameIDFormat != "persistent" || c.EntityID != "https://aws.example.com/saml/metadata" || c.IdP.AllowIdPInitiated {
		t.Errorf("defaults: %+v", c)
	}
	tg := c.TargetByPath("prod-admin")
	if tg == nil || tg.Role.AccountID != "111111111111" || tg.Role.Name != "Admin" || tg.Line != 5 || !tg.Allows([]string{"x", "admins"}) || tg.Allows([]string{"dev"}) {
		t.Errorf("target: %+v", tg)
	}
	open, err := ParseConfig([]byte(validTop+"targets:\n  any:\n    role: arn:aws:iam::111111111111:role/Read\n    groups: []\n"), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !open.Targets[0].Allows(nil) {
		t.Error("groups: [] must let every signed-in user in")
	}
}

// TestParseConfigErrors: each mistake is reported with its file, line,
// column and key, and says how to fix it.
func TestParseConfigErrors(t *testing.T) {
	for _, c := range []struct {
		name, yaml, want string
	}{
		{"empty", "", "b.yaml: not valid YAML: the file is empty"},
		{"not yaml", "title: a\nexternal_url: [\n", "b.yaml:2: not valid YAML"},
		{"no external url", "idp:\n  metadata_url: https://i.example/m\n" + validTarget, "b.yaml:1:1: external_url: missing"},
		{"unknown key", validTop + "lsiten: :80\n" + validTarget, "b.yaml:4:1: lsiten: unknown key; known keys here: listen,"},
		{"duplicate key", validTop + "title: a\ntitle: b\n" + validTarget, "b.yaml:5:1: title: given twice (first on line 4)"},
		{"duplicate target", validTop + validTarget + "  prod-admin:\n    role: arn:aws:iam::111111111111:role/X\n    groups: []\n", "b.yaml:8:3: targets.prod-admin: given twice (first on line 5)"},
		{"plain http", "external_url: http://aws.example.com\nidp:\n  metadata_url: https://i.example/m\n" + validTarget, "b.yaml:1:15: external_url: must be https"},
		{"url with path", "external_url: https://aws.example.com/sso\nidp:\n  metadata_url: https://i.example/m\n" + validTarget, "b.yaml:1:15: external_url: must not have a path"},
		{"metadata over http", "external_url: https://aws.example.com\nidp:\n  metadata_url: http://idp.example.com/m\n" + validTarget, "b.yaml:3:17: idp.metadata_url: want an https URL"},
		{"no metadata", "external_url: https://aws.example.com\n" + validTarget, "b.yaml:1:1: idp: missing: set idp.metadata_url or idp.metadata_file"},
		{"both metadata", validTop + "  metadata_file: /x\n" + validTarget, "b.yaml:3:3: idp: set metadata_url or metadata_file, not both"},
		{"transient", strings.Replace(validTop, "idp:\n", "idp:\n  name_id_format: transient\n", 1) + validTarget, "b.yaml:3:19: idp.name_id_format: want persistent, email or unspecified"},
		{"tls half", validTop + "tls_cert_file: /c.pem\n" + validTarget, "tls_cert_file: set tls_cert_file and tls_key_file together"},
		{"redis without key", validTop + "store: redis://127.0.0.1:6379\n" + validTarget, "b.yaml:4:8: session_key_file: required with a shared store"},
		{"bad store", validTop + "store: memcached://x\n" + validTarget, "b.yaml:4:8: store: want memory"},
		{"prefix", validTop + "url_prefix: aws\n" + validTarget, "b.yaml:4:13: url_prefix: want a path that starts and ends with /"},
		{"lifetime", validTop + "session_lifetime: 48h\n" + validTarget, "b.yaml:4:19: session_lifetime: want 1m to 24h"},
		{"bool", validTop + "session_tags: yes please\n" + validTarget, "b.yaml:4:15: session_tags: want true or false"},
		{"no targets", validTop, "b.yaml:1:1: targets: missing"},
		{"role missing", validTop + "targets:\n  a:\n    groups: [x]\n", "b.yaml:6:5: targets.a: role is missing"},
		{"groups missing", validTop + "targets:\n  a:\n    role: arn:aws:iam::111111111111:role/A\n", "b.yaml:6:5: targets.a: groups is missing: list the IdP groups allowed to open it, or write groups: []"},
		{"groups not a list", validTop + "targets:\n  a:\n    role: arn:aws:iam::111111111111:role/A\n    groups: admins\n", "b.yaml:7:13: targets.a.groups: want a list"},
		{"user arn", validTop + "targets:\n  a:\n    role: arn:aws:iam::111111111111:user/A\n    groups: []\n", "b.yaml:6:11: targets.a.role: \"arn:aws:iam::111111111111:user/A\" is not an IAM role ARN"},
		{"short duration", validTop + validTarget + "    duration: 5m\n", "b.yaml:8:15: targets.prod-admin.duration: 5m0s is out of range: AWS role sessions last 15m to 12h"},
		{"bad duration", validTop + validTarget + "    duration: forever\n", "b.yaml:8:15: targets.prod-admin.duration: duration \"forever\""},
		{"reserved path", validTop + "targets:\n  saml:\n    role: arn:aws:iam::111111111111:role/A\n    groups: []\n", "b.yaml:5:3: targets.saml: \"saml\" is the broker's own path"},
		{"dot segment", validTop + "targets:\n  a/../b:\n    role: arn:aws:iam::111111111111:role/A\n    groups: []\n", "b.yaml:5:3: targets.a/../b: a target's name is its URL path"},
		{"region partition", validTop + validTarget + "    region: cn-north-1\n", "b.yaml:8:13: targets.prod-admin.region: cn-north-1 is in partition aws-cn, but the role is in aws"},
		{"bad region", validTop + validTarget + "    region: Europe\n", "b.yaml:8:13: targets.prod-admin.region: \"Europe\" is not a region name"},
		{"destination", validTop + validTarget + "    destination: https://evil.example/\n", "targets.prod-admin.destination: console: destination is not a console URL"},
		{"shortcut", validTop + validTarget + "    destination: nosuchservice\n", "targets.prod-admin.destination: console: unknown service shortcut"},
		{"control char", validTop + validTarget + "    description: \"a\\x07b\"\n", "b.yaml:8:18: targets.prod-admin.description: contains a control character"},
		{"bad listen", validTop + "listen: 8080\n" + validTarget, "b.yaml:4:9: listen: want host:port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(c.yaml), "b.yaml")
			if err == nil {
				t.Fatalf("no error for:\n%s", c.yaml)
			}
			found := false
			for _, e := range err.(ConfigErrors) {
				if strings.Contains(e.Error(), c.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("got:\n%v\nwant a problem containing %q", strings.ReplaceAll(err.(ConfigErrors).Unwrap()[0].Error(), "\n", " "), c.want)
				for _, e := range err.(ConfigErrors) {
					t.Log(e)
				}
			}
		})
	}
}

// TestPlan: the duration rule. Long-term keys make first-hop sessions up
// to 12h with the console's SessionDuration sent; temporary credentials
// chain, capped at 1h, SessionDuration left out; an explicit duration the
// credentials cannot grant is refused on its line; the default is clamped
// with a note.
func TestPlan(t *testing.T) {
	y := validTop + "default_duration: 8h\ntargets:\n" +
		"  long:\n    role: arn:aws:iam::111111111111:role/A\n    groups: []\n    duration: 12h\n" +
		"  short:\n    role: arn:aws:iam::111111111111:role/B\n    groups: []\n    duration: 30m\n" +
		"  default:\n    role: arn:aws:iam::111111111111:role/C\n    groups: []\n"
	c, err := ParseConfig([]byte(y), "b.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan(LongTerm, "SharedConfigCredentials: /etc/broker/credentials")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]TargetPlan{
		"long":    {Duration: 12 * time.Hour, Console: console.KindRole, SessionDuration: 12 * time.Hour},
		"short":   {Duration: 30 * time.Minute, Console: console.KindRole, SessionDuration: 30 * time.Minute},
		"default": {Duration: 8 * time.Hour, Console: console.KindRole, SessionDuration: 8 * time.Hour},
	}
	for k, v := range want {
		if p.Targets[k] != v {
			t.Errorf("long-term %s: %+v, want %+v", k, p.Targets[k], v)
		}
	}
	if p.Max != session.MaxDuration {
		t.Errorf("long-term max %v", p.Max)
	}

	_, err = c.Plan(Temporary, "EC2RoleProvider")
	ces, ok := err.(ConfigErrors)
	if !ok || len(ces) != 1 || ces[0].Line != 9 || ces[0].Key != "targets.long.duration" ||
		!strings.Contains(ces[0].Msg, "12h0m0s cannot be granted: the broker holds temporary credentials (from EC2RoleProvider)") {
		t.Fatalf("temporary credentials with a 12h target: %v", err)
	}

	c.Targets = c.Targets[1:] // without the impossible target
	p, err = c.Plan(Temporary, "EC2RoleProvider")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Targets["short"]; got != (TargetPlan{Duration: 30 * time.Minute, Console: console.KindChained}) {
		t.Errorf("temporary short: %+v", got)
	}
	if got := p.Targets["default"]; got != (TargetPlan{Duration: time.Hour, Console: console.KindChained, Clamped: true}) {
		t.Errorf("temporary default: %+v", got)
	}
	if len(p.Notes) == 0 || !strings.Contains(p.Notes[0], "default_duration 8h0m0s clamped to 1h0m0s for 1 target(s)") {
		t.Errorf("notes %q", p.Notes)
	}
}
