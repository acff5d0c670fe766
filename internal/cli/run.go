package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/accounts"
	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/duration"
	"github.com/rolehop/rolehop/internal/fleet"
)

// Exit codes of `rolehop run` beyond the common ones.
const (
	// ExitRunFailures: some targets failed, within the failure tolerance
	// (every target ran): ExitPartial, as login --all's partial success.
	ExitRunFailures = ExitPartial
	// ExitRunHalted: the failure tolerance was exceeded; targets were left
	// unstarted.
	ExitRunHalted = 8
	// ExitRunInterrupted: Ctrl-C (SIGINT) or SIGTERM stopped the run.
	ExitRunInterrupted = 130
)

// Credential delivery modes of --credentials.
const (
	CredsEndpoint = "endpoint" // a local ECS-format endpoint per target, refreshed
	CredsEnv      = "env"      // AWS_ACCESS_KEY_ID... in the environment
)

// DefaultRate is --rate's default: STS calls per second across the run.
const DefaultRate = 50

// RunOptions are the inputs of `rolehop run`.
type RunOptions struct {
	F      *Factory
	Logger *slog.Logger

	// Selection.
	Accounts     []string // --accounts: IDs or aliases
	AccountsFile string   // --accounts-file
	Org          bool     // --org
	OUs          []string // --ou
	ExcludeOUs   []string // --exclude-ou
	OrgProfile   string   // --org-profile
	Granted      bool     // --granted
	Where        []string // --where TAG=VALUE
	Exclude      []string // --exclude ID|alias|TAG=VALUE
	Regions      []string // --regions
	Shard        string   // --shard I/N
	Plan         bool     // --plan

	// Reaching the accounts.
	Via           string // --via PROFILE or login:NAME
	Role          string // --role
	ExternalID    string // --external-id (or ROLEHOP_EXTERNAL_ID)
	Duration      string // --duration
	Credentials   string // --credentials endpoint|env
	PasswordStdin bool   // --password-stdin (login:NAME)

	// Limits and failures.
	Concurrency int           // --concurrency
	Rate        float64       // --rate (STS calls per second; 0 = none)
	Timeout     time.Duration // --timeout
	Retries     int           // --retries
	Tolerate    string        // --tolerate N or P%
	Halt        string        // --halt soon|now

	// Journal.
	Journal     string // --journal
	Resume      bool   // --resume
	RetryFailed bool   // --retry-failed

	// Output.
	OutputDir  string // --output-dir
	JSON       bool   // --json
	NoProgress bool   // --no-progress

	Command []string

	// Grace is the time between SIGTERM and SIGKILL of a command; 0 means
	// fleet.DefaultGrace.
	Grace time.Duration
	// Backoff overrides the retry backoff (tests); nil means
	// fanout.DefaultBackoff.
	Backoff func(int) time.Duration
}

// NewCmdRun builds `rolehop run`; runF, when not nil, runs instead of the
// command.
func NewCmdRun(f *Factory, runF func(*RunOptions) error) *cobra.Command {
	opts := &RunOptions{F: f}
	cmd := &cobra.Command{
		Use:   "run [SELECTION] [--via PROFILE|login:NAME] --role NAME [flags] -- COMMAND [ARGS...]",
		Short: "Run a command in many accounts at once (the awsrun job)",
		Long: "run runs COMMAND once per target account (or account and region, with --regions),\n" +
			"in parallel, each with its own credentials: AssumeRole of --role in every account\n" +
			"from --via's credentials (any profile: keys, SSO, a rolehop source; default\n" +
			"AWS_PROFILE, else the SDK's default chain), or AssumeRoleWithSAML of --role after\n" +
			"one IdP login with --via login:NAME. One AssumeRole per account serves its regions.\n\n" +
			"Selection: --accounts (IDs or aliases), --accounts-file (lines, .csv, .yaml with\n" +
			"aliases and tags), --org / --ou (AWS Organizations, with child units; --exclude-ou),\n" +
			"--granted (every account the login's assertion grants --role in); then --where\n" +
			"TAG=VALUE and --exclude. --plan prints the targets and exits; --shard I/N runs one\n" +
			"of N disjoint shards (for Kubernetes indexed Jobs, AWS Batch arrays, CI matrices).\n\n" +
			"Each command sees ROLEHOP_ACCOUNT, ROLEHOP_ACCOUNT_ALIAS, ROLEHOP_REGION and AWS_REGION,\n" +
			"and its credentials: by default from a local ECS-format endpoint that serves fresh\n" +
			"ones for as long as it runs (AWS_CONTAINER_CREDENTIALS_FULL_URI; every SDK and the\n" +
			"AWS CLI use it), or with --credentials env as AWS_ACCESS_KEY_ID... (they last as\n" +
			"long as the role session, at most 1h for a chained role; fresh at each attempt).\n\n" +
			"Output lines are prefixed by the target (never torn), or go to one folder per\n" +
			"target (--output-dir), or are JSON lines (--json). A progress bar shows on a\n" +
			"terminal (stderr). Every outcome is appended to a journal as it happens; --resume\n" +
			"skips what succeeded, --retry-failed runs only the failures.\n\n" +
			"Exit codes: 0 every target succeeded; 7 some failed within --tolerate; 8 halted:\n" +
			"the tolerance was exceeded; 130 interrupted; 2 bad input; 5 the base or\n" +
			"Organizations could not be reached.",
		Example: "  rolehop run --accounts-file accounts.yaml --where env=prod --role Audit -- aws s3 ls\n" +
			"  rolehop run --org --exclude-ou ou-ab12-sandbox0 --role OrganizationAccountAccessRole \\\n" +
			"      --regions eu-west-1,us-east-1 --tolerate 5% -- ./check.sh\n" +
			"  rolehop run --via login:corp --granted --role ReadOnly --plan\n" +
			"  rolehop run --accounts-file all.txt --role Deploy --shard $JOB_COMPLETION_INDEX/8 -- ./deploy.sh\n" +
			"  rolehop run merge shard-*.jsonl",
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Logger = f.Logger()
			if dash := cmd.ArgsLenAtDash(); dash > 0 {
				return usageError(fmt.Errorf("unexpected argument %q before --; the command goes after --", args[0]))
			}
			opts.Command = args
			if opts.ExternalID == "" {
				opts.ExternalID = f.getenv("ROLEHOP_EXTERNAL_ID")
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&opts.Accounts, "accounts", nil, "account IDs or aliases, comma-separated")
	fl.StringVar(&opts.AccountsFile, "accounts-file", "", "accounts file: lines (ID [ALIAS]), .csv (id, alias, tag columns) or .yaml (id, alias, tags); - for stdin")
	fl.BoolVar(&opts.Org, "org", false, "every active account of the AWS Organization (--via's or --org-profile's credentials)")
	fl.StringSliceVar(&opts.OUs, "ou", nil, "accounts under these organizational units (ou-...) and their children")
	fl.StringSliceVar(&opts.ExcludeOUs, "exclude-ou", nil, "leave out accounts under these units and their children")
	fl.StringVar(&opts.OrgProfile, "org-profile", "", "profile for the Organizations calls (default --via)")
	fl.BoolVar(&opts.Granted, "granted", false, "every account where the --via login:NAME assertion grants --role")
	fl.StringArrayVar(&opts.Where, "where", nil, "keep accounts whose tag matches TAG=VALUE (glob; repeatable, all must match)")
	fl.StringArrayVar(&opts.Exclude, "exclude", nil, "drop accounts by ID, alias or TAG=VALUE (repeatable)")
	fl.StringSliceVar(&opts.Regions, "regions", nil, "run once per region in every account (comma-separated)")
	fl.StringVar(&opts.Shard, "shard", "", "run shard I of N (0-based): I/N")
	fl.BoolVar(&opts.Plan, "plan", false, "print the targets and exit")
	fl.StringVar(&opts.Via, "via", "", "base credentials: a profile, or login:NAME (SAML); default AWS_PROFILE, else the SDK's chain")
	fl.StringVar(&opts.Role, "role", "", "role name (optionally PATH/NAME) to assume in every account")
	fl.StringVar(&opts.ExternalID, "external-id", "", "ExternalId for AssumeRole (or ROLEHOP_EXTERNAL_ID)")
	fl.StringVar(&opts.Duration, "duration", "", "role session duration (15m to 12h; default 1h)")
	fl.StringVar(&opts.Credentials, "credentials", CredsEndpoint, "how commands get credentials: endpoint (refreshed for hours) or env")
	fl.BoolVar(&opts.PasswordStdin, "password-stdin", false, "read the IdP password of --via login:NAME from stdin")
	fl.IntVar(&opts.Concurrency, "concurrency", fanout.DefaultConcurrency, "targets running at once")
	fl.Float64Var(&opts.Rate, "rate", DefaultRate, "STS calls per second, shared by all targets (0: no limit)")
	fl.DurationVar(&opts.Timeout, "timeout", 0, "time limit per target's command (e.g. 10m); SIGTERM, then SIGKILL 5s later")
	fl.IntVar(&opts.Retries, "retries", 2, "retries of retryable errors (throttling is always retried and never counted)")
	fl.StringVar(&opts.Tolerate, "tolerate", "", "failures tolerated before the run halts: a count or a percentage (default: all)")
	fl.StringVar(&opts.Halt, "halt", "soon", "once --tolerate is exceeded: soon (let running targets finish) or now (stop them)")
	fl.StringVar(&opts.Journal, "journal", "", "journal file (default: one per command line under ~/.local/state/rolehop/runs)")
	fl.BoolVar(&opts.Resume, "resume", false, "skip the targets the journal says succeeded")
	fl.BoolVar(&opts.RetryFailed, "retry-failed", false, "run only the targets the journal says failed")
	fl.StringVar(&opts.OutputDir, "output-dir", "", "write each target's stdout, stderr and result.json to DIR/ACCOUNT[_REGION]/")
	fl.BoolVar(&opts.JSON, "json", false, "JSON lines on stdout: output lines, results and the summary")
	fl.BoolVar(&opts.NoProgress, "no-progress", false, "no progress bar, even on a terminal")
	cmd.Flags().SetInterspersed(true)
	cmd.AddCommand(newCmdRunMerge(f))
	return cmd
}

// runConfig is what runRun derives from the options before any call.
type runConfig struct {
	tolerance *fanout.Tolerance
	halt      fanout.Halt
	shardI    int
	shardN    int
	filter    accounts.Filter
	duration  time.Duration
}

func (o *RunOptions) validate() (runConfig, error) {
	var c runConfig
	if !o.Plan && len(o.Command) == 0 {
		return c, usageError(errors.New("no command: rolehop run [selection] --role NAME -- COMMAND [ARGS...] (or --plan)"))
	}
	if !o.Plan && o.Role == "" {
		return c, usageError(errors.New("--role is required: the role to use in every account"))
	}
	if o.Granted && !strings.HasPrefix(o.Via, "login:") {
		return c, usageError(errors.New("--granted lists the accounts of a SAML login: pass --via login:NAME"))
	}
	if o.Resume && o.RetryFailed {
		return c, usageError(errors.New("--resume and --retry-failed are alternatives: pass one"))
	}
	if o.Credentials != CredsEndpoint && o.Credentials != CredsEnv {
		return c, usageError(fmt.Errorf("--credentials %q: want endpoint or env", o.Credentials))
	}
	if o.Concurrency < 1 {
		return c, usageError(errors.New("--concurrency must be at least 1"))
	}
	if o.Rate < 0 || o.Retries < 0 || o.Timeout < 0 {
		return c, usageError(errors.New("--rate, --retries and --timeout must not be negative"))
	}
	switch o.Halt {
	case "soon":
		c.halt = fanout.HaltSoon
	case "now":
		c.halt = fanout.HaltNow
	default:
		return c, usageError(fmt.Errorf("--halt %q: want soon or now", o.Halt))
	}
	if o.Tolerate != "" {
		t, err := parseTolerance(o.Tolerate)
		if err != nil {
			return c, usageError(err)
		}
		c.tolerance = &t
	}
	c.shardN = 1
	if o.Shard != "" {
		i, n, err := fanout.ParseShard(o.Shard)
		if err != nil {
			return c, usageError(fmt.Errorf("--shard: %w", err))
		}
		c.shardI, c.shardN = i, n
	}
	for _, w := range o.Where {
		m, err := accounts.ParseMatch(w)
		if err != nil {
			return c, usageError(fmt.Errorf("--where: %w", err))
		}
		c.filter.Where = append(c.filter.Where, m)
	}
	c.filter.Exclude = o.Exclude
	if err := c.filter.Validate(); err != nil {
		return c, usageError(fmt.Errorf("--exclude: %w", err))
	}
	for _, id := range append(append([]string(nil), o.OUs...), o.ExcludeOUs...) {
		if err := accounts.ValidateParent(id); err != nil {
			return c, usageError(err)
		}
	}
	for _, r := range o.Regions {
		if !validRegion(r) {
			return c, usageError(fmt.Errorf("--regions: %q is not a region name like eu-west-1", r))
		}
	}
	if o.Duration != "" {
		d, err := duration.Parse(o.Duration)
		if err != nil {
			return c, usageError(fmt.Errorf("--duration: %w", err))
		}
		c.duration = d
	}
	if !o.Org && !o.Granted && len(o.OUs) == 0 && len(o.Accounts) == 0 && o.AccountsFile == "" {
		if len(o.ExcludeOUs) > 0 {
			o.Org = true
		} else {
			return c, usageError(errors.New("no accounts selected: give --accounts, --accounts-file, --org, --ou or --granted"))
		}
	}
	return c, nil
}

func parseTolerance(s string) (fanout.Tolerance, error) {
	bad := fmt.Errorf("--tolerate %q: want a count (3) or a percentage (5%%)", s)
	if p, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		var v float64
		if _, err := fmt.Sscan(p, &v); err != nil || v <= 0 || v > 100 {
			return fanout.Tolerance{}, bad
		}
		return fanout.Tolerance{Percent: v}, nil
	}
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 || fmt.Sprint(n) != strings.TrimSpace(s) {
		return fanout.Tolerance{}, bad
	}
	return fanout.Tolerance{Count: n}, nil
}

func validRegion(r string) bool {
	if len(r) < 4 || len(r) > 30 {
		return false
	}
	for _, c := range r {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return strings.Count(r, "-") >= 2
}

func runRun(ctx context.Context, o *RunOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := o.validate()
	if err != nil {
		return err
	}
	r := &fleetRun{o: o, c: c, log: log, ios: o.F.IO}
	if err := r.reach(ctx); err != nil {
		return err
	}
	plan, err := r.selectTargets(ctx)
	if err != nil {
		return err
	}
	if o.Plan {
		return r.printPlan(plan)
	}
	return r.execute(ctx, plan)
}

// fleetRun is the state of one `rolehop run`.
type fleetRun struct {
	o   *RunOptions
	c   runConfig
	log *slog.Logger
	ios *IOStreams

	reached   *reached
	fullPlan  string
	planTotal int
}

// selectTargets builds the plan: the selected accounts × regions, sharded.
func (r *fleetRun) selectTargets(ctx context.Context) ([]fanout.Target, error) {
	o := r.o
	aliases, err := r.aliases()
	if err != nil {
		return nil, err
	}
	known := accounts.FromAliases(aliases)
	var fromFile []accounts.Account
	if o.AccountsFile != "" {
		fromFile, err = accounts.ReadFile(o.AccountsFile, o.F.IO.In)
		if err != nil {
			if errors.Is(err, accounts.ErrInvalid) {
				return nil, usageError(err)
			}
			return nil, &ExitError{Code: ExitFile, Err: err}
		}
		known = accounts.Merge(fromFile, known)
	}
	var fromOrg, granted []accounts.Account
	if o.Org || len(o.OUs) > 0 {
		if fromOrg, err = r.organizations(ctx); err != nil {
			return nil, err
		}
		known = accounts.Merge(known, fromOrg)
	}
	if o.Granted {
		if granted, err = r.granted(ctx); err != nil {
			return nil, err
		}
	}
	explicit, err := accounts.Resolve(splitList(o.Accounts), known)
	if err != nil {
		return nil, usageError(fmt.Errorf("--accounts: %w", err))
	}
	fileAccts, err := accounts.Complete(fromFile, known)
	if err != nil {
		return nil, usageError(fmt.Errorf("--accounts-file: %w", err))
	}
	selected := accounts.Merge(explicit, fileAccts, fromOrg, granted)
	selected = accounts.Merge(selected, known)[:len(selected)]
	selected = accounts.WithAliases(selected, aliases)
	selected = r.c.filter.Apply(selected)
	if len(selected) == 0 {
		return nil, usageError(errors.New("no account is left after --where/--exclude; check the tags with --plan and without filters"))
	}
	ts := make([]fanout.Target, len(selected))
	for i, a := range selected {
		ts[i] = fanout.Target{Account: a.ID, Alias: a.Alias}
	}
	plan := fanout.Expand(ts, o.Regions)
	r.fullPlan = fleet.PlanHash(plan)
	r.planTotal = len(plan)
	return fanout.Shard(plan, r.c.shardI, r.c.shardN), nil
}

func splitList(xs []string) []string {
	var out []string
	for _, x := range xs {
		for _, p := range strings.Split(x, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (r *fleetRun) printPlan(plan []fanout.Target) error {
	p := &fleet.Printer{W: r.ios.Out}
	for _, t := range plan {
		if r.o.JSON {
			fleet.WriteEvent(p, fleet.Event{Event: "target", Target: t.Key(), Account: t.Account, Alias: t.Alias, Region: t.Region})
			continue
		}
		fmt.Fprintf(p, "%s\t%s\t%s\n", t.Account, t.Alias, t.Region)
	}
	shard := ""
	if r.c.shardN > 1 {
		shard = fmt.Sprintf(" (shard %d/%d of %d)", r.c.shardI, r.c.shardN, r.planTotal)
	}
	fmt.Fprintf(r.ios.ErrOut, "rolehop: %d targets%s\n", len(plan), shard)
	return nil
}

// journalPath is --journal, else a file named after the command line in
// the state folder.
func (r *fleetRun) journalPath() (string, error) {
	if r.o.Journal != "" {
		return r.o.Journal, nil
	}
	dir, err := fleet.DefaultDir(r.o.F.getenv)
	if err != nil {
		return "", usageError(err)
	}
	o := r.o
	id := fleet.RunID(strings.Join(o.Command, "\x00"), strings.Join(o.Accounts, ","), o.AccountsFile,
		fmt.Sprint(o.Org), strings.Join(o.OUs, ","), strings.Join(o.ExcludeOUs, ","), fmt.Sprint(o.Granted),
		strings.Join(o.Where, ","), strings.Join(o.Exclude, ","), strings.Join(o.Regions, ","), o.Shard, o.Via, o.Role)
	return filepath.Join(dir, id+".jsonl"), nil
}

// openJournal starts the journal, or (--resume, --retry-failed) reads it and
// returns the targets still to run.
func (r *fleetRun) openJournal(plan []fanout.Target) (*fleet.Journal, []fanout.Target, int, error) {
	path, err := r.journalPath()
	if err != nil {
		return nil, nil, 0, err
	}
	if !r.o.Resume && !r.o.RetryFailed {
		j, err := fleet.Create(path, fleet.Header{Command: r.o.Command, Plan: r.fullPlan, Shard: r.o.Shard, Targets: len(plan), Started: r.o.F.now().UTC()})
		if err != nil {
			return nil, nil, 0, &ExitError{Code: ExitFile, Err: err}
		}
		return j, plan, 0, nil
	}
	h, latest, _, err := fleet.Read(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, 0, usageError(fmt.Errorf("no journal at %s to resume; run the same command without --resume first, or pass its --journal", path))
	}
	if err != nil {
		return nil, nil, 0, &ExitError{Code: ExitFile, Err: err}
	}
	if strings.Join(h.Command, "\x00") != strings.Join(r.o.Command, "\x00") {
		return nil, nil, 0, usageError(fmt.Errorf("journal %s is of another command (%s); run that command, or pass another --journal", path, strings.Join(h.Command, " ")))
	}
	if h.Plan != r.fullPlan {
		fmt.Fprintf(r.ios.ErrOut, "rolehop: warning: the plan changed since the journal was started (accounts added or removed); targets are matched by account and region\n")
	}
	var todo []fanout.Target
	done := 0
	for _, t := range plan {
		rec, ok := latest[t.Key()]
		switch {
		case r.o.Resume && ok && rec.Succeeded():
			done++
		case r.o.RetryFailed && !(ok && rec.Failed()):
			done++
		default:
			todo = append(todo, t)
		}
	}
	j, err := fleet.Append(path)
	if err != nil {
		return nil, nil, 0, &ExitError{Code: ExitFile, Err: err}
	}
	return j, todo, done, nil
}

// interrupts watches SIGINT/SIGTERM during the run: the first one cancels
// (main's signal context, or cancel here), the second kills the commands.
func interrupts(cancel context.CancelFunc, errOut func(string)) (kill <-chan struct{}, interrupted func() bool, stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	killCh := make(chan struct{})
	var mu sync.Mutex
	n := 0
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-sigs:
				mu.Lock()
				n++
				k := n
				mu.Unlock()
				if k == 1 {
					errOut("rolehop: interrupted: stopping the running commands (SIGTERM, SIGKILL 5s later; Ctrl-C again to kill them now)")
					cancel()
				} else if k == 2 {
					errOut("rolehop: killing the running commands")
					close(killCh)
				}
			}
		}
	}()
	return killCh, func() bool { mu.Lock(); defer mu.Unlock(); return n > 0 }, func() { signal.Stop(sigs); close(done) }
}
