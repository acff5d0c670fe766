package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/rolehop/rolehop/internal/atomicfile"
	"github.com/rolehop/rolehop/internal/settings"
)

// InitOptions are the inputs of `rolehop init`.
type InitOptions struct {
	F        *Factory
	Login    string // the login profile's name
	IdP      string
	URL      string
	Username string
	Region   string
	Force    bool // replace a login profile of that name
}

var idpKinds = []string{settings.IdPForm, settings.IdPADFS, settings.IdPOneLogin, settings.IdPOkta, settings.IdPBrowser}

// NewCmdInit builds `rolehop init`; runF, when not nil, runs instead of the
// command.
func NewCmdInit(f *Factory, runF func(*InitOptions) error) *cobra.Command {
	opts := &InitOptions{F: f}
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Write a login profile into rolehop's settings file, from a few questions",
		Long: "init asks for the IdP's kind and sign-on URL, your username and a default region\n" +
			"(on a terminal; or take them from flags) and writes a login profile into the\n" +
			"settings file ($ROLEHOP_CONFIG, else ~/.config/rolehop/config.yaml), keeping\n" +
			"whatever the file already holds. The password is never written: login asks for\n" +
			"it (or reads it from stdin or the OS keyring).",
		Example: "  rolehop init\n" +
			"  rolehop init --login corp --idp browser --idp-url https://idp.example.com/sso/aws --region eu-west-1",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(opts)
			}
			return runInit(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Login, "login", "", "name of the login profile (default corp)")
	fl.StringVar(&opts.IdP, "idp", "", "IdP kind: "+strings.Join(idpKinds, ", "))
	fl.StringVar(&opts.URL, "idp-url", "", "the IdP's sign-on URL for AWS (IdP-initiated)")
	fl.StringVar(&opts.Username, "username", "", "your IdP username")
	fl.StringVar(&opts.Region, "region", "", "default region of the written profiles")
	fl.BoolVar(&opts.Force, "force", false, "replace a login profile of the same name")
	return cmd
}

func runInit(_ context.Context, opts *InitOptions) error {
	f := opts.F
	path := f.SettingsPath
	if path == "" {
		path = settings.DefaultPath()
	}
	file, err := settings.Load(path)
	if err != nil {
		return settingsError(err)
	}
	ask := newAsker(f.IO)
	if opts.Login == "" {
		if opts.Login, err = ask.value("Name of this login profile", "corp", nil); err != nil {
			return err
		}
	}
	if _, exists := file.Logins[opts.Login]; exists && !opts.Force {
		return usageError(fmt.Errorf("login profile %q already exists in %s: pass --force to replace it, or --login OTHER", opts.Login, path))
	}
	checkKind := func(s string) error {
		if !slices.Contains(idpKinds, strings.ToLower(s)) {
			return fmt.Errorf("%q: want one of %s", s, strings.Join(idpKinds, ", "))
		}
		return nil
	}
	checkURL := func(s string) error {
		u, err := url.Parse(s)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("%q: want the https:// sign-on URL your IdP gives for AWS", s)
		}
		return nil
	}
	steps := []struct {
		dst   *string
		flag  string
		label string
		def   string
		check func(string) error
	}{
		{&opts.IdP, "--idp", "IdP kind (" + strings.Join(idpKinds, ", ") + "; browser works with any IdP)", settings.IdPBrowser, checkKind},
		{&opts.URL, "--idp-url", "IdP sign-on URL for AWS", "", checkURL},
		{&opts.Username, "--username", "Your IdP username (empty: asked at each login)", "", nil},
		{&opts.Region, "--region", "Default AWS region (empty: none)", "", nil},
	}
	for _, s := range steps {
		if *s.dst != "" {
			if s.check != nil {
				if err := s.check(*s.dst); err != nil {
					return usageError(fmt.Errorf("%s %w", s.flag, err))
				}
			}
			continue
		}
		if !ask.interactive() {
			if s.flag == "--idp-url" {
				return usageError(fmt.Errorf("no terminal to ask on: pass %s (and --idp, --username, --region)", s.flag))
			}
			*s.dst = s.def
			continue
		}
		if *s.dst, err = ask.value(s.label, s.def, s.check); err != nil {
			return err
		}
	}
	opts.IdP = strings.ToLower(opts.IdP)
	login := map[string]string{"idp": opts.IdP, "url": opts.URL}
	if opts.Username != "" {
		login["username"] = opts.Username
	}
	if opts.Region != "" {
		login["region"] = opts.Region
	}
	data, err := setLoginYAML(path, opts.Login, login)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return &ExitError{Code: ExitFile, Err: fmt.Errorf("create the settings folder: %w", err)}
	}
	if err := atomicfile.Write(path, data, atomicfile.Options{Perm: 0o600}); err != nil {
		return &ExitError{Code: ExitFile, Err: fmt.Errorf("write %s: %w", path, err)}
	}
	// What was written must read back as valid settings.
	if _, err := settings.Resolve(path, func(string) string { return "" }, settings.Overrides{Login: opts.Login}); err != nil {
		return settingsError(err)
	}
	fmt.Fprintf(f.IO.ErrOut, "rolehop: wrote login profile %s to %s\nnext: rolehop roles --login %s       (what you may assume)\n"+
		"      rolehop populate --login %s    (a profile for every role, one password for all)\n", opts.Login, path, opts.Login, opts.Login)
	return nil
}

// setLoginYAML returns the settings file at path with logins.NAME set to
// login (comments and other keys kept).
func setLoginYAML(path, name string, login map[string]string) ([]byte, error) {
	var doc yaml.Node
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, &ExitError{Code: ExitFile, Err: err}
	}
	if len(bytes.TrimSpace(b)) > 0 {
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return nil, usageError(fmt.Errorf("%s is not YAML (%w); fix it or point ROLEHOP_CONFIG elsewhere", path, err))
		}
	}
	if doc.Kind == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, usageError(fmt.Errorf("%s does not hold a map of settings; fix it or point ROLEHOP_CONFIG elsewhere", path))
	}
	logins := mapValue(root, "logins")
	entry := &yaml.Node{Kind: yaml.MappingNode}
	for _, k := range []string{"idp", "url", "username", "region"} {
		if v, ok := login[k]; ok {
			entry.Content = append(entry.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &yaml.Node{Kind: yaml.ScalarNode, Value: v})
		}
	}
	setMapValue(logins, name, entry)
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return out.Bytes(), enc.Close()
}

// mapValue returns the mapping under key in m, adding an empty one.
func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key && m.Content[i+1].Kind == yaml.MappingNode {
			return m.Content[i+1]
		}
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	setMapValue(m, key, v)
	return v
}

func setMapValue(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
}

// asker asks questions on the terminal (stderr, stdin).
type asker struct {
	ios *IOStreams
	in  *bufio.Reader
}

func newAsker(ios *IOStreams) *asker { return &asker{ios: ios, in: bufio.NewReader(ios.In)} }

func (a *asker) interactive() bool { return a.ios.InTerminal && a.ios.ErrTerminal }

// value asks label until check accepts the answer; "" takes def.
func (a *asker) value(label, def string, check func(string) error) (string, error) {
	if !a.interactive() {
		return def, nil
	}
	for {
		if def != "" {
			fmt.Fprintf(a.ios.ErrOut, "%s [%s]: ", label, def)
		} else {
			fmt.Fprintf(a.ios.ErrOut, "%s: ", label)
		}
		line, err := a.in.ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
			return "", fmt.Errorf("read an answer: %w", err)
		}
		v := strings.TrimSpace(line)
		if v == "" {
			v = def
		}
		if check == nil {
			return v, nil
		}
		if err := check(v); err != nil {
			fmt.Fprintf(a.ios.ErrOut, "  %s\n", err)
			continue
		}
		return v, nil
	}
}
