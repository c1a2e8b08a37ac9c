package report

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Mismatch is one figure of the report that the log does not give.
type Mismatch struct {
	// Where is table/row/column for a table cell, or a path such as
	// log/entries_in_period or rules/violations[3] for other figures.
	Where      string `json:"where"`
	Report     string `json:"report"` // what the report says
	Recomputed string `json:"log"`    // what the log gives
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s: report says %s, log gives %s", m.Where, m.Report, m.Recomputed)
}

// VerifyOptions tune [Verify].
type VerifyOptions struct {
	// Rules must be given when the report has a rules section: the same
	// engine and configuration, identified by RulesConfig.
	Rules       RuleRunner
	RulesConfig string
	Workers     int
	Progress    func(done, total uint64)
	// Resume and ResumeEdge start the recomputation at a compliance
	// statement's tree, as Options' do (Rules then restored from the same
	// saved state).
	Resume     *verifier.Resume
	ResumeEdge *tlog.Edge
}

// VerifyResult is the outcome of [Verify].
type VerifyResult struct {
	Log         LogBinding `json:"log"`          // the report's binding, as checked
	CurrentSize uint64     `json:"current_size"` // the log's current tree size
	// Grown is set when the log is now larger and a consistency proof from
	// the report's checkpoint to the current one verified.
	Grown bool `json:"grown"`
	// CosignersChecked is false when the auditor pinned a bare log key: no
	// cosignature could then be checked.
	CosignersChecked bool `json:"cosigners_checked"`
	// CheckedCosigners are the report's cosigners whose cosignature verified
	// with a key of the pinned policy; UncheckedCosigners the others (all of
	// them with a bare log key). The report's list itself must always be the
	// note's, whatever the pins (log/cosigners).
	CheckedCosigners   []string   `json:"checked_cosigners"`
	UncheckedCosigners []string   `json:"unchecked_cosigners"`
	Mismatches         []Mismatch `json:"mismatches"`
}

// OK reports whether every figure matched.
func (r *VerifyResult) OK() bool { return len(r.Mismatches) == 0 }

// ErrCheckpoint marks a report whose checkpoint does not belong to the
// pinned log, or contradicts it (fork, rollback, inconsistent growth).
var ErrCheckpoint = errors.New("report checkpoint")

// Verify recomputes every figure of rep from the log and compares:
//
//  1. the report's checkpoint note must verify against the pins (log key,
//     origin, witness quorum) and match its origin, tree_size and root_hash;
//  2. the log's current checkpoint must be the same tree or provably
//     extend it (a consistency proof from the log's tiles); a different
//     tree at the same size is a fork, a smaller one a rollback;
//  3. the leaves [0, tree_size) are replayed (tree and tiles recomputed,
//     every signature and admission rule re-checked) and every figure is
//     recomputed with the report's period and parameters.
//
// Problems of steps 1 and 2 are errors wrapping [ErrCheckpoint] (and the
// tlog error, e.g. *tlog.ForkError); differing figures are listed in the
// result.
func Verify(ctx context.Context, pins *verifier.Pins, src *tlog.Source, rep *Report, opts VerifyOptions) (*VerifyResult, error) {
	if rep.Rules != nil && opts.Rules == nil {
		return nil, fmt.Errorf("%w: the report includes compliance rule results (config %q); verify it with the rules engine", verifier.ErrInput, rep.Rules.Config)
	}
	// The period is recomputed from basis and year; a report whose from or
	// until was edited then shows as a mismatch.
	period, err := NewPeriod(rep.Period.Basis, rep.Period.Year)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", verifier.ErrInput, err)
	}
	cp, err := tlog.VerifyCheckpoint([]byte(rep.Log.Checkpoint), pins.Trust)
	if err != nil {
		return nil, fmt.Errorf("%w: not a checkpoint of the pinned log: %w", ErrCheckpoint, err)
	}
	res := &VerifyResult{Log: rep.Log, CosignersChecked: pins.Trust.Policy != nil, Mismatches: []Mismatch{},
		CheckedCosigners: []string{}, UncheckedCosigners: []string{}}
	var checked []string
	if pins.Trust.Policy != nil {
		checked = pins.Trust.Policy.CheckedSigners(cp.Raw)
	}
	for _, name := range cp.Signers {
		if slices.Contains(checked, name) {
			res.CheckedCosigners = append(res.CheckedCosigners, name)
		} else {
			res.UncheckedCosigners = append(res.UncheckedCosigners, name)
		}
	}
	// The plain fields must say what the signed note says.
	root := base64.StdEncoding.EncodeToString(cp.Hash)
	res.check("log/origin", rep.Log.Origin, cp.Origin)
	res.check("log/tree_size", u(rep.Log.TreeSize), u(cp.Size))
	res.check("log/root_hash", rep.Log.RootHash, root)
	if len(res.Mismatches) > 0 {
		return res, nil
	}
	cons, err := src.CheckConsistency(ctx, pins.Trust, cp)
	if err != nil {
		return nil, fmt.Errorf("%w: the log contradicts the report's checkpoint (%s): %w", ErrCheckpoint, cp, err)
	}
	res.CurrentSize, res.Grown = cons.Current.Size, cons.Grown
	want, err := BuildAt(ctx, pins, src, cp, Options{
		Period: period, Parameters: rep.Parameters, Rules: opts.Rules, RulesConfig: opts.RulesConfig,
		Workers: opts.Workers, Progress: opts.Progress, Resume: opts.Resume, ResumeEdge: opts.ResumeEdge,
	})
	if err != nil {
		return nil, err
	}
	res.Mismatches = append(res.Mismatches, Compare(rep, want)...)
	return res, nil
}

func (r *VerifyResult) check(where, got, want string) {
	if got != want {
		r.Mismatches = append(r.Mismatches, Mismatch{Where: where, Report: got, Recomputed: want})
	}
}

func u(n uint64) string { return strconv.FormatUint(n, 10) }

func index(p *uint64) string {
	if p == nil {
		return "null"
	}
	return u(*p)
}

// Compare lists every figure of got (a report read from a file) that
// differs from want (recomputed from the log), in report order.
func Compare(got, want *Report) []Mismatch {
	r := &VerifyResult{}
	r.check("period/from", got.Period.From, want.Period.From)
	r.check("period/until", got.Period.Until, want.Period.Until)
	g, w := got.Log, want.Log
	r.check("log/origin", g.Origin, w.Origin)
	r.check("log/tree_size", u(g.TreeSize), u(w.TreeSize))
	r.check("log/root_hash", g.RootHash, w.RootHash)
	r.check("log/checkpoint", g.Checkpoint, w.Checkpoint)
	r.check("log/cosigners", strings.Join(g.Cosigners, ","), strings.Join(w.Cosigners, ","))
	r.check("log/admission_failures", u(g.AdmissionFailures), u(w.AdmissionFailures))
	r.check("log/entries_in_period", u(g.EntriesInPeriod), u(w.EntriesInPeriod))
	r.check("log/first_index", index(g.FirstIndex), index(w.FirstIndex))
	r.check("log/last_index", index(g.LastIndex), index(w.LastIndex))
	compareTables(r, got, want)
	compareRules(r, got.Rules, want.Rules)
	return r.Mismatches
}

func compareTables(r *VerifyResult, got, want *Report) {
	for _, wt := range want.Tables {
		gt := got.Table(wt.ID)
		if gt == nil {
			r.check(wt.ID, "no such table", "a table")
			continue
		}
		r.check(wt.ID+"/columns", strings.Join(gt.Columns, ","), strings.Join(wt.Columns, ","))
		for _, wr := range wt.Rows {
			gr := gt.Row(wr.Key)
			if gr == nil {
				r.check(wt.ID+"/"+wr.Key, "no such row", "a row")
				continue
			}
			for _, c := range wt.Columns {
				gv, ok := gr.Values[c]
				gs := u(gv)
				if !ok {
					gs = "nothing"
				}
				r.check(wt.ID+"/"+wr.Key+"/"+c, gs, u(wr.Values[c]))
			}
		}
		for _, gr := range gt.Rows {
			if wt.Row(gr.Key) == nil {
				r.check(wt.ID+"/"+gr.Key, "a row", "no such row")
			}
		}
	}
	for _, gt := range got.Tables {
		if want.Table(gt.ID) == nil {
			r.check(gt.ID, "a table", "no such table")
		}
	}
}

func compareRules(r *VerifyResult, got, want *Rules) {
	switch {
	case got == nil && want == nil:
		return
	case got == nil:
		r.check("rules", "no rules section", "rules run with config "+want.Config)
		return
	case want == nil:
		r.check("rules", "rules run with config "+got.Config, "no rules section")
		return
	}
	r.check("rules/config", got.Config, want.Config)
	r.check("rules/as_of", got.AsOf, want.AsOf)
	for i := range max(len(got.Violations), len(want.Violations)) {
		gs, ws := "nothing", "nothing"
		if i < len(got.Violations) {
			gs = violationString(got.Violations[i])
		}
		if i < len(want.Violations) {
			ws = violationString(want.Violations[i])
		}
		r.check(fmt.Sprintf("rules/violations[%d]", i), gs, ws)
	}
}

func violationString(v ViolationRef) string {
	return fmt.Sprintf("%s at index %d (entry %s, case %s): %s", v.Rule, v.Index, v.EntryID, v.Case, strings.Join(v.Reasons, "; "))
}
