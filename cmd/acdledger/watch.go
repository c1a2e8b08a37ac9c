package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/acdledger/acdledger/internal/progress"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/evidence"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/watch"
	"github.com/spf13/cobra"
)

// progressFrom is how many new entries make a catch-up long enough for a
// progress bar.
const progressFrom = 1000

func newWatch() *cobra.Command {
	var pins pinFlags
	var logLoc, state, rulesConfig, evidence string
	var interval time.Duration
	var once bool
	cmd := &cobra.Command{
		Use:   "watch --log DIR|URL --vkey FILE|--policy FILE --registry FILE --state FILE",
		Short: "Follow a live log: checkpoints, new entries, compliance rules, alarms, as JSON lines",
		Long: `watch follows a log as an auditor. Every --interval it fetches the log's checkpoint
and, trusting only the pinned keys:

  - verifies its signature (and, with --policy, the witness quorum) and its
    consistency with the last checkpoint it trusted (state in --state);
  - reads only the entries added since, checks that they extend its tree to the
    signed root, re-runs every admission rule on them (specs/admission.md) and the
    compliance rules incrementally (specs/rules.md), and reports deadlines that
    have passed;
  - saves its state atomically, so that after a restart it carries on without
    reporting anything twice: --state FILE is a small head (the checkpoint,
    read every poll) and FILE.bulk-* the admission and rules state, read only
    when there are new entries or a deadline has passed (specs/watch-state.md).

A poll with nothing new reads only the head and the log's checkpoint. New
entries are checked as audit checks them: signatures on every core, the
admission and compliance rules in log order; their lines are printed once the
state is saved.

It prints one JSON object per line on stdout:

  {"type":"entry","index":…,"entry_id":…,"kind":…,"agency":…,"seq":…,…}
  {"type":"violation","rule":"R2","name":…,"index":…,"entry_id":…,"case":…,"reason":…}
  {"type":"alarm","alarm":"fork|rollback|inconsistent|quorum|signature|root|admission",…}
  {"type":"checkpoint","tree_size":…,"root_hash":…,"cosigners":[…],…}

R15 (time.recorded) takes the time watch first saw each checkpoint as when its
new entries were logged, so it also catches back-dated entries (not on first use,
when the previous checkpoint was never seen).

On an alarm it exits 1: a fork, rollback, inconsistency, missing quorum, bad
signature or root mismatch leaves the state as it was (see --evidence); an entry
that breaks an admission rule is reported and the checkpoint is still recorded.
A long catch-up shows a progress bar on a terminal. --once processes the current
checkpoint and exits (for tests and cron).`,
		Example: `  acdledger watch --log demo/log --vkey demo/log.vkey --registry demo/agencies/registry.json --state demo/auditor/watch.state --once
  acdledger watch --log https://log.example/ --policy commission.policy --registry registry.json --state watch.state --interval 30s | tee -a watch.jsonl`,
		Args: cobra.NoArgs,
		// stdout is JSON Lines: a fatal error is one more line.
		Annotations: map[string]string{jsonLines: "true"},
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, src, err := pins.loadWithLog(logLoc)
			if err != nil {
				return err
			}
			cfg, err := loadRulesConfig(rulesConfig)
			if err != nil {
				return err
			}
			if interval <= 0 {
				return usage(errors.New("--interval must be positive"))
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			var emitErr error
			// Findings of the current poll, for --evidence.
			type key struct {
				rule      string
				index     uint64
				admission bool
			}
			found := map[key]bool{}
			opts := watch.Options{Trust: p.Trust, Registry: p.Registry, Root: p.Root, Rules: cfg, State: state, Evidence: evidence,
				Emit: func(ev watch.Event) {
					switch {
					case ev.Type == watch.TypeViolation && ev.Index != nil:
						found[key{ev.Rule, *ev.Index, false}] = true
					case ev.Type == watch.TypeAlarm && ev.Alarm == watch.AlarmAdmission && ev.Index != nil:
						found[key{ev.Rule, *ev.Index, true}] = true
					}
					if err := enc.Encode(ev); err != nil && emitErr == nil {
						emitErr = err
					}
				}}
			// One bar per catch-up of at least progressFrom new entries,
			// ended when the catch-up is.
			var bar *progress.Bar
			opts.Progress = func(done, total uint64) {
				if bar == nil && done == 1 && total >= progressFrom {
					bar = progress.Stderr("checking new entries")
				}
				bar.Update(done, total)
				if done == total {
					bar.Finish()
					bar = nil
				}
			}
			w, err := watch.Open(src, opts)
			if err != nil {
				return usage(err)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			for {
				alarm, err := w.Poll(ctx)
				if evidence != "" && len(found) > 0 {
					// A package is proven by an audit's replay against a
					// cosigned checkpoint, not by the watcher's state.
					ev := watch.Event{Type: watch.TypeEvidence, Seen: time.Now().UTC()}
					written, werr := writeEvidenceFor(ctx, p, src, cfg, evidence, func(rule string, index uint64, adm bool) bool {
						return found[key{rule, index, adm}]
					})
					if werr != nil {
						ev.Reason = "evidence not written: " + werr.Error()
					} else {
						ev.Evidence = written.Paths
						if len(written.Unprovable) > 0 {
							ev.Reason = "not provable: " + strings.Join(written.Unprovable, "; ")
						}
					}
					opts.Emit(ev)
					clear(found)
				}
				if emitErr != nil {
					return emitErr
				}
				switch {
				case alarm:
					return failed(fmt.Errorf("log %s: alarm raised (see the alarm line on stdout)", src))
				case err != nil && once:
					return failed(fmt.Errorf("log %s: %w", src, err))
				case err != nil:
					fmt.Fprintf(os.Stderr, "acdledger watch: %v (retrying in %s)\n", err, interval)
				case once:
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
			}
		},
	}
	pins.add(cmd, true)
	f := cmd.Flags()
	f.StringVar(&logLoc, "log", "", "the log: a tlog-tiles directory or http(s) URL")
	f.StringVar(&state, "state", "", "the watcher's state file (created on first use)")
	f.StringVar(&rulesConfig, "rules-config", "", "the rules' durations and switches (JSON; default specs/rules.default.json)")
	f.StringVar(&evidence, "evidence", "", "directory for evidence packages (specs/evidence.md): a fork, rollback or inconsistency, and each violation and admission alarm")
	f.DurationVar(&interval, "interval", 5*time.Second, "time between polls")
	f.BoolVar(&once, "once", false, "process the current checkpoint and exit")
	cmd.MarkFlagRequired("log")
	cmd.MarkFlagRequired("state")
	return cmd
}

// writeEvidenceFor replays the log at its current checkpoint as audit does
// and writes the packages of the findings keep selects.
func writeEvidenceFor(ctx context.Context, p *verifier.Pins, src *tlog.Source, cfg rules.Config, dir string, keep func(string, uint64, bool) bool) (*evidence.Written, error) {
	cp, err := src.Checkpoint(ctx, p.Trust)
	if err != nil {
		return nil, err
	}
	col := evidence.NewCollector(cfg)
	opts := verifier.AuditOptions{Rules: rules.New(cfg), Checkpoint: cp}
	col.Hook(&opts)
	r, err := p.Audit(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	col.Keep(keep)
	return col.Write(ctx, src, p, cp, r.Rules.AsOf, dir)
}
