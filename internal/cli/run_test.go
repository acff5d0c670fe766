package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rolehop/rolehop/internal/fleet"
	"github.com/rolehop/rolehop/internal/stsfake"
)

const (
	runKey    = "AKIARUNTEST"
	runSecret = "run-secret-do-not-print"
)

// fleetEnv points the process at a fresh fake STS with base keys in the
// environment, empty AWS files and a private state folder; it returns the
// folder.
func fleetEnv(t *testing.T, opts ...stsfake.Option) (*stsfake.Server, string) {
	t.Helper()
	srv := stsfake.NewForTest(t, append(opts, stsfake.WithKey(runKey, runSecret))...)
	dir := awsEnv(t, srv, "", "")
	t.Setenv("AWS_ACCESS_KEY_ID", runKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", runSecret)
	t.Setenv("XDG_STATE_HOME", filepath.Join(dir, "state"))
	t.Setenv("ROLEHOP_CONFIG", filepath.Join(dir, "no-settings.yaml"))
	t.Setenv("ROLEHOP_ACCOUNTS_FILE", filepath.Join(dir, "no-accounts.yaml"))
	return srv, dir
}

// fleetAccounts writes n account IDs, one a line, and returns the file and
// the IDs.
func fleetAccounts(t *testing.T, dir string, n int) (string, []string) {
	t.Helper()
	var ids []string
	var b strings.Builder
	for i := range n {
		id := fmt.Sprintf("%012d", 200000000001+i)
		ids = append(ids, id)
		fmt.Fprintf(&b, "%s acct%02d\n", id, i)
	}
	p := filepath.Join(dir, fmt.Sprintf("accounts-%d.txt", n))
	writeFileT(t, p, b.String())
	return p, ids
}

func exitCodeOf(err error) int { return ExitCode(err) }

// journalRecords reads a journal's records (every line, in order).
func journalRecords(t *testing.T, path string) []fleet.Record {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fleet.Record
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		var r fleet.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("journal line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestRunFaultInjection(t *testing.T) {
	srv, dir := fleetEnv(t)
	file, ids := fleetAccounts(t, dir, 30)
	denied := []string{ids[0], ids[1]}
	hanging := ids[29]
	for _, a := range denied {
		srv.Deny("arn:aws:iam::" + a + ":role/Audit")
	}
	// Every tenth AssumeRole is throttled.
	var calls, throttled atomic.Int64
	orig := srv.Handler("AssumeRole")
	srv.Handle("AssumeRole", func(w http.ResponseWriter, r *http.Request, form url.Values) {
		if calls.Add(1)%10 == 0 {
			throttled.Add(1)
			stsfake.WriteError(w, http.StatusBadRequest, "Throttling", "Rate exceeded")
			return
		}
		orig(w, r, form)
	})
	script := `if [ "$ROLEHOP_ACCOUNT" = ` + hanging + ` ]; then exec sleep 600; fi; echo "key $ROLEHOP_ACCOUNT $AWS_ACCESS_KEY_ID"`
	journal := filepath.Join(dir, "fault.jsonl")

	t.Run("every target runs; exactly the denials and the timeout fail", func(t *testing.T) {
		out, stderr, err := execute(t, "run", "--accounts-file", file, "--role", "Audit", "--concurrency", "10",
			"--credentials", "env", "--timeout", "2s", "--journal", journal, "--", "sh", "-c", script)
		if code := exitCodeOf(err); code != ExitRunFailures {
			t.Fatalf("exit %d (%v), want %d (some failed within tolerance)\n%s", code, err, ExitRunFailures, stderr)
		}
		if throttled.Load() == 0 {
			t.Fatal("nothing was throttled: the test proves nothing")
		}
		// Each command saw credentials the STS issued for its own account.
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			label, rest, ok := strings.Cut(line, " | ")
			f := strings.Fields(rest)
			if !ok || len(f) != 3 || f[0] != "key" {
				t.Errorf("output line %q", line)
				continue
			}
			is, ok := srv.Issued(f[2])
			if !ok || is.Account != f[1] || is.RoleARN != "arn:aws:iam::"+f[1]+":role/Audit" {
				t.Errorf("%s ran with credentials of %q (%+v)", f[1], is.RoleARN, ok)
			}
			if strings.TrimSpace(label) != "acct"+fmt.Sprintf("%02d", slices.Index(ids, f[1])) {
				t.Errorf("line of %s prefixed %q", f[1], label)
			}
			seen[f[1]] = true
		}
		if len(seen) != 27 {
			t.Errorf("%d accounts printed their key, want 27", len(seen))
		}
		recs := journalRecords(t, journal)
		byOutcome := map[string][]string{}
		for _, r := range recs {
			byOutcome[r.Outcome] = append(byOutcome[r.Outcome], r.Account)
		}
		slices.Sort(byOutcome["failed"])
		if !slices.Equal(byOutcome["failed"], denied) || !slices.Equal(byOutcome["timed out"], []string{hanging}) || len(byOutcome["succeeded"]) != 27 || len(recs) != 30 {
			t.Errorf("journal outcomes: %v", byOutcome)
		}
		for _, want := range []string{"27 succeeded, 2 failed, 1 timed out", "acct00: failed: ", "AccessDenied", "acct29: timed out: timed out after 2s"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("summary lacks %q:\n%s", want, stderr)
			}
		}
		if strings.Contains(stderr, "Throttling") {
			t.Errorf("throttling reported:\n%s", stderr)
		}
		if strings.Contains(out+stderr, runSecret) {
			t.Error("the base secret is in the output")
		}
		// One AssumeRole answered per account (the throttled ones were
		// retried), and the base identified once.
		if answered := int64(srv.Calls("AssumeRole")) - throttled.Load(); answered != 30 {
			t.Errorf("%d AssumeRole calls answered, want 30", answered)
		}
	})

	t.Run("a tolerance of 1 halts", func(t *testing.T) {
		srv.Handle("AssumeRole", orig) // no throttling: the denials come first
		j := filepath.Join(dir, "halt.jsonl")
		_, stderr, err := execute(t, "run", "--accounts-file", file, "--role", "Audit", "--concurrency", "4",
			"--credentials", "env", "--timeout", "2s", "--tolerate", "1", "--journal", j, "--", "sh", "-c", script)
		if code := exitCodeOf(err); code != ExitRunHalted {
			t.Fatalf("exit %d, want %d (halted)\n%s", code, ExitRunHalted, stderr)
		}
		recs := journalRecords(t, j)
		failed := 0
		for _, r := range recs {
			switch r.Outcome {
			case "failed":
				failed++
			case "succeeded":
			default:
				t.Errorf("%s: %s (halt soon lets running targets finish)", r.Account, r.Outcome)
			}
			if r.Account == hanging {
				t.Error("the last account started after the halt")
			}
		}
		// The 4 first started, and a few more in the slots freed before the
		// second denial came back; never the rest.
		if failed != 2 || len(recs) > 10 {
			t.Errorf("%d records (%d failed): want the 2 denials and the few others started before the halt", len(recs), failed)
		}
		want := fmt.Sprintf("halted: 2 failures exceeded the tolerance of 1; %d targets not started", 30-len(recs))
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
		// --resume runs the rest (the denials again: they did not succeed).
		t.Setenv("AWS_REGION", "us-east-1")
		_, stderr, err = execute(t, "run", "--accounts-file", file, "--role", "Audit", "--concurrency", "10",
			"--credentials", "env", "--timeout", "2s", "--tolerate", "1", "--journal", j, "--resume", "--", "sh", "-c", script)
		// Every target had started before the second denial: nothing is
		// left unstarted, but the tolerance was exceeded all the same.
		if code := exitCodeOf(err); code != ExitRunHalted {
			t.Errorf("resume: exit %d\n%s", code, stderr)
		}
		if !strings.Contains(stderr, fmt.Sprintf("%d done before (journal)", len(recs)-2)) {
			t.Errorf("resume summary:\n%s", stderr)
		}
	})
}

func TestRunPlanSelectionShardsAndMerge(t *testing.T) {
	_, dir := fleetEnv(t)
	var b strings.Builder
	for i := range 40 {
		env := "prod"
		if i%4 == 0 {
			env = "dev"
		}
		fmt.Fprintf(&b, "- {id: \"%012d\", alias: a%02d, tags: {env: %s, team: t%d}}\n", 300000000000+i, i, env, i%3)
	}
	file := filepath.Join(dir, "fleet.yaml")
	writeFileT(t, file, b.String())

	out, stderr, err := execute(t, "run", "--accounts-file", file, "--where", "env=prod", "--exclude", "a01", "--exclude", "team=t2",
		"--regions", "eu-west-1,us-east-1", "--plan")
	if err != nil {
		t.Fatalf("plan: %v\n%s", err, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var plan []string
	for _, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 3 {
			t.Fatalf("plan line %q", l)
		}
		plan = append(plan, f[0]+"/"+f[2])
		n, _ := strconv.Atoi(f[0][len(f[0])-2:])
		if n%4 == 0 || n == 1 || n%3 == 2 {
			t.Errorf("%s (alias %s) passed the filters", f[0], f[1])
		}
	}
	// 30 prod accounts, minus a01, minus team t2's prod accounts.
	want := 0
	for i := range 40 {
		if i%4 != 0 && i != 1 && i%3 != 2 {
			want++
		}
	}
	if len(plan) != want*2 || !strings.Contains(stderr, fmt.Sprintf("%d targets", want*2)) {
		t.Fatalf("plan of %d targets, want %d:\n%s", len(plan), want*2, stderr)
	}

	// Shards: disjoint, covering, regions of an account together.
	seen := map[string]int{}
	for i := range 3 {
		out, _, err := execute(t, "run", "--accounts-file", file, "--where", "env=prod", "--exclude", "a01", "--exclude", "team=t2",
			"--regions", "eu-west-1,us-east-1", "--plan", "--json", "--shard", fmt.Sprintf("%d/3", i))
		if err != nil {
			t.Fatal(err)
		}
		acct := map[string]bool{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var e fleet.Event
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Event != "target" {
				t.Fatalf("--json plan line %q: %v", l, err)
			}
			seen[e.Target]++
			acct[e.Account] = true
		}
		for a := range acct {
			if seen[a+"/eu-west-1"] != seen[a+"/us-east-1"] {
				t.Errorf("account %s's regions are in different shards", a)
			}
		}
	}
	for _, k := range plan {
		if seen[k] != 1 {
			t.Errorf("%s in %d shards, want 1", k, seen[k])
		}
	}
	if len(seen) != len(plan) {
		t.Errorf("shards hold %d targets, the plan %d", len(seen), len(plan))
	}

	// Run the three shards (a trivial command) and merge their journals.
	var journals []string
	for i := range 3 {
		j := filepath.Join(dir, fmt.Sprintf("shard-%d.jsonl", i))
		journals = append(journals, j)
		args := []string{"run", "--accounts-file", file, "--where", "env=prod", "--role", "Audit", "--credentials", "env",
			"--shard", fmt.Sprintf("%d/3", i), "--journal", j, "--", "true"}
		if _, stderr, err := execute(t, args...); err != nil {
			t.Fatalf("shard %d: %v\n%s", i, err, stderr)
		}
	}
	_, stderr, err = execute(t, append([]string{"run", "merge"}, journals...)...)
	if err != nil || !strings.Contains(stderr, "30 targets in 0s: 30 succeeded") {
		t.Errorf("merge of 3 shards: %v\n%s", err, stderr)
	}
	_, stderr, err = execute(t, "run", "merge", journals[0], journals[2])
	if exitCodeOf(err) != ExitRunHalted || !strings.Contains(stderr, "shards missing: 1/3") {
		t.Errorf("merge without shard 1: exit %d\n%s", exitCodeOf(err), stderr)
	}
}

func TestRunBadInputOneLine(t *testing.T) {
	_, dir := fleetEnv(t)
	file, _ := fleetAccounts(t, dir, 3)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--accounts-file", file, "--", "true"}, "--role is required"},
		{[]string{"run", "--role", "R", "--", "true"}, "no accounts selected"},
		{[]string{"run", "--accounts", "prod", "--role", "R", "--", "true"}, `"prod" is neither a 12-digit account ID nor a known alias`},
		{[]string{"run", "--accounts-file", file, "--role", "R", "--shard", "3/3", "--", "true"}, "I must be 0..2"},
		{[]string{"run", "--accounts-file", file, "--role", "R", "--tolerate", "lots", "--", "true"}, "want a count (3) or a percentage"},
		{[]string{"run", "--accounts-file", file, "--role", "R", "--halt", "later", "--", "true"}, "want soon or now"},
		{[]string{"run", "--accounts-file", file, "--role", "R", "--ou", "prod", "--", "true"}, "not an organizational unit ID"},
		{[]string{"run", "--accounts-file", file, "--role", "R", "--resume", "--", "true"}, "no journal at"},
		{[]string{"run", "--accounts-file", file, "--role", "R"}, "no command"},
	} {
		_, _, err := execute(t, tc.args...)
		if exitCodeOf(err) != ExitUsage || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: exit %d, %v; want exit 2 with %q", tc.args[1:], exitCodeOf(err), err, tc.want)
		}
	}
}

func TestRunOutputDirAndJSON(t *testing.T) {
	_, dir := fleetEnv(t)
	file, ids := fleetAccounts(t, dir, 3)
	outDir := filepath.Join(dir, "out")
	_, stderr, err := execute(t, "run", "--accounts-file", file, "--role", "Audit", "--regions", "eu-west-1,us-east-1", "--output-dir", outDir,
		"--", "sh", "-c", `echo "out $ROLEHOP_ACCOUNT_ALIAS $ROLEHOP_REGION $AWS_REGION"; echo err >&2; [ "$ROLEHOP_REGION" = eu-west-1 ]`)
	if exitCodeOf(err) != ExitRunFailures {
		t.Fatalf("exit %d: %v\n%s", exitCodeOf(err), err, stderr)
	}
	for i, id := range ids {
		for _, region := range []string{"eu-west-1", "us-east-1"} {
			d := filepath.Join(outDir, id+"_"+region)
			b, err := os.ReadFile(filepath.Join(d, "stdout"))
			if want := fmt.Sprintf("out acct%02d %s %s\n", i, region, region); err != nil || string(b) != want {
				t.Errorf("%s stdout %q, want %q (%v)", d, b, want, err)
			}
			var rec fleet.Record
			b, _ = os.ReadFile(filepath.Join(d, "result.json"))
			if err := json.Unmarshal(b, &rec); err != nil || rec.Exit == nil || (*rec.Exit == 0) != (region == "eu-west-1") {
				t.Errorf("%s result.json %s", d, b)
			}
			if st, err := os.Stat(filepath.Join(d, "stderr")); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s stderr: %v", d, err)
			}
		}
	}

	out, _, err := execute(t, "run", "--accounts", ids[0], "--role", "Audit", "--json", "--", "sh", "-c", `printf 'a\nb'`)
	if err != nil {
		t.Fatal(err)
	}
	var events []fleet.Event
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var e fleet.Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("--json line %q: %v", l, err)
		}
		events = append(events, e)
	}
	if len(events) != 4 || events[0].Line != "a" || events[1].Line != "b" || events[2].Event != "result" || events[2].Outcome != "succeeded" || events[3].Event != "summary" {
		t.Errorf("--json events: %+v", events)
	}
}

// TestRunInterruptedByContext: cancelling (what Ctrl-C does through main's
// signal context) stops the commands, records them as cancelled, prints
// the summary and exits 130.
func TestRunInterruptedByContext(t *testing.T) {
	_, dir := fleetEnv(t)
	file, _ := fleetAccounts(t, dir, 6)
	ios, _, _, errOut := Test()
	cmd := NewRootCmd(NewFactory(ios), "test")
	j := filepath.Join(dir, "int.jsonl")
	marker := filepath.Join(dir, "started")
	cmd.SetArgs([]string{"run", "--accounts-file", file, "--role", "Audit", "--concurrency", "2", "--journal", j,
		"--", "sh", "-c", "echo x >> " + marker + "; exec sleep 600"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	waitFor(t, "two commands to start", func() bool {
		b, _ := os.ReadFile(marker)
		return strings.Count(string(b), "x") == 2
	})
	cancel()
	err := <-done
	if exitCodeOf(err) != ExitRunInterrupted {
		t.Fatalf("exit %d: %v\n%s", exitCodeOf(err), err, errOut)
	}
	recs := journalRecords(t, j)
	if len(recs) != 2 || recs[0].Outcome != "cancelled" || recs[1].Outcome != "cancelled" {
		t.Errorf("journal: %+v", recs)
	}
	if !strings.Contains(errOut.String(), "2 cancelled, 4 skipped") {
		t.Errorf("summary:\n%s", errOut)
	}
}

// waitFor polls ok (at most 60 s) so no test hangs the package.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for range 600 {
		if ok() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
