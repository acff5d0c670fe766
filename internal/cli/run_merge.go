package cli

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rolehop/rolehop/fanout"
	"github.com/rolehop/rolehop/internal/fleet"
)

// newCmdRunMerge builds `rolehop run merge JOURNAL...`: one summary of the
// journals of a run's shards (or of several runs of one command).
func newCmdRunMerge(f *Factory) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "merge JOURNAL...",
		Short: "Summarize the journals of a run's shards as one run",
		Long: "merge reads journals written by `rolehop run` (one per --shard I/N) and prints one\n" +
			"summary: every target's latest outcome, the failures, the counts, and the shards\n" +
			"missing. Its exit status is run's: 0 when every target succeeded, 7 when some\n" +
			"failed, 8 when targets of a shard never ran (or a shard is missing).",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError(errors.New("usage: rolehop run merge JOURNAL [JOURNAL ...]"))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error { return runMerge(f, args, asJSON) },
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the merged records and the summary as JSON lines")
	return cmd
}

func runMerge(f *Factory, paths []string, asJSON bool) error {
	var first *fleet.Header
	all := map[string]fleet.Record{}
	shards := map[string]bool{}
	expected, n := 0, 0
	for _, p := range paths {
		h, latest, order, err := fleet.Read(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, fleet.ErrJournal) {
				return usageError(err)
			}
			return &ExitError{Code: ExitFile, Err: err}
		}
		if first == nil {
			first = &h
		} else if strings.Join(h.Command, "\x00") != strings.Join(first.Command, "\x00") || h.Plan != first.Plan {
			return usageError(fmt.Errorf("%s is of another run (command %q, plan %s); merge the journals of one run", p, strings.Join(h.Command, " "), h.Plan))
		}
		if h.Shard != "" {
			if shards[h.Shard] {
				return usageError(fmt.Errorf("%s: shard %s given twice", p, h.Shard))
			}
			shards[h.Shard] = true
			_, n, _ = fanout.ParseShard(h.Shard)
		}
		expected += h.Targets
		for _, k := range order {
			all[k] = latest[k]
		}
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	sum := newSummary(expected, 0)
	out := &fleet.Printer{W: f.IO.Out}
	for _, k := range keys {
		rec := all[k]
		res := fanout.RunResult[int]{Target: fanout.Target{Account: rec.Account, Alias: rec.Alias, Region: rec.Region}, Took: time.Duration(rec.Millis) * time.Millisecond}
		for st := fanout.Succeeded; st <= fanout.Skipped; st++ {
			if st.String() == rec.Outcome {
				res.Status = st
			}
		}
		sum.add(res, rec)
		if asJSON {
			fleet.WriteEvent(out, fleet.Event{Event: "result", Target: rec.Target, Account: rec.Account, Alias: rec.Alias, Region: rec.Region,
				Outcome: rec.Outcome, Exit: rec.Exit, Error: rec.Error, Attempts: rec.Attempts, Millis: &rec.Millis})
		}
	}
	var missing []string
	for i := 0; i < n; i++ {
		s := fmt.Sprintf("%d/%d", i, n)
		if !shards[s] {
			missing = append(missing, s)
		}
	}
	notRun := expected - len(all)
	sum.print(f.IO.ErrOut, 0, strings.Join(paths, " "), nil)
	if asJSON {
		fleet.WriteEvent(out, fleet.Event{Event: "summary", Counts: sum.countMap()})
	}
	if len(missing) > 0 {
		fmt.Fprintf(f.IO.ErrOut, "rolehop: shards missing: %s\n", strings.Join(missing, ", "))
	}
	if notRun > 0 {
		fmt.Fprintf(f.IO.ErrOut, "rolehop: %d targets have no outcome in these journals (resume their shards with --resume)\n", notRun)
	}
	switch {
	case len(missing) > 0 || notRun > 0:
		return &ExitError{Code: ExitRunHalted}
	case sum.failures() > 0 || sum.counts[fanout.Cancelled] > 0:
		return &ExitError{Code: ExitRunFailures}
	}
	return nil
}
