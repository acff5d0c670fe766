package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/awsfile"
	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/internal/login"
	"github.com/rolehop/rolehop/internal/settings"
	"github.com/rolehop/rolehop/saml"
	"github.com/rolehop/rolehop/saml/idp"
	"github.com/rolehop/rolehop/session"
)

// DefaultProfileTemplate names the profiles login writes when no --profile
// is given: the account's alias (its ID when it has none) and the role name.
const DefaultProfileTemplate = "{{.Alias}}-{{.Role}}"

// samlSession is what login and roles need of a *session.SAML.
type samlSession interface {
	Roles(ctx context.Context) ([]saml.Role, error)
	CredentialsForRole(ctx context.Context, role saml.Role) (aws.Credentials, error)
}

// NewSessionFunc builds the SAML session of a resolved login profile.
type NewSessionFunc func(ctx context.Context, lp settings.LoginProfile, p idp.Prompter, log *slog.Logger) (samlSession, error)

// idpOptions are the flags login and roles share: which IdP, who logs in.
type idpOptions struct {
	Login         string // --login: a login profile of the settings file
	IdPURL        string // --idp-url
	IdP           string // --idp: form, adfs, onelogin, okta or browser
	Username      string // --username
	PasswordStdin bool   // --password-stdin
	Keyring       bool   // --keyring
	CacheSAML     bool   // --cache-saml
	Sort          string // --sort: account or role
}

// overrides are the settings the flags set.
func (o *idpOptions) overrides() settings.Overrides {
	return settings.Overrides{Login: o.Login, IdP: o.IdP, URL: o.IdPURL, Username: o.Username, Keyring: o.Keyring, Sort: o.Sort}
}

// LoginOptions are the inputs of `rolehop login`.
type LoginOptions struct {
	F      *Factory
	Logger *slog.Logger

	// CredentialsFile and ConfigFile are the AWS files written; "" means the
	// SDK's (AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, ~/.aws/...).
	CredentialsFile, ConfigFile string
	// NewSession builds the SAML session from the resolved login profile;
	// nil means login.NewSAML (with the assertion cache for --cache-saml).
	NewSession NewSessionFunc
	// After drives --keep-fresh and --loop; nil means time.After.
	After func(time.Duration) <-chan time.Time
	// Parallel bounds concurrent STS calls for --all; 0 means
	// fanout.DefaultParallel.
	Parallel int

	idpOptions
	Duration        string // --duration, as typed
	Region          string // --region
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
	f.StringVar(&o.IdP, "idp", "", "IdP kind: form, adfs, onelogin, okta or browser (default form; ROLEHOP_IDP)")
	f.StringVar(&o.Username, "username", "", "IdP username (ROLEHOP_USERNAME); asked for on a terminal when unset")
	f.BoolVar(&o.PasswordStdin, "password-stdin", false, "read the IdP password from the first line of stdin")
	f.BoolVar(&o.Keyring, "keyring", false, "keep the IdP password in the OS keyring (opt-in)")
	f.BoolVar(&o.CacheSAML, "cache-saml", false, "keep the SAML assertion on disk (0600) until it expires, for the next run")
	f.StringVar(&o.Sort, "sort", "", "order of roles: account or role (ROLEHOP_SORT)")
}

// NewCmdLogin builds `rolehop login`; runF, when not nil, runs instead of
// the command.
func NewCmdLogin(f *Factory, runF func(*LoginOptions) error) *cobra.Command {
	opts := &LoginOptions{F: f}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Log in through a SAML IdP and write temporary credentials to AWS profiles",
		Long: "login signs in to a SAML IdP (form, adfs, onelogin, okta, or any IdP through\n" +
			"your browser: --idp browser), picks a role from the\n" +
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
			opts.Logger = f.Logger()
			if runF != nil {
				return runF(opts)
			}
			return runLogin(cmd.Context(), opts)
		},
	}
	addIdPFlags(cmd, &opts.idpOptions)
	fl := cmd.Flags()
	// Only login uses these two (roles asks STS for nothing).
	fl.StringVar(&opts.Duration, "duration", "", "session duration, 15m to 12h (e.g. 1h, 3600; default 1h; ROLEHOP_DURATION)")
	fl.StringVar(&opts.Region, "region", "", "region written to the config profile (ROLEHOP_REGION)")
	fl.StringVar(&opts.Account, "account", "", "AWS account ID of the role (ROLEHOP_ACCOUNT)")
	fl.StringVar(&opts.Role, "role", "", "role name (ROLEHOP_ROLE)")
	fl.BoolVar(&opts.All, "all", false, "write credentials for every role in the assertion")
	fl.StringVar(&opts.Profile, "profile", "", "AWS profile to write (ROLEHOP_PROFILE; default from --profile-template)")
	fl.StringVar(&opts.ProfileTemplate, "profile-template", "", "profile name template (default "+DefaultProfileTemplate+")")
	fl.StringVar(&opts.Output, "output", "", "AWS CLI output format written to the config profile (json, text, table, yaml, yaml-stream)")
	fl.BoolVar(&opts.KeepFresh, "keep-fresh", false, "keep running and refresh the profiles before they expire (Ctrl-C to stop)")
	fl.IntVar(&opts.Loop, "loop", 0, "refresh the profiles N more times, every --every")
	fl.DurationVar(&opts.Every, "every", 0, "interval of --loop (e.g. 30m)")
	return cmd
}

// written is one profile login wrote.
type written struct {
	role    saml.Role
	profile string
	creds   aws.Credentials
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
	namer    *profileNamer
	credPath string
	cfgPath  string
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

// resolveLogin resolves the login profile for the IdP flags and the
// environment (settings.Resolve), with the checks that need the flags.
func resolveLogin(f *Factory, o *idpOptions, more func(*settings.Overrides) error) (settings.LoginProfile, error) {
	ov := o.overrides()
	if more != nil {
		if err := more(&ov); err != nil {
			return settings.LoginProfile{}, err
		}
	}
	lp, err := settings.Resolve(f.SettingsPath, f.getenv, ov)
	if err != nil {
		return lp, settingsError(err)
	}
	if o.PasswordStdin && lp.Username == "" {
		return lp, usageError(errors.New("--password-stdin needs a username: pass --username or set it in the login profile"))
	}
	return lp, nil
}

// prepare checks every input before any network call.
func (r *loginRun) prepare() error {
	o := r.opts
	if o.All && o.Profile != "" {
		return usageError(errors.New("--all writes one profile per role: use --profile-template instead of --profile"))
	}
	lp, err := resolveLogin(o.F, &o.idpOptions, func(ov *settings.Overrides) error {
		if o.Duration != "" {
			d, err := duration.Parse(o.Duration)
			if err != nil {
				return usageError(fmt.Errorf("--duration: %w", err))
			}
			ov.Duration = d
		}
		ov.Region, ov.Account, ov.Role, ov.Profile, ov.Output, ov.ProfileTemplate =
			o.Region, o.Account, o.Role, o.Profile, o.Output, o.ProfileTemplate
		return nil
	})
	if err != nil {
		return err
	}
	if o.All {
		// --all writes every role; the profile names come from the template.
		lp.Profile = ""
	}
	r.lp = lp
	if o.KeepFresh && o.Loop > 0 {
		return usageError(errors.New("--keep-fresh and --loop are alternatives: pass one"))
	}
	if o.Loop < 0 || (o.Loop > 0 && o.Every <= 0) || (o.Loop == 0 && o.Every != 0) {
		return usageError(errors.New("--loop N needs --every D (both positive), e.g. --loop 8 --every 1h"))
	}
	r.aliases, err = settings.LoadAccounts(lp.AccountsFile)
	if err != nil {
		return settingsError(err)
	}
	if r.namer, err = newProfileNamer(lp.ProfileTemplate, r.aliases, lp.Name); err != nil {
		return err
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
func openSession(ctx context.Context, f *Factory, lp settings.LoginProfile, o *idpOptions, log *slog.Logger,
	newSession NewSessionFunc,
) (samlSession, *terminalPrompter, error) {
	p, err := newPrompter(f.IO, lp, o.PasswordStdin)
	if err != nil {
		return nil, nil, err
	}
	if newSession == nil {
		newSession = defaultNewSession(f, o.CacheSAML)
	}
	s, err := newSession(ctx, lp, p, log)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return s, p, nil
}

func (r *loginRun) open(ctx context.Context) error {
	s, p, err := openSession(ctx, r.opts.F, r.lp, &r.opts.idpOptions, r.log, r.opts.NewSession)
	if err != nil {
		return err
	}
	r.sess, r.prompter = s, p
	return nil
}

// defaultNewSession builds a session.SAML from the login profile, with the
// on-disk assertion cache when cacheSAML is set. A named login profile logs
// in through login.Shared: every login signs in afresh (an explicit login),
// under the cache's lock, and leaves its assertion and IdP session for the
// credential_process profiles of that login.
func defaultNewSession(f *Factory, cacheSAML bool) NewSessionFunc {
	return func(ctx context.Context, lp settings.LoginProfile, p idp.Prompter, log *slog.Logger) (samlSession, error) {
		var extra []func(*session.SAMLOptions)
		if cacheSAML {
			c, err := settings.NewAssertionCache(lp.Name)
			if err != nil {
				return nil, err
			}
			c.Logger, c.ExpectedUser = log, lp.Username
			extra = append(extra, func(o *session.SAMLOptions) { o.AssertionStore = c })
		}
		if lp.Name == "" {
			return login.NewSAML(lp, p, log, f.getenv, extra...)
		}
		sh, err := login.NewShared(lp, p, log, f.getenv, login.SharedOptions{})
		if err != nil {
			return nil, err
		}
		return sh.SAML(extra...)
	}
}

// loginError maps an error of the IdP login to its exit code and a hint.
func loginError(err error, p *terminalPrompter) error {
	var ee *ExitError
	switch {
	case errors.As(err, &ee):
		return err
	case errors.Is(err, session.ErrIdPAccessDenied):
		if p != nil {
			p.forgetPassword()
		}
		// The IdP client's message already says what to check.
		return &ExitError{Code: ExitIdPRejected, Err: err}
	case errors.Is(err, idp.ErrMFARequired):
		return &ExitError{Code: ExitIdPRejected, Err: err}
	case errors.Is(err, session.ErrNoAssertion):
		return &ExitError{Code: ExitIdPRejected, Err: fmt.Errorf("%w; check the idp url (it must be the idp-initiated sign-on url for urn:amazon:webservices)", err)}
	case errors.Is(err, idp.ErrIdP):
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%w; check the idp url and that the idp is reachable", err)}
	}
	return err
}

// grantedRoles logs in (or reuses a live assertion), remembers a typed
// password in the keyring, and returns the granted roles sorted as asked.
func grantedRoles(ctx context.Context, f *Factory, s samlSession, p *terminalPrompter, sortBy string) ([]saml.Role, error) {
	// The spinner starts once the password is in: prompts need the line.
	p.onPassword = func() { p.status = startStatus(f.IO, "signing in to the identity provider…") }
	roles, err := s.Roles(ctx)
	p.onPassword = nil
	p.status.done()
	if err != nil {
		return nil, loginError(err, p)
	}
	if err := p.rememberPassword(); err != nil {
		fmt.Fprintf(f.IO.ErrOut, "rolehop: %s\n", OneLine(err))
	}
	if len(roles) == 0 {
		return nil, &ExitError{Code: ExitRoleNotFound, Err: errors.New("the idp granted no aws roles to this user; ask its administrator for a role")}
	}
	sortRoles(roles, sortBy)
	return roles, nil
}

func (r *loginRun) roles(ctx context.Context) ([]saml.Role, error) {
	return grantedRoles(ctx, r.opts.F, r.sess, r.prompter, r.lp.Sort)
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

// fetched is the outcome of fetching one target's credentials.
type fetched struct {
	target
	creds aws.Credentials
	err   error
}

// fetchCredentials gets credentials for every target through fanout (at
// most Parallel at once), every outcome in target order: one refused role
// never costs the others.
func (r *loginRun) fetchCredentials(ctx context.Context, targets []target) []fetched {
	var st *status
	if len(targets) > 1 {
		st = startStatus(r.opts.F.IO, fmt.Sprintf("assuming roles: 0 of %d", len(targets)))
	}
	failures := 0
	results := fanout.Map(ctx, targets, func(ctx context.Context, t target) (aws.Credentials, error) {
		return r.sess.CredentialsForRole(ctx, t.role)
	}, fanout.Options{Parallel: r.opts.Parallel, Progress: func(done, total int, o fanout.Outcome) {
		if o.Err != nil {
			failures++
		}
		if failures > 0 {
			st.update("assuming roles: %d of %d (%d failed)", done, total, failures)
		} else {
			st.update("assuming roles: %d of %d", done, total)
		}
	}})
	st.done()
	out := make([]fetched, len(targets))
	for i, res := range results {
		out[i] = fetched{target: targets[i], creds: res.Value, err: res.Err}
	}
	return out
}

// writeProfiles writes every credential in one credentials-file update, then
// region/output in one config-file update.
func (r *loginRun) writeProfiles(ctx context.Context, done []fetched) error {
	credUpdates := make([]awsfile.Update, len(done))
	var cfgUpdates []awsfile.Update
	cfgSet := map[string]string{}
	if r.lp.Region != "" {
		cfgSet[awsfile.KeyRegion] = r.lp.Region
	}
	if r.lp.Output != "" {
		cfgSet[awsfile.KeyOutput] = r.lp.Output
	}
	for i, d := range done {
		credUpdates[i] = awsfile.CredentialsUpdate(d.profile, d.creds)
		if len(cfgSet) > 0 {
			cfgUpdates = append(cfgUpdates, awsfile.Update{Profile: d.profile, Set: cfgSet})
		}
	}
	cf := &awsfile.File{Path: r.credPath, Kind: awsfile.Credentials, Logger: r.log}
	if err := cf.Apply(ctx, credUpdates...); err != nil {
		return fileError(err)
	}
	if len(cfgUpdates) > 0 {
		f := &awsfile.File{Path: r.cfgPath, Kind: awsfile.Config, Logger: r.log}
		if err := f.Apply(ctx, cfgUpdates...); err != nil {
			return fileError(err)
		}
	}
	return nil
}

// fetchAndWrite fetches every target's credentials and writes the ones that
// came, in one credentials-file update. When some roles fail and others do
// not, the others are written, each failure gets one line, a summary line
// follows, and the error is ExitPartial; when every role fails, the first
// failure's error is returned.
func (r *loginRun) fetchAndWrite(ctx context.Context, targets []target) ([]written, error) {
	issued := r.opts.F.now()
	var ok, failed []fetched
	for _, f := range r.fetchCredentials(ctx, targets) {
		if f.err != nil {
			failed = append(failed, f)
		} else {
			ok = append(ok, f)
		}
	}
	if len(ok) == 0 {
		return nil, stsError(fmt.Errorf("%s: %w", failed[0].role.RoleARN, failed[0].err), r.prompter)
	}
	if err := r.writeProfiles(ctx, ok); err != nil {
		return nil, err
	}
	errOut := r.opts.F.IO.ErrOut
	out := make([]written, len(ok))
	for i, d := range ok {
		out[i] = written{role: d.role, profile: d.profile, creds: d.creds, issued: issued}
		exp := "no expiry"
		if d.creds.CanExpire {
			exp = "expires " + d.creds.Expires.UTC().Format("15:04") + " UTC"
		}
		fmt.Fprintf(errOut, "wrote profile %s (%s)\n", d.profile, exp)
		r.log.Debug("wrote profile", "profile", d.profile, "role", d.role.RoleARN, "file", r.credPath)
	}
	if len(failed) == 0 {
		return out, nil
	}
	for _, f := range failed {
		fmt.Fprintf(errOut, "rolehop: %s (profile %s) failed: %s\n", f.role.RoleARN, f.profile, OneLine(stsError(f.err, nil)))
	}
	summary := fmt.Errorf("wrote %d of %d profiles; %d failed (listed above); run again to retry them", len(ok), len(targets), len(failed))
	return out, &ExitError{Code: ExitPartial, Err: summary}
}

// refreshAt is when a written profile is rewritten: the in-memory refresh
// policy (session.DefaultRefresh: half the lifetime, never within 5 minutes
// of expiry), the one the session's own cache follows, so a rewrite always
// gets new credentials.
func refreshAt(w written) time.Time {
	return session.DefaultRefresh.RenewAt(w.issued, w.creds)
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
		now := o.F.now()
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
			fmt.Fprintf(o.F.IO.ErrOut, "rolehop: next refresh at %s UTC (in %s); Ctrl-C stops\n",
				now.Add(wait).UTC().Format("15:04"), shortDuration(wait.Round(time.Minute)))
		}
		r.log.Debug("waiting to refresh", "wait", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-o.after(wait):
		}
		if o.Loop == 0 {
			now = o.F.now()
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
		if ExitCode(err) == ExitPartial {
			fmt.Fprintf(o.F.IO.ErrOut, "rolehop: %s\n", OneLine(err))
			err = nil
		}
		if err != nil {
			if ExitCode(err) == ExitIdPRejected || ExitCode(err) == ExitFile {
				return err
			}
			fmt.Fprintf(o.F.IO.ErrOut, "rolehop: refresh failed: %s; retrying in a minute\n", OneLine(err))
			select {
			case <-ctx.Done():
				return nil
			case <-o.after(time.Minute):
			}
			continue
		}
		minWait = 0
		byProfile := make(map[string]written, len(fresh))
		for _, w := range fresh {
			byProfile[w.profile] = w
		}
		for _, i := range due {
			w, ok := byProfile[ws[i].profile]
			if !ok {
				minWait = time.Minute // failed: retried after a minute
				continue
			}
			if !w.creds.Expires.After(ws[i].creds.Expires) {
				// The same credentials again (still cached): do not spin.
				minWait = time.Minute
			}
			ws[i] = w
		}
		rounds++
	}
}
