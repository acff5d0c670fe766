package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"text/template"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// DefaultProfileTemplate names the profiles login writes when no --profile
// is given: the account's alias (its ID when it has none) and the role name.
const DefaultProfileTemplate = "{{.Alias}}-{{.Role}}"

// DefaultParallel bounds the STS calls login --all makes at once.
const DefaultParallel = 16

// samlSession is what login and roles need of a *session.SAML.
type samlSession interface {
	Roles(ctx context.Context) ([]saml.Role, error)
	CredentialsForRole(ctx context.Context, role saml.Role) (aws.Credentials, error)
}

// idpOptions are the flags login and roles share: which IdP, who logs in.
type idpOptions struct {
	Login         string // --login: a login profile of the settings file
	IdPURL        string // --idp-url
	IdP           string // --idp: form, adfs or onelogin
	Username      string // --username
	PasswordStdin bool   // --password-stdin
	Keyring       bool   // --keyring
	CacheSAML     bool   // --cache-saml
	Sort          string // --sort: account or role
	Duration      string // --duration, as typed
	Region        string // --region
}

// LoginOptions are the inputs of `rolehop login`.
type LoginOptions struct {
	IO     *IOStreams
	Logger *slog.Logger

	// SettingsPath is the settings file; "" means settings.DefaultPath().
	SettingsPath string
	// Getenv reads the environment (ROLEHOP_*); nil means os.Getenv.
	Getenv func(string) string
	// CredentialsFile and ConfigFile are the AWS files written; "" means the
	// SDK's (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, ~/.aws/...).
	CredentialsFile, ConfigFile string
	// NewSession builds the SAML session from the merged login profile;
	// nil means settings.NewSAMLProvider.
	NewSession func(ctx context.Context, lp settings.LoginProfile, p idp.Prompter, log *slog.Logger) (samlSession, error)
	// Now and After drive --keep-fresh and --loop; nil means the wall clock.
	Now   func() time.Time
	After func(time.Duration) <-chan time.Time
	// Parallel bounds concurrent STS calls for --all; 0 means DefaultParallel.
	Parallel int

	idpOptions
	Account         string
	Role            string
	All             bool
	Profile         string
	ProfileTemplate string
	Output          string
	KeepFresh       bool
	Loop            int
	Every           time.Duration
}

func addIdPFlags(cmd *cobra.Command, o *idpOptions) {
	f := cmd.Flags()
	f.StringVar(&o.Login, "login", "", "login profile of the settings file (ROLEHOP_LOGIN)")
	f.StringVar(&o.IdPURL, "idp-url", "", "IdP-initiated sign-on URL for AWS (ROLEHOP_IDP_URL)")
	f.StringVar(&o.IdP, "idp", "", "IdP kind: form, adfs or onelogin (default form; ROLEHOP_IDP)")
	f.StringVar(&o.Username, "username", "", "IdP username (ROLEHOP_USERNAME); asked for on a terminal when unset")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the IdP password from the first line of stdin")
	f.BoolVar(&o.Keyring, "keyring", false, "keep the IdP password in the OS keyring (opt-in)")
	f.BoolVar(&o.CacheSAML, "cache-saml", false, "keep the SAML assertion on disk (0600) until it expires, for the next run")
	f.StringVar(&o.Sort, "sort", "", "order of roles: account or role (ROLEHOP_SORT)")
}

func newLoginCmd(g *globals) *cobra.Command {
	opts := &LoginOptions{IO: g.io}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in through a SAML IdP and write temporary credentials to AWS profiles",
		Long: "login signs in to a SAML IdP (form, adfs or onelogin), picks a role from the\n" +
			"assertion and writes its temporary credentials to a profile of the AWS\n" +
			"credentials file (atomically, under a lock; every other profile and comment kept),\n" +
			"and --region/--output to the matching config profile.\n\n" +
			"The role: --account and --role; an account alone picks its only role; without\n" +
			"them a picker on a terminal (type to filter). --all writes every role, one\n" +
			"profile each, named by --profile-template (default " + DefaultProfileTemplate + ";\n" +
			"fields .Alias .Account .Role .Login). Aliases come from accounts.yaml.\n\n" +
			"The password is read from a hidden prompt, from stdin (--password-stdin) or from\n" +
			"the OS keyring (--keyring); never from arguments or the environment.\n\n" +
			"Settings: flags > ROLEHOP_* environment > the login profile (--login) > defaults\n" +
			"of the settings file ($ROLEHOP_CONFIG, else ~/.config/rolehop/config.yaml).\n\n" +
			"Exit codes: 2 bad input, 3 the IdP rejected the login, 4 role not granted,\n" +
			"5 STS failed, 6 an AWS file could not be read or written.",
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Logger = g.logger()
			return runLogin(cmd.Context(), opts)
		},
	}
	addIdPFlags(cmd, &opts.idpOptions)
	f := cmd.Flags()
	// Only login uses these two (roles asks STS for nothing).
	f.StringVar(&opts.Duration, "duration", "", "session duration, 15m to 12h (e.g. 1h, 3600; default 1h; ROLEHOP_DURATION)")
	f.StringVar(&opts.Region, "region", "", "region written to the config profile (ROLEHOP_REGION)")
	f.StringVar(&opts.Account, "account", "", "AWS account ID of the role (ROLEHOP_ACCOUNT)")
	f.StringVar(&opts.Role, "role", "", "role name (ROLEHOP_ROLE)")
	f.BoolVar(&opts.All, "all", false, "write credentials for every role in the assertion")
	f.StringVar(&opts.Profile, "profile", "", "AWS profile to write (ROLEHOP_PROFILE; default from --profile-template)")
	f.StringVar(&opts.ProfileTemplate, "profile-template", "", "profile name template (default "+DefaultProfileTemplate+")")
	f.StringVar(&opts.Output, "output", "", "AWS CLI output format written to the config profile (json, text, table, yaml, yaml-stream)")
	f.BoolVar(&opts.KeepFresh, "keep-fresh", false, "keep running and refresh the profiles before they expire (Ctrl-C to stop)")
	f.IntVar(&opts.Loop, "loop", 0, "refresh the profiles N more times, every --every")
	f.DurationVar(&opts.Every, "every", 0, "interval of --loop (e.g. 30m)")
	return cmd
}

// written is one profile login wrote.
type written struct {
	role    saml.Role
	profile string
	expires time.Time
	issued  time.Time
}

// loginRun is the state of one login command.
type loginRun struct {
	opts     *LoginOptions
	log      *slog.Logger
	lp       settings.LoginProfile
	sess     samlSession
	prompter *terminalPrompter
	aliases  map[string]string
	tmpl     *template.Template
	credPath string
	cfgPath  string
}

func (o *LoginOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *LoginOptions) after(d time.Duration) <-chan time.Time {
	if o.After != nil {
		return o.After(d)
	}
	return time.After(d)
}

func runLogin(ctx context.Context, opts *LoginOptions) error {
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &loginRun{opts: opts, log: log}
	if err := r.prepare(); err != nil {
		return err
	}
	if err := r.open(ctx); err != nil {
		return err
	}
	roles, err := r.roles(ctx)
	if err != nil {
		return err
	}
	chosen, err := r.choose(ctx, roles)
	if err != nil {
		return err
	}
	targets, err := r.profiles(chosen)
	if err != nil {
		return err
	}
	out, err := r.fetchAndWrite(ctx, targets)
	if err != nil {
		return err
	}
	if opts.KeepFresh || opts.Loop > 0 {
		return r.keepFresh(ctx, out)
	}
	return nil
}

// resolveLogin merges defaults, login profile, environment and flags, and
// checks everything that needs no network.
func resolveLogin(o *idpOptions, settingsPath string, getenv func(string) string) (settings.LoginProfile, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	file, err := settings.Load(settingsPath)
	if err != nil {
		if errors.Is(err, settings.ErrInvalid) {
			return settings.LoginProfile{}, usageError(err)
		}
		return settings.LoginProfile{}, &ExitError{Code: ExitFile, Err: err}
	}
	name := o.Login
	if name == "" {
		name = getenv(settings.EnvLogin)
	}
	lp, err := file.Login(name)
	if err != nil {
		return lp, usageError(err)
	}
	if err := lp.ApplyEnv(getenv); err != nil {
		return lp, usageError(err)
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&lp.URL, o.IdPURL)
	set(&lp.IdP, strings.ToLower(o.IdP))
	set(&lp.Username, o.Username)
	set(&lp.Sort, o.Sort)
	set(&lp.Region, o.Region)
	if o.Keyring {
		lp.Keyring = true
	}
	if o.Duration != "" {
		d, err := settings.ParseDuration(o.Duration)
		if err != nil {
			return lp, usageError(fmt.Errorf("--duration: %w", err))
		}
		lp.Duration = d
	}
	if lp.Duration == 0 {
		lp.Duration = time.Hour
	}
	if lp.Duration < session.MinDuration || lp.Duration > session.MaxDuration {
		return lp, usageError(fmt.Errorf("duration %s out of range: use 15m to 12h (900 to 43200 seconds)", lp.Duration))
	}
	switch lp.IdP {
	case "":
		lp.IdP = settings.IdPForm
	case settings.IdPForm, settings.IdPADFS, settings.IdPOneLogin:
	default:
		return lp, usageError(fmt.Errorf("--idp %q: want form, adfs or onelogin", lp.IdP))
	}
	switch lp.Sort {
	case "":
		lp.Sort = settings.SortAccount
	case settings.SortAccount, settings.SortRole:
	default:
		return lp, usageError(fmt.Errorf("--sort %q: want account or role", lp.Sort))
	}
	if lp.URL == "" && lp.IdP != settings.IdPOneLogin {
		return lp, usageError(errors.New("no idp url: pass --idp-url, set ROLEHOP_IDP_URL, or name a login profile with --login"))
	}
	if o.PasswordStdin && lp.Username == "" {
		return lp, usageError(errors.New("--password-stdin needs a username: pass --username or set it in the login profile"))
	}
	return lp, nil
}

// prepare checks every input before any network call.
func (r *loginRun) prepare() error {
	o := r.opts
	lp, err := resolveLogin(&o.idpOptions, o.SettingsPath, o.Getenv)
	if err != nil {
		return err
	}
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&lp.Account, o.Account)
	set(&lp.Role, o.Role)
	set(&lp.Profile, o.Profile)
	set(&lp.Output, o.Output)
	set(&lp.ProfileTemplate, o.ProfileTemplate)
	if o.All {
		// --all writes every role; the profile names come from the template.
		if o.Profile != "" {
			return usageError(errors.New("--all writes one profile per role: use --profile-template instead of --profile"))
		}
		lp.Profile = ""
	}
	r.lp = lp
	if lp.Account != "" {
		if err := session.ValidateAccountID(lp.Account); err != nil {
			return usageError(fmt.Errorf("--account %q: want a 12-digit AWS account ID", lp.Account))
		}
	}
	switch lp.Output {
	case "", "json", "text", "table", "yaml", "yaml-stream":
	default:
		return usageError(fmt.Errorf("--output %q: want json, text, table, yaml or yaml-stream", lp.Output))
	}
	if o.KeepFresh && o.Loop > 0 {
		return usageError(errors.New("--keep-fresh and --loop are alternatives: pass one"))
	}
	if o.Loop < 0 || (o.Loop > 0 && o.Every <= 0) || (o.Loop == 0 && o.Every != 0) {
		return usageError(errors.New("--loop N needs --every D (both positive), e.g. --loop 8 --every 1h"))
	}
	if err := r.prepareTemplate(lp.ProfileTemplate); err != nil {
		return err
	}
	r.aliases, err = settings.LoadAccounts(lp.AccountsFile)
	if err != nil {
		if errors.Is(err, settings.ErrInvalid) {
			return usageError(err)
		}
		return &ExitError{Code: ExitFile, Err: err}
	}
	// The AWS files must be readable and well formed before we log in: a
	// malformed file is never rewritten.
	if r.credPath, err = awsPath(o.CredentialsFile, awsfile.Credentials); err != nil {
		return err
	}
	if r.cfgPath, err = awsPath(o.ConfigFile, awsfile.Config); err != nil {
		return err
	}
	if _, err := awsfile.Profiles(r.credPath, awsfile.Credentials); err != nil {
		return fileError(err)
	}
	if lp.Region != "" || lp.Output != "" {
		if _, err := awsfile.Profiles(r.cfgPath, awsfile.Config); err != nil {
			return fileError(err)
		}
	}
	return nil
}

func awsPath(p string, kind awsfile.Kind) (string, error) {
	if p != "" {
		return p, nil
	}
	p, err := awsfile.DefaultPath(kind)
	if err != nil {
		return "", &ExitError{Code: ExitFile, Err: fmt.Errorf("find the aws %s file: %w", kind, err)}
	}
	return p, nil
}

// fileError marks an AWS file error (exit code 6) with a hint.
func fileError(err error) error {
	switch {
	case errors.Is(err, awsfile.ErrMalformed):
		err = fmt.Errorf("%w; fix that line (the file was not changed)", err)
	case errors.Is(err, awsfile.ErrLocked):
		err = fmt.Errorf("%w; wait for the other rolehop or remove a stale lock file", err)
	case errors.Is(err, fs.ErrPermission):
		err = fmt.Errorf("%w; make the folder writable or point AWS_SHARED_CREDENTIALS_FILE/AWS_CONFIG_FILE elsewhere", err)
	}
	return &ExitError{Code: ExitFile, Err: err}
}

// openSession builds the prompter and the SAML session.
func openSession(ctx context.Context, ios *IOStreams, lp settings.LoginProfile, o *idpOptions, log *slog.Logger,
	newSession func(context.Context, settings.LoginProfile, idp.Prompter, *slog.Logger) (samlSession, error),
) (samlSession, *terminalPrompter, error) {
	p := &terminalPrompter{io: ios, username: lp.Username, passwordStdin: o.PasswordStdin}
	if lp.Keyring {
		ks, err := openKeyring(lp.Name)
		if err != nil {
			return nil, nil, err
		}
		p.keyring = ks
	}
	if newSession == nil {
		newSession = defaultNewSession(o.CacheSAML)
	}
	s, err := newSession(ctx, lp, p, log)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return s, p, nil
}

func (r *loginRun) open(ctx context.Context) error {
	s, p, err := openSession(ctx, r.opts.IO, r.lp, &r.opts.idpOptions, r.log, r.opts.NewSession)
	if err != nil {
		return err
	}
	r.sess, r.prompter = s, p
	return nil
}

// loginError maps an error of the IdP login to its exit code and a hint.
func loginError(err error, p *terminalPrompter) error {
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, idp.ErrAccessDenied) || errors.Is(err, session.ErrIdPAccessDenied):
		if p != nil {
			p.forgetPassword()
		}
		// The IdP client's message already says what to check.
		return &ExitError{Code: ExitIdPRejected, Err: err}
	case errors.Is(err, idp.ErrMFARequired):
		return &ExitError{Code: ExitIdPRejected, Err: err}
	case errors.Is(err, idp.ErrNoAssertion) || errors.Is(err, session.ErrNoAssertion):
		return &ExitError{Code: ExitIdPRejected, Err: fmt.Errorf("%w; check the idp url (it must be the idp-initiated sign-on url for urn:amazon:webservices)", err)}
	case errors.Is(err, idp.ErrIdP):
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%w; check the idp url and that the idp is reachable", err)}
	}
	return err
}

// roles logs in (or reuses a live assertion) and returns the granted roles,
// sorted as asked.
func (r *loginRun) roles(ctx context.Context) ([]saml.Role, error) {
	roles, err := r.sess.Roles(ctx)
	if err != nil {
		return nil, loginError(err, r.prompter)
	}
	if err := r.prompter.rememberPassword(); err != nil {
		fmt.Fprintf(r.opts.IO.ErrOut, "rolehop: %s\n", OneLine(err))
	}
	if len(roles) == 0 {
		return nil, &ExitError{Code: ExitRoleNotFound, Err: errors.New("the idp granted no aws roles to this user; ask its administrator for a role")}
	}
	sortRoles(roles, r.lp.Sort)
	return roles, nil
}

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
	var matched []saml.Role
	for _, ro := range roles {
		if (acct == "" || ro.AccountID() == acct) && (name == "" || strings.EqualFold(ro.Name(), name) ||
			strings.EqualFold(ro.RoleARN[strings.Index(ro.RoleARN, ":role/")+len(":role/"):], name)) {
			matched = append(matched, ro)
		}
	}
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
	if !r.opts.IO.InTerminal || !r.opts.IO.ErrTerminal {
		return nil, usageError(fmt.Errorf("%d roles granted (%s): pass --account and --role, or --all", len(roles), granted))
	}
	ro, err := pickRole(ctx, r.opts.IO, roles, r.aliases)
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
	return &ExitError{Code: ExitRoleNotFound, Err: fmt.Errorf("%s is not granted to this user; granted: %s (see rolehop roles)", what, granted)}
}

// prepareTemplate parses the profile name template ("" is the default)
// and tries it on a sample role.
func (r *loginRun) prepareTemplate(text string) error {
	if text == "" {
		text = DefaultProfileTemplate
	}
	t, err := template.New("profile").Option("missingkey=error").Parse(text)
	if err != nil {
		return usageError(fmt.Errorf("--profile-template: %w", err))
	}
	r.tmpl = t
	_, err = r.profileName(saml.Role{RoleARN: "arn:aws:iam::111111111111:role/R"})
	return err
}

// profileData are the fields of --profile-template.
type profileData struct {
	Alias, Account, Role, RoleARN, Login string
}

func (r *loginRun) profileName(ro saml.Role) (string, error) {
	alias := r.aliases[ro.AccountID()]
	if alias == "" {
		alias = ro.AccountID()
	}
	var b strings.Builder
	err := r.tmpl.Execute(&b, profileData{Alias: alias, Account: ro.AccountID(), Role: ro.Name(), RoleARN: ro.RoleARN, Login: r.lp.Name})
	if err != nil {
		return "", usageError(fmt.Errorf("--profile-template: %w", err))
	}
	name := strings.TrimSpace(b.String())
	if name == "" || strings.ContainsAny(name, "[]\r\n") {
		return "", usageError(fmt.Errorf("--profile-template gives the profile name %q: it must be non-empty without brackets or line breaks", name))
	}
	return name, nil
}

// target is a role and the profile it is written to.
type target struct {
	role    saml.Role
	profile string
}

func (r *loginRun) profiles(roles []saml.Role) ([]target, error) {
	out := make([]target, 0, len(roles))
	seen := map[string]saml.Role{}
	for _, ro := range roles {
		name := r.lp.Profile
		if name == "" || len(roles) > 1 {
			var err error
			if name, err = r.profileName(ro); err != nil {
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

// fetchCredentials gets credentials for every target, at most parallel at
// once, and returns them in target order; any failure fails the whole.
func fetchCredentials(ctx context.Context, s samlSession, targets []target, parallel int) ([]aws.Credentials, error) {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	creds := make([]aws.Credentials, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for i, t := range targets {
		g.Go(func() error {
			c, err := s.CredentialsForRole(gctx, t.role)
			if err != nil {
				return fmt.Errorf("%s: %w", t.role.RoleARN, err)
			}
			creds[i] = c
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return creds, nil
}

// stsError maps a failed credentials fetch to its exit code.
func stsError(err error, p *terminalPrompter) error {
	if e := loginError(err, p); e != err {
		return e
	}
	if errors.Is(err, session.ErrRoleNotGranted) {
		return &ExitError{Code: ExitRoleNotFound, Err: err}
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return &ExitError{Code: ExitAWS, Err: fmt.Errorf("%w; check the sts endpoint and the role's trust policy", err)}
}

// writeProfiles writes every credential in one credentials-file update, then
// region/output in one config-file update.
func writeProfiles(ctx context.Context, credPath, cfgPath string, lp settings.LoginProfile, targets []target, creds []aws.Credentials, log *slog.Logger) error {
	credUpdates := make([]awsfile.Update, len(targets))
	var cfgUpdates []awsfile.Update
	cfgSet := map[string]string{}
	if lp.Region != "" {
		cfgSet[awsfile.KeyRegion] = lp.Region
	}
	if lp.Output != "" {
		cfgSet[awsfile.KeyOutput] = lp.Output
	}
	for i, t := range targets {
		set := awsfile.CredentialValues(creds[i])
		var unset []string
		for _, k := range []string{awsfile.KeySessionToken, awsfile.KeyExpiration} {
			if _, ok := set[k]; !ok {
				unset = append(unset, k)
			}
		}
		credUpdates[i] = awsfile.Update{Profile: t.profile, Set: set, Unset: unset}
		if len(cfgSet) > 0 {
			cfgUpdates = append(cfgUpdates, awsfile.Update{Profile: t.profile, Set: cfgSet})
		}
	}
	cf := &awsfile.File{Path: credPath, Kind: awsfile.Credentials, Logger: log}
	if err := cf.Apply(ctx, credUpdates...); err != nil {
		return fileError(err)
	}
	if len(cfgUpdates) > 0 {
		f := &awsfile.File{Path: cfgPath, Kind: awsfile.Config, Logger: log}
		if err := f.Apply(ctx, cfgUpdates...); err != nil {
			return fileError(err)
		}
	}
	return nil
}

func (r *loginRun) fetchAndWrite(ctx context.Context, targets []target) ([]written, error) {
	issued := r.opts.now()
	creds, err := fetchCredentials(ctx, r.sess, targets, r.opts.Parallel)
	if err != nil {
		return nil, stsError(err, r.prompter)
	}
	if err := writeProfiles(ctx, r.credPath, r.cfgPath, r.lp, targets, creds, r.log); err != nil {
		return nil, err
	}
	out := make([]written, len(targets))
	for i, t := range targets {
		out[i] = written{role: t.role, profile: t.profile, expires: creds[i].Expires, issued: issued}
		exp := "no expiry"
		if creds[i].CanExpire {
			exp = "expires " + creds[i].Expires.UTC().Format("15:04") + " UTC"
		}
		fmt.Fprintf(r.opts.IO.ErrOut, "wrote profile %s (%s)\n", t.profile, exp)
		r.log.Debug("wrote profile", "profile", t.profile, "role", t.role.RoleARN, "file", r.credPath)
	}
	return out, nil
}

// refreshAt is when a profile is refreshed: a fifth of its lifetime (at least
// a minute, at most 5 minutes) before it expires.
func refreshAt(w written) time.Time {
	life := w.expires.Sub(w.issued)
	margin := min(max(life/5, time.Minute), session.MinRemaining)
	if margin >= life {
		margin = life / 2
	}
	return w.expires.Add(-margin)
}

// keepFresh refreshes the written profiles: before they expire
// (--keep-fresh) or every --every, --loop times. It returns nil when ctx
// ends (Ctrl-C).
func (r *loginRun) keepFresh(ctx context.Context, ws []written) error {
	o := r.opts
	rounds := 0
	var minWait time.Duration
	for {
		if o.Loop > 0 && rounds >= o.Loop {
			return nil
		}
		var wait time.Duration
		var due []int
		now := o.now()
		if o.Loop > 0 {
			wait = o.Every
			for i := range ws {
				due = append(due, i)
			}
		} else {
			next := refreshAt(ws[0])
			for _, w := range ws[1:] {
				if t := refreshAt(w); t.Before(next) {
					next = t
				}
			}
			wait = max(next.Sub(now), minWait)
		}
		r.log.Debug("waiting to refresh", "wait", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-o.after(wait):
		}
		if o.Loop == 0 {
			now = o.now()
			for i, w := range ws {
				if !now.Before(refreshAt(w)) {
					due = append(due, i)
				}
			}
		}
		targets := make([]target, len(due))
		for j, i := range due {
			targets[j] = target{role: ws[i].role, profile: ws[i].profile}
		}
		fresh, err := r.fetchAndWrite(ctx, targets)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if ExitCode(err) == ExitIdPRejected || ExitCode(err) == ExitFile {
				return err
			}
			fmt.Fprintf(o.IO.ErrOut, "rolehop: refresh failed: %s; retrying in a minute\n", OneLine(err))
			select {
			case <-ctx.Done():
				return nil
			case <-o.after(time.Minute):
			}
			continue
		}
		minWait = 0
		for j, i := range due {
			if !fresh[j].expires.After(ws[i].expires) {
				// The same credentials again (still cached): do not spin.
				minWait = time.Minute
			}
			ws[i] = fresh[j]
		}
		rounds++
	}
}

// defaultNewSession builds a session.SAML from the login profile, with the
// on-disk assertion cache when cacheSAML is set.
func defaultNewSession(cacheSAML bool) func(context.Context, settings.LoginProfile, idp.Prompter, *slog.Logger) (samlSession, error) {
	return func(ctx context.Context, lp settings.LoginProfile, p idp.Prompter, log *slog.Logger) (samlSession, error) {
		var extra []session.SAMLOption
		if cacheSAML {
			c, err := settings.NewAssertionCache(lp.Name)
			if err != nil {
				return nil, err
			}
			c.Logger = log
			extra = append(extra, c.Option())
		}
		return settings.NewSAMLProvider(ctx, lp, p, log, extra...)
	}
}
