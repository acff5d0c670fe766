package broker

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rolehop/rolehop/awsarn"
	"github.com/rolehop/rolehop/console"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/session"
)

// ErrConfig is matched (errors.Is) by every configuration error.
var ErrConfig = errors.New("broker configuration is invalid")

// ConfigError is one problem in the configuration file, with its place.
type ConfigError struct {
	File   string // as given to ParseConfig
	Line   int    // 1-based; 0 when the problem has no single place
	Column int
	Key    string // the dotted key, e.g. targets.prod-admin.duration
	Msg    string
}

func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteString(":" + strconv.Itoa(e.Line))
		if e.Column > 0 {
			b.WriteString(":" + strconv.Itoa(e.Column))
		}
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Is makes errors.Is(err, ErrConfig) true.
func (e *ConfigError) Is(target error) bool { return target == ErrConfig }

// ConfigErrors are every problem found in one file, in file order.
type ConfigErrors []*ConfigError

func (es ConfigErrors) Error() string {
	switch len(es) {
	case 0:
		return "no configuration error"
	case 1:
		return es[0].Error()
	}
	return fmt.Sprintf("%s (and %d more problems)", es[0].Error(), len(es)-1)
}

// Unwrap returns each problem.
func (es ConfigErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Config is a validated broker configuration (broker.yaml). Durations are
// what the file says; what the broker's credentials can achieve is decided
// by Config.Plan.
type Config struct {
	// File names the configuration in messages.
	File string

	// Listen is the address the broker serves on (default 127.0.0.1:8080).
	Listen string
	// ExternalURL is the broker's URL as users reach it (scheme, host,
	// optional port and path prefix, no trailing slash). Every URL the
	// broker emits (the ACS, the console's Issuer, redirects) is built from
	// it, never from request headers.
	ExternalURL *url.URL
	// TLSCertFile and TLSKeyFile, when set, make the broker serve HTTPS
	// itself; otherwise it serves plain HTTP (behind a TLS-terminating load
	// balancer, or on loopback for a trial).
	TLSCertFile, TLSKeyFile string
	// MetricsListen, when set, serves /metrics on that address instead of
	// on Listen.
	MetricsListen string
	// Store is "memory" or a redis:// or rediss:// URL.
	Store string
	// SessionKeyFile holds the keys that sign cookies (one per line, at
	// least 32 characters each; the first signs, all verify). Required with
	// a shared store; "" with the memory store means a random key per
	// process.
	SessionKeyFile string
	// SessionLifetime is how long a broker login lasts (default 1h).
	SessionLifetime time.Duration
	// Title is shown on the broker's pages (default "AWS console access").
	Title string

	// Profile names the AWS profile of the broker's own credentials; ""
	// means whatever the AWS SDK finds (environment, instance role, ...).
	Profile string
	// Region is the region STS is called in ("" = the profile's, else
	// us-east-1).
	Region string
	// FederationURL overrides the partitions' federation endpoints (a
	// proxy, tests).
	FederationURL string

	IdP IdPConfig

	// EntityID is the broker's SAML entity ID (default ExternalURL +
	// "/saml/metadata").
	EntityID string
	// SourceIdentity sets sts SourceIdentity from the user (default true;
	// the role's trust policy must allow sts:SetSourceIdentity).
	SourceIdentity bool
	// SessionTags adds the session tags "user" and "groups" (default false;
	// the trust policy must allow sts:TagSession). Targets may override.
	SessionTags bool
	// DefaultDuration applies to targets without a duration (default 1h);
	// it is clamped to what the broker's credentials allow.
	DefaultDuration time.Duration
	// URLPrefix is where the index and the targets live (default "/").
	URLPrefix string
	// Targets in file order.
	Targets []*Target
}

// IdPConfig is the identity provider the broker trusts.
type IdPConfig struct {
	// MetadataURL or MetadataFile (exactly one) holds the IdP's SAML
	// metadata.
	MetadataURL  string
	MetadataFile string
	// AllowIdPInitiated accepts logins the IdP starts (no AuthnRequest).
	AllowIdPInitiated bool
	// NameIDFormat asked for: persistent (default), email or unspecified.
	NameIDFormat string
	// UserAttribute, when set, names the attribute the user is taken from
	// instead of the NameID.
	UserAttribute string
	// GroupsAttribute names the attribute holding the user's groups
	// (default "groups").
	GroupsAttribute string
}

// Target is one console the broker opens.
type Target struct {
	// Path is the target's path below URLPrefix (e.g. "prod-admin").
	Path string
	// RoleARN is the role assumed; Role is it parsed.
	RoleARN string
	Role    awsarn.Role
	// AccountAlias and Description are shown on the index.
	AccountAlias string
	Description  string
	// Duration asked for (0: the configuration's DefaultDuration).
	Duration time.Duration
	// Groups allowed to open it; empty lets every signed-in user in.
	Groups []string
	// Destination is a console service shortcut or an https console URL
	// ("" = the console home); Region the console region.
	Destination string
	Region      string
	// SessionTags overrides the configuration's SessionTags when set.
	SessionTags *bool
	// Line is where the target starts in the file.
	Line int

	durationNode *yaml.Node // where duration was given (nil: not given)
}

// Allows reports whether a user in groups may open t.
func (t *Target) Allows(groups []string) bool {
	if len(t.Groups) == 0 {
		return true
	}
	for _, g := range groups {
		if slices.Contains(t.Groups, g) {
			return true
		}
	}
	return false
}

// matched returns the user's groups that allow t (all of them for a
// target open to everyone).
func (t *Target) matched(groups []string) []string {
	if len(t.Groups) == 0 {
		return groups
	}
	var out []string
	for _, g := range groups {
		if slices.Contains(t.Groups, g) {
			out = append(out, g)
		}
	}
	return out
}

// URLPath is the target's path on the broker.
func (c *Config) URLPath(t *Target) string { return c.URLPrefix + t.Path }

// reserved first path segments when URLPrefix is "/".
var reserved = []string{"saml", "healthz", "readyz", "metrics", "logout", "static", "favicon.ico", "robots.txt"}

var (
	rePath  = regexp.MustCompile(`^[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$`)
	reGroup = regexp.MustCompile(`^[^\x00-\x1f\x7f]{1,256}$`)
	reAttr  = regexp.MustCompile(`^[^\x00-\x20\x7f]{1,256}$`)
)

// parser walks the YAML nodes and collects errors with their places.
type parser struct {
	file string
	errs ConfigErrors
}

func (p *parser) errAt(n *yaml.Node, key, format string, args ...any) {
	e := &ConfigError{File: p.file, Key: key, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	p.errs = append(p.errs, e)
}

// mapping returns the key/value pairs of a mapping node, refusing
// duplicates and unknown keys.
func (p *parser) mapping(n *yaml.Node, key string, known ...string) [][2]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errAt(n, key, "want a mapping of keys to values")
		return nil
	}
	seen := map[string]int{}
	var out [][2]*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			p.errAt(k, key, "keys must be plain names")
			continue
		}
		name := join(key, k.Value)
		if line, dup := seen[k.Value]; dup {
			p.errAt(k, name, "given twice (first on line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		if known != nil && !slices.Contains(known, k.Value) {
			p.errAt(k, name, "unknown key; known keys here: %s", strings.Join(known, ", "))
			continue
		}
		out = append(out, [2]*yaml.Node{k, v})
	}
	return out
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

func (p *parser) str(n *yaml.Node, key string) string {
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!str" && n.Tag != "!!int" && n.Tag != "!!float") {
		p.errAt(n, key, "want a string")
		return ""
	}
	if strings.ContainsFunc(n.Value, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.errAt(n, key, "contains a control character")
		return ""
	}
	return strings.TrimSpace(n.Value)
}

func (p *parser) boolean(n *yaml.Node, key string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
		p.errAt(n, key, "want true or false")
		return false
	}
	v, _ := strconv.ParseBool(n.Value)
	return v
}

func (p *parser) dur(n *yaml.Node, key string) time.Duration {
	s := p.str(n, key)
	if s == "" {
		return 0
	}
	d, err := duration.Parse(s)
	if err != nil {
		p.errAt(n, key, "%v", err)
		return 0
	}
	return d
}

func (p *parser) strings(n *yaml.Node, key string) []string {
	if n.Kind != yaml.SequenceNode {
		p.errAt(n, key, "want a list, e.g. [admins, dev]")
		return nil
	}
	out := []string{}
	for _, c := range n.Content {
		if s := p.str(c, key); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseConfig reads and checks a broker configuration. name is used in
// messages (the file's path). Every problem is reported, each with its
// line, as ConfigErrors (errors.Is(err, ErrConfig)). Nothing is read from
// disk or the network here; see LoadConfig and LoadIdP.
func ParseConfig(data []byte, name string) (*Config, error) {
	p := &parser{file: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		line := 0
		msg := err.Error()
		// yaml.v3: "yaml: line 12: mapping values are not allowed ..."
		if m := regexp.MustCompile(`^yaml: line (\d+): (.*)$`).FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		}
		if err.Error() == "EOF" {
			msg = "the file is empty; see the README's broker quick start"
		}
		return nil, ConfigErrors{{File: name, Line: line, Msg: "not valid YAML: " + strings.TrimPrefix(msg, "yaml: ")}}
	}
	c := &Config{
		File:            name,
		Listen:          "127.0.0.1:8080",
		Store:           "memory",
		SessionLifetime: time.Hour,
		Title:           "AWS console access",
		SourceIdentity:  true,
		DefaultDuration: time.Hour,
		URLPrefix:       "/",
	}
	c.IdP.NameIDFormat = "persistent"
	c.IdP.GroupsAttribute = "groups"
	root := doc.Content[0]
	var external, prefix, targets, storeNode *yaml.Node
	for _, kv := range p.mapping(root, "", "listen", "external_url", "tls_cert_file", "tls_key_file", "metrics_listen",
		"store", "session_key_file", "session_lifetime", "title", "credentials", "federation_url", "idp",
		"entity_id", "source_identity", "session_tags", "default_duration", "url_prefix", "targets") {
		k, v := kv[0].Value, kv[1]
		switch k {
		case "listen":
			c.Listen = p.str(v, k)
			if _, _, err := net.SplitHostPort(c.Listen); err != nil {
				p.errAt(v, k, "want host:port, e.g. 127.0.0.1:8080 or :8443")
			}
		case "external_url":
			external = v
			c.ExternalURL = p.externalURL(v, k)
		case "tls_cert_file":
			c.TLSCertFile = p.str(v, k)
		case "tls_key_file":
			c.TLSKeyFile = p.str(v, k)
		case "metrics_listen":
			c.MetricsListen = p.str(v, k)
			if _, _, err := net.SplitHostPort(c.MetricsListen); err != nil {
				p.errAt(v, k, "want host:port, e.g. 127.0.0.1:9090")
			}
		case "store":
			storeNode = v
			c.Store = p.str(v, k)
			if c.Store != "memory" && !strings.HasPrefix(c.Store, "redis://") && !strings.HasPrefix(c.Store, "rediss://") {
				p.errAt(v, k, "want memory (one process) or redis://host:port[/db] (replicas sharing a Redis; rediss:// for TLS)")
			}
		case "session_key_file":
			c.SessionKeyFile = p.str(v, k)
		case "session_lifetime":
			c.SessionLifetime = p.dur(v, k)
			if c.SessionLifetime < time.Minute || c.SessionLifetime > 24*time.Hour {
				p.errAt(v, k, "want 1m to 24h")
			}
		case "title":
			c.Title = p.str(v, k)
			if len(c.Title) > 100 {
				p.errAt(v, k, "at most 100 characters")
			}
		case "credentials":
			for _, kv := range p.mapping(v, k, "profile", "region") {
				kk, vv := join(k, kv[0].Value), kv[1]
				switch kv[0].Value {
				case "profile":
					c.Profile = p.str(vv, kk)
				case "region":
					c.Region = p.str(vv, kk)
				}
			}
		case "federation_url":
			c.FederationURL = p.str(v, k)
			if u, err := url.Parse(c.FederationURL); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) || u.Host == "" {
				p.errAt(v, k, "want an https URL (http only on loopback)")
			}
		case "idp":
			p.idp(c, v, k)
		case "entity_id":
			c.EntityID = p.str(v, k)
		case "source_identity":
			c.SourceIdentity = p.boolean(v, k)
		case "session_tags":
			c.SessionTags = p.boolean(v, k)
		case "default_duration":
			c.DefaultDuration = p.dur(v, k)
			if c.DefaultDuration < session.MinDuration || c.DefaultDuration > session.MaxDuration {
				p.errAt(v, k, "want 15m to 12h (what AWS allows for a role session)")
			}
		case "url_prefix":
			prefix = v
			c.URLPrefix = p.str(v, k)
		case "targets":
			targets = v
		}
	}

	if external == nil {
		p.errAt(root, "external_url", "missing: the URL users reach the broker at, e.g. https://aws.example.com")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		p.errAt(root, "tls_cert_file", "set tls_cert_file and tls_key_file together (or neither, behind a TLS-terminating load balancer)")
	}
	if c.ExternalURL != nil && c.TLSCertFile != "" && c.ExternalURL.Scheme != "https" {
		p.errAt(external, "external_url", "serving TLS (tls_cert_file) but external_url is http; make it https://")
	}
	if c.ExternalURL != nil && c.EntityID == "" {
		c.EntityID = c.ExternalURL.String() + "/saml/metadata"
	}
	if c.Store != "memory" && c.SessionKeyFile == "" {
		p.errAt(storeNode, "session_key_file", "required with a shared store: every replica must sign cookies with the same keys (a file of 32+ random characters, mode 0600)")
	}
	if !strings.HasPrefix(c.URLPrefix, "/") || !strings.HasSuffix(c.URLPrefix, "/") ||
		(c.URLPrefix != "/" && !rePath.MatchString(strings.Trim(c.URLPrefix, "/"))) {
		p.errAt(prefix, "url_prefix", "want a path that starts and ends with /, e.g. / or /aws/")
		c.URLPrefix = "/"
	}
	if c.IdP.MetadataURL == "" && c.IdP.MetadataFile == "" {
		p.errAt(root, "idp", "missing: set idp.metadata_url or idp.metadata_file (the IdP's SAML metadata)")
	}
	if targets == nil {
		p.errAt(root, "targets", "missing: list at least one console target")
	} else {
		p.targets(c, targets)
	}
	if len(p.errs) > 0 {
		return nil, p.errs
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *parser) externalURL(n *yaml.Node, key string) *url.URL {
	s := p.str(n, key)
	u, err := url.Parse(strings.TrimSuffix(s, "/"))
	switch {
	case s == "":
		return nil
	case err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		p.errAt(n, key, "want an absolute URL such as https://aws.example.com (no user, query or fragment)")
		return nil
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		p.errAt(n, key, "must be https: session cookies and SAML assertions must not travel in clear (plain http is allowed only on loopback, for a trial)")
		return nil
	case u.Scheme != "https" && u.Scheme != "http":
		p.errAt(n, key, "want an https:// URL")
		return nil
	case u.Path != "":
		p.errAt(n, key, "must not have a path (the broker serves from its root); use url_prefix for where the targets live")
		return nil
	}
	return u
}

func (p *parser) idp(c *Config, n *yaml.Node, key string) {
	for _, kv := range p.mapping(n, key, "metadata_url", "metadata_file", "allow_idp_initiated", "name_id_format",
		"user_attribute", "groups_attribute") {
		k, v := join(key, kv[0].Value), kv[1]
		switch kv[0].Value {
		case "metadata_url":
			c.IdP.MetadataURL = p.str(v, k)
			u, err := url.Parse(c.IdP.MetadataURL)
			if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				p.errAt(v, k, "want an https URL: the metadata holds the certificates every login is checked against (http only on loopback)")
			}
		case "metadata_file":
			c.IdP.MetadataFile = p.str(v, k)
		case "allow_idp_initiated":
			c.IdP.AllowIdPInitiated = p.boolean(v, k)
		case "name_id_format":
			c.IdP.NameIDFormat = p.str(v, k)
			if _, ok := nameIDFormats[c.IdP.NameIDFormat]; !ok {
				p.errAt(v, k, "want persistent, email or unspecified (a transient NameID names nobody: it cannot be a SourceIdentity)")
			}
		case "user_attribute":
			c.IdP.UserAttribute = p.str(v, k)
			if !reAttr.MatchString(c.IdP.UserAttribute) {
				p.errAt(v, k, "want an attribute name")
			}
		case "groups_attribute":
			c.IdP.GroupsAttribute = p.str(v, k)
			if !reAttr.MatchString(c.IdP.GroupsAttribute) {
				p.errAt(v, k, "want an attribute name")
			}
		}
	}
	if c.IdP.MetadataURL != "" && c.IdP.MetadataFile != "" {
		p.errAt(n, key, "set metadata_url or metadata_file, not both")
	}
}

func (p *parser) targets(c *Config, n *yaml.Node) {
	pairs := p.mapping(n, "targets")
	if n.Kind == yaml.MappingNode && len(pairs) == 0 && len(p.errs) == 0 {
		p.errAt(n, "targets", "empty: list at least one console target")
	}
	for _, kv := range pairs {
		path, tn := kv[0].Value, kv[1]
		key := "targets." + path
		t := &Target{Path: path, Line: kv[0].Line}
		if !rePath.MatchString(path) || slices.Contains(strings.Split(path, "/"), "..") || slices.Contains(strings.Split(path, "/"), ".") {
			p.errAt(kv[0], key, "a target's name is its URL path: letters, digits and . _ ~ - in segments separated by /")
		} else if first, _, _ := strings.Cut(path, "/"); c.URLPrefix == "/" && slices.Contains(reserved, first) {
			p.errAt(kv[0], key, "%q is the broker's own path; rename the target or set url_prefix (e.g. /aws/)", first)
		}
		var groupsSeen bool
		var roleNode, regionNode *yaml.Node
		for _, kv := range p.mapping(tn, key, "role", "account_alias", "description", "duration", "groups",
			"destination", "region", "session_tags") {
			k, v := join(key, kv[0].Value), kv[1]
			switch kv[0].Value {
			case "role":
				roleNode = v
				t.RoleARN = p.str(v, k)
				if err := session.ValidateRoleARN(t.RoleARN); err != nil {
					p.errAt(v, k, "%q is not an IAM role ARN: %v", clip(t.RoleARN), err)
				} else if r, err := awsarn.ParseRole(t.RoleARN); err != nil {
					p.errAt(v, k, "%v", err)
				} else {
					t.Role = r
				}
			case "account_alias":
				t.AccountAlias = p.str(v, k)
				if len(t.AccountAlias) > 64 {
					p.errAt(v, k, "at most 64 characters")
				}
			case "description":
				t.Description = p.str(v, k)
				if len(t.Description) > 200 {
					p.errAt(v, k, "at most 200 characters")
				}
			case "duration":
				t.durationNode = v
				t.Duration = p.dur(v, k)
				if t.Duration != 0 && (t.Duration < session.MinDuration || t.Duration > session.MaxDuration) {
					p.errAt(v, k, "%v is out of range: AWS role sessions last 15m to 12h", t.Duration)
					t.Duration = 0
				}
			case "groups":
				groupsSeen = true
				t.Groups = p.strings(v, k)
				for _, g := range t.Groups {
					if !reGroup.MatchString(g) {
						p.errAt(v, k, "group %q: 1-256 characters, no control characters", clip(g))
					}
				}
			case "destination":
				t.Destination = p.str(v, k)
			case "region":
				regionNode = v
				t.Region = p.str(v, k)
				if !regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d$`).MatchString(t.Region) {
					p.errAt(v, k, "%q is not a region name such as eu-west-1", clip(t.Region))
				}
			case "session_tags":
				b := p.boolean(v, k)
				t.SessionTags = &b
			}
		}
		if tn.Kind != yaml.MappingNode {
			continue
		}
		if roleNode == nil {
			p.errAt(tn, key, "role is missing: the ARN of the role to assume, e.g. arn:aws:iam::111111111111:role/Admin")
		}
		if !groupsSeen {
			p.errAt(tn, key, "groups is missing: list the IdP groups allowed to open it, or write groups: [] to let every signed-in user in")
		}
		if t.Region != "" && t.Role.Partition != "" && awsarn.PartitionOf(t.Region).ID != t.Role.Partition {
			p.errAt(regionNode, key+".region", "%s is in partition %s, but the role is in %s", t.Region, awsarn.PartitionOf(t.Region).ID, t.Role.Partition)
		}
		if t.Destination != "" && t.Role.Partition != "" {
			if _, err := console.DestinationURL(t.Destination, t.Role.Partition, t.Region); err != nil {
				p.errAt(tn, key+".destination", "%v", err)
			}
		}
		c.Targets = append(c.Targets, t)
	}
}

var nameIDFormats = map[string]string{
	"persistent":  "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
	"email":       "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
	"unspecified": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// TargetByPath returns the target at path below URLPrefix, or nil.
func (c *Config) TargetByPath(path string) *Target {
	for _, t := range c.Targets {
		if t.Path == path {
			return t
		}
	}
	return nil
}

// LoadConfig reads and parses the configuration file at path. The file
// must be owned by this user or root and not writable by others; when it
// holds a Redis password it must not be readable by others either.
func LoadConfig(path string) (*Config, error) {
	b, err := readTrusted(path, false, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("broker config: %w", err)
	}
	c, err := ParseConfig(b, path)
	if err != nil {
		return nil, err
	}
	if u, err := url.Parse(c.Store); err == nil && u.User != nil {
		if _, err := readTrusted(path, true, 1<<20); err != nil {
			return nil, fmt.Errorf("broker config: the store URL holds a password: %w", err)
		}
	}
	return c, nil
}
