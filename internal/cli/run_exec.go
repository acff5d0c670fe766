package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/rolehop/rolehop/ecsserver"
	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/credenv"
	"github.com/rolehop/rolehop/internal/fleet"
)

// maxLabelWidth bounds the padding of output prefixes.
const maxLabelWidth = 40

// execute runs the command in every target of plan.
func (r *fleetRun) execute(ctx context.Context, plan []fanout.Target) error {
	o := r.o
	journal, todo, already, err := r.openJournal(plan)
	if err != nil {
		return err
	}
	defer journal.Close()
	var outDir *fleet.OutputDir
	if o.OutputDir != "" {
		outDir = &fleet.OutputDir{Path: o.OutputDir}
		if err := outDir.Prepare(); err != nil {
			return &ExitError{Code: ExitFile, Err: err}
		}
	}
	width := 0
	for _, t := range todo {
		width = max(width, min(len(t.Label()), maxLabelWidth))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errLine := func(s string) { fmt.Fprintln(r.ios.ErrOut, s) }
	killCh, interrupted, stopSignals := interrupts(cancel, errLine)
	defer stopSignals()

	var bar *progressBar
	if r.ios.ErrTerminal && !o.NoProgress && len(todo) > 0 {
		bar = newProgressBar(r.ios.ErrOut, len(todo), r.o.F.now)
	}
	stdout := &fleet.Printer{W: r.ios.Out}
	stderr := &fleet.Printer{W: r.ios.ErrOut}
	if bar != nil {
		// Lines go above the bar, never through it.
		stderr.W = bar
		if r.ios.OutTerminal {
			stdout.W = bar
		}
	}

	environ := o.F.environ()
	fn := func(ctx context.Context, t fanout.Target, cfg aws.Config) (int, error) {
		return r.runOne(ctx, t, cfg, environ, width, stdout, stderr, outDir, killCh)
	}
	sum := newSummary(len(todo), already)
	start := o.F.now()
	results := fanout.Run(ctx, r.reached.provider, todo, fn, fanout.RunOptions{
		Concurrency: o.Concurrency,
		Timeout:     o.Timeout,
		Retries:     o.Retries,
		Tolerance:   r.c.tolerance,
		Halt:        r.c.halt,
		Backoff:     o.Backoff,
		Now:         o.F.now,
		Logger:      r.log,
		OnStart: func(fanout.Target) {
			if bar != nil {
				bar.started()
			}
		},
	})
	var journalErr error
	for res := range results {
		rec := record(res, r.reached.roleARN)
		if res.Status != fanout.Skipped {
			if err := journal.Write(rec); err != nil && journalErr == nil {
				journalErr = err
				fmt.Fprintf(stderr, "rolehop: warning: %s; --resume will redo the targets not recorded\n", OneLine(err))
			}
		}
		if outDir != nil && res.Status != fanout.Skipped {
			r.writeResultFile(outDir, res.Target, rec)
		}
		if o.JSON && res.Status != fanout.Skipped {
			fleet.WriteEvent(stdout, fleet.Event{Event: "result", Target: rec.Target, Account: rec.Account, Alias: rec.Alias, Region: rec.Region,
				Outcome: rec.Outcome, Exit: rec.Exit, Error: rec.Error, Attempts: rec.Attempts, Millis: &rec.Millis})
		}
		sum.add(res, rec)
		if bar != nil {
			bar.done(res.Status)
		}
	}
	if bar != nil {
		bar.finish()
	}
	took := o.F.now().Sub(start)
	halted := sum.halted || (r.c.tolerance != nil && r.c.tolerance.Exceeded(sum.failures(), len(todo)))
	sum.halted = halted
	sum.print(r.ios.ErrOut, took, journal.Path, r.c.tolerance)
	if o.JSON {
		fleet.WriteEvent(stdout, fleet.Event{Event: "summary", Counts: sum.countMap(), Journal: journal.Path})
	}
	switch {
	case interrupted() || ctx.Err() != nil && !halted:
		return &ExitError{Code: ExitRunInterrupted}
	case halted:
		return &ExitError{Code: ExitRunHalted}
	case sum.failures() > 0:
		return &ExitError{Code: ExitRunFailures}
	case journalErr != nil:
		return &ExitError{Code: ExitFile, Err: journalErr}
	}
	return nil
}

// runOne runs the command for one target.
func (r *fleetRun) runOne(ctx context.Context, t fanout.Target, cfg aws.Config, environ []string, width int,
	stdout, stderr *fleet.Printer, outDir *fleet.OutputDir, killCh <-chan struct{},
) (int, error) {
	o := r.o
	var vars []credenv.Var
	var extra []string
	switch o.Credentials {
	case CredsEnv:
		// Fresh at every attempt: the provider renews at half life.
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return -1, err
		}
		vars = credenv.Vars(c, cfg.Region)
	default:
		srv, err := ecsserver.New(cfg.Credentials, ecsserver.Options{RoleARN: r.reached.roleARN(t.Account), Logger: r.log})
		if err != nil {
			return -1, err
		}
		sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		served := make(chan struct{})
		go func() { _ = srv.Serve(sctx); close(served) }()
		defer func() { stop(); <-served }()
		extra = srv.Env()
		if cfg.Region != "" {
			vars = append(vars, credenv.Var{Name: "AWS_REGION", Value: cfg.Region}, credenv.Var{Name: "AWS_DEFAULT_REGION", Value: cfg.Region})
		}
	}
	env := credenv.With(environ, vars...)
	env = append(env, extra...)
	env = append(env, "ROLEHOP_ACCOUNT="+t.Account, "ROLEHOP_ACCOUNT_ALIAS="+t.Alias, "ROLEHOP_REGION="+cfg.Region)

	cmd := &fleet.Command{Argv: o.Command, Env: env, Grace: o.Grace, Kill: killCh}
	var flush []func()
	switch {
	case outDir != nil:
		dir, err := outDir.TargetDir(t)
		if err != nil {
			return -1, err
		}
		so, err := outDir.Create(dir, "stdout")
		if err != nil {
			return -1, err
		}
		defer so.Close()
		se, err := outDir.Create(dir, "stderr")
		if err != nil {
			return -1, err
		}
		defer se.Close()
		cmd.Stdout, cmd.Stderr = so, se
	case o.JSON:
		lo, le := fleet.JSONLines(stdout, t, "stdout"), fleet.JSONLines(stdout, t, "stderr")
		cmd.Stdout, cmd.Stderr = lo, le
		flush = append(flush, lo.Flush, le.Flush)
	default:
		lo, le := fleet.Prefixed(stdout, t.Label(), width), fleet.Prefixed(stderr, t.Label(), width)
		cmd.Stdout, cmd.Stderr = lo, le
		flush = append(flush, lo.Flush, le.Flush)
	}
	code, err := cmd.Run(ctx)
	for _, f := range flush {
		f()
	}
	return code, err
}

// record is a result as the journal holds it.
func record(res fanout.RunResult[int], roleARN func(string) string) fleet.Record {
	rec := fleet.Record{Target: res.Key(), Account: res.Account, Alias: res.Alias, Region: res.Region,
		Outcome: res.Status.String(), Attempts: res.Attempts, Start: res.Start.UTC(), Millis: res.Took.Milliseconds()}
	if res.Attempts > 0 && res.Value >= 0 {
		code := res.Value
		rec.Exit = &code
	}
	if res.Err != nil {
		var ee *fleet.ExitError
		if !errors.As(res.Err, &ee) || res.Status != fanout.Failed {
			rec.Error = OneLine(res.Err)
		} else {
			rec.Error = ee.Error()
		}
		if len(rec.Error) > 500 {
			rec.Error = rec.Error[:500] + "..."
		}
	}
	return rec
}

func (r *fleetRun) writeResultFile(d *fleet.OutputDir, t fanout.Target, rec fleet.Record) {
	dir, err := d.TargetDir(t)
	if err != nil {
		return
	}
	f, err := d.Create(dir, "result.json")
	if err != nil {
		return
	}
	defer f.Close()
	b, _ := json.MarshalIndent(rec, "", "  ")
	f.Write(append(b, '\n'))
}

// maxTableRows: above this many targets the summary table lists only the
// targets that did not succeed (the journal holds every one).
const maxTableRows = 50

type summaryRow struct {
	label   string
	outcome string
	exit    string
	took    time.Duration
	err     string
}

// summary counts outcomes; it keeps a row per target only while the table
// is small, and a row per failure always: memory stays bounded by the
// failures, not by the accounts.
type summary struct {
	total, already int
	counts         map[fanout.Status]int
	rows           []summaryRow
	failRows       []summaryRow
	halted         bool
}

func newSummary(total, already int) *summary {
	return &summary{total: total, already: already, counts: map[fanout.Status]int{}}
}

func (s *summary) add(res fanout.RunResult[int], rec fleet.Record) {
	s.counts[res.Status]++
	if errors.Is(res.Err, fanout.ErrHalted) {
		s.halted = true
	}
	if res.Status == fanout.Skipped {
		return
	}
	exit := "-"
	if rec.Exit != nil {
		exit = fmt.Sprint(*rec.Exit)
	}
	row := summaryRow{label: res.Label(), outcome: rec.Outcome, exit: exit, took: res.Took, err: rec.Error}
	if s.total <= maxTableRows {
		s.rows = append(s.rows, row)
	}
	if res.Status != fanout.Succeeded {
		s.failRows = append(s.failRows, row)
	}
}

func (s *summary) failures() int { return s.counts[fanout.Failed] + s.counts[fanout.TimedOut] }

func (s *summary) countMap() map[string]int {
	m := map[string]int{}
	for st, n := range s.counts {
		m[st.String()] = n
	}
	if s.already > 0 {
		m["done before"] = s.already
	}
	return m
}

func (s *summary) print(w io.Writer, took time.Duration, journal string, tol *fanout.Tolerance) {
	rows := s.rows
	if s.total > maxTableRows {
		rows = s.failRows
	}
	if len(rows) > 0 {
		lw := len("TARGET")
		for _, r := range rows {
			lw = max(lw, len(r.label))
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\n%-*s  %-10s %5s %9s\n", lw, "TARGET", "OUTCOME", "EXIT", "TIME")
		for _, r := range rows {
			fmt.Fprintf(&b, "%-*s  %-10s %5s %9s\n", lw, r.label, r.outcome, r.exit, r.took.Round(10*time.Millisecond))
		}
		io.WriteString(w, b.String())
	}
	if len(s.failRows) > 0 {
		var b strings.Builder
		b.WriteString("\nnot succeeded:\n")
		for _, r := range s.failRows {
			fmt.Fprintf(&b, "  %s: %s: %s\n", r.label, r.outcome, r.err)
		}
		io.WriteString(w, b.String())
	}
	var parts []string
	for _, st := range []fanout.Status{fanout.Succeeded, fanout.Failed, fanout.TimedOut, fanout.Cancelled, fanout.Skipped} {
		if n := s.counts[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, st))
		}
	}
	if s.already > 0 {
		parts = append(parts, fmt.Sprintf("%d done before (journal)", s.already))
	}
	if len(parts) == 0 {
		parts = append(parts, "nothing to do")
	}
	fmt.Fprintf(w, "\nrolehop: %d targets in %s: %s\n", s.total+s.already, took.Round(10*time.Millisecond), strings.Join(parts, ", "))
	if s.halted && tol != nil {
		fmt.Fprintf(w, "rolehop: halted: %d failures exceeded the tolerance of %s; %d targets not started (finish with --resume)\n", s.failures(), tol, s.counts[fanout.Skipped])
	}
	fmt.Fprintf(w, "rolehop: journal %s\n", journal)
}
