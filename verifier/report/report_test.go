package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// yearEntries is a year of activity: tens of thousands of entries, fewer
// under the race detector (which slows signing and checking several times).
func yearEntries() int {
	if raceEnabled {
		return 2000
	}
	return 30000
}

// A year of activity: the report's figures agree with counts made
// directly from the generated payloads, report.json is byte-for-byte
// reproducible, and Verify passes on it.
func TestYearReportVerifies(t *testing.T) {
	s := newSigner(t)
	cfg := fiscal2026(yearEntries())
	leaves := s.activityLeaves(t, cfg)
	f := newFixture(t, s, testlog.New(t, "report.example/year"), leaves)
	r := f.build(t, fy(t, 2026))

	if r.Log.TreeSize != uint64(len(leaves)) || r.Log.AdmissionFailures != 0 {
		t.Fatalf("log binding %+v", r.Log)
	}
	if r.Log.EntriesInPeriod != uint64(len(leaves)) || *r.Log.FirstIndex != 0 || *r.Log.LastIndex != uint64(len(leaves)-1) {
		t.Fatalf("period: %d entries, range [%d, %d]", r.Log.EntriesInPeriod, *r.Log.FirstIndex, *r.Log.LastIndex)
	}
	checkAgainstPayloads(t, r, cfg)

	res, err := report.Verify(context.Background(), f.pins, f.src, roundTrip(t, r), report.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() {
		t.Fatalf("verify of an untouched report: %v", res.Mismatches)
	}
}

// checkAgainstPayloads recounts some figures the simplest way, from the
// generator's JSON, independently of the builder.
func checkAgainstPayloads(t *testing.T, r *report.Report, cfg activity.Config) {
	t.Helper()
	entries, err := activity.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string]uint64{}
	requests := map[string]uint64{}
	volumes := map[string]uint64{}
	var emergency, approved uint64
	for _, e := range entries {
		var m struct {
			Kind string         `json:"kind"`
			Body map[string]any `json:"body"`
		}
		if err := json.Unmarshal(e.Payload, &m); err != nil {
			t.Fatal(err)
		}
		byKind[m.Kind]++
		switch m.Kind {
		case "approval.requested":
			if m.Body["measure"] != "extension" {
				requests[m.Body["measure"].(string)]++
			}
		case "selection.batch":
			for _, c := range m.Body["counts"].([]any) {
				c := c.(map[string]any)
				volumes[c["direction"].(string)] += uint64(c["n"].(float64))
			}
		case "measure.executed":
			if m.Body["emergency"] == true {
				emergency++
			} else {
				approved++
			}
		}
	}
	for kind, n := range byKind {
		if got := cell(t, r, report.TEntriesByKind, kind, "entries"); got != n {
			t.Errorf("entries of kind %s: report %d, payloads %d", kind, got, n)
		}
	}
	for m, n := range requests {
		if got := cell(t, r, report.TApprovals, m, "requests"); got != n {
			t.Errorf("requests for %s: report %d, payloads %d", m, got, n)
		}
	}
	for d, n := range volumes {
		if got := cell(t, r, report.TSelectionVolumes, d, "total"); got != n {
			t.Errorf("selected records %s: report %d, payloads %d", d, got, n)
		}
	}
	var em, ap uint64
	for _, m := range []string{"police_measure", "police_measure_abroad", "sdf_protection"} {
		em += cell(t, r, report.TMeasures, m, "emergency")
		ap += cell(t, r, report.TMeasures, m, "approved_in_advance")
	}
	if em != emergency || ap != approved || em == 0 || ap == 0 {
		t.Errorf("measures: report %d emergency %d approved, payloads %d and %d", em, ap, emergency, approved)
	}
	var months uint64
	for _, row := range r.Table(report.TMonthly).Rows {
		months += row.Values["entries"]
	}
	if months != uint64(len(entries)) {
		t.Errorf("monthly entries add up to %d, want %d", months, len(entries))
	}
	if cell(t, r, report.TSelectionVolumes, "NAINAI", "total") != 0 || cell(t, r, report.TSelectionVolumes, "GAINAI", "ESSENTIAL_CONTENT") != 0 {
		t.Error("forbidden volumes are not zero")
	}
}

// One edited figure anywhere is named with its table, row and column (or
// path), and nothing else is.
func TestVerifyNamesTamperedFigure(t *testing.T) {
	s := newSigner(t)
	f := newFixture(t, s, testlog.New(t, "report.example/tamper"), s.activityLeaves(t, fiscal2026(600)))
	orig := f.build(t, fy(t, 2026))
	raw, _ := orig.Marshal()
	again, _ := f.build(t, fy(t, 2026)).Marshal()
	if !bytes.Equal(raw, again) {
		t.Fatal("two builds over the same checkpoint give different report.json")
	}

	cases := []struct {
		name  string
		edit  func(r *report.Report)
		where string
	}{
		{"cell", func(r *report.Report) { r.Table(report.TApprovals).Row("transit_sending").Values["approved"]++ }, "approvals/transit_sending/approved"},
		{"volume", func(r *report.Report) { r.Table(report.TSelectionVolumes).Row("GAIGAI").Values["total"] -= 1 }, "selection_volumes/GAIGAI/total"},
		{"month", func(r *report.Report) { r.Table(report.TMonthly).Rows[3].Values["entries"] += 10 }, "monthly/2026-07/entries"},
		{"period count", func(r *report.Report) { r.Log.EntriesInPeriod-- }, "log/entries_in_period"},
		{"last index", func(r *report.Report) { *r.Log.LastIndex-- }, "log/last_index"},
		{"period", func(r *report.Report) { r.Period.Until = "2027-05-01T00:00:00+09:00" }, "period/until"},
		{"dropped row", func(r *report.Report) {
			tb := r.Table(report.TProvisions)
			tb.Rows = tb.Rows[1:]
		}, "provisions/agency"},
		{"added row", func(r *report.Report) {
			tb := r.Table(report.TEntriesByAgency)
			tb.Rows = append(tb.Rows, report.Row{Key: "ghost", Values: map[string]uint64{"entries": 1}})
		}, "entries_by_agency/ghost"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := report.Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			c.edit(r)
			r = roundTrip(t, r)
			var ms []report.Mismatch
			if i == 0 {
				// The whole way once: replay the log and compare.
				res, err := report.Verify(context.Background(), f.pins, f.src, r, report.VerifyOptions{})
				if err != nil {
					t.Fatal(err)
				}
				ms = res.Mismatches
			} else {
				ms = report.Compare(r, orig)
			}
			if len(ms) != 1 || ms[0].Where != c.where {
				t.Fatalf("want exactly one mismatch at %s, got %v", c.where, ms)
			}
			if !strings.Contains(ms[0].String(), "report says") {
				t.Fatalf("message %q", ms[0])
			}
		})
	}
}

// The report is bound to its checkpoint: a log that grew honestly still
// verifies it; a log under the same name and key whose tree at the
// recorded size differs (one more entry slipped in, or one entry replaced)
// is caught before any figure is compared; so is a checkpoint that the
// pinned key did not sign, or plain fields that disagree with the note.
func TestVerifyBindsCheckpoint(t *testing.T) {
	s := newSigner(t)
	leaves := s.activityLeaves(t, fiscal2026(700))
	n := len(leaves) - 100
	a := newFixture(t, s, testlog.New(t, "report.example/bound"), leaves[:n])
	rep := roundTrip(t, a.build(t, fy(t, 2026)))
	ctx := context.Background()

	t.Run("grown", func(t *testing.T) {
		a.log.Add(t, leaves[n:]...)
		res, err := report.Verify(ctx, a.pins, a.src, rep, report.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() || !res.Grown || res.CurrentSize != uint64(len(leaves)) {
			t.Fatalf("grown log: %+v", res)
		}
	})

	t.Run("one more entry under the same name", func(t *testing.T) {
		// Same key, same origin; the operator's other history has one
		// more entry early on, so its tree at the recorded size differs.
		extra := s.sign(t, "commission", []byte(`{"id":"EXTRA-1","kind":"inspection","schema":2,"agency":"commission","seq":1,`+
			`"occurred_at":"2026-04-01T09:00:00+09:00","case":"COM-X","legal_basis":{"law":"acd-act","article":"63","paragraph":"1"},"refs":[],`+
			`"body":{"paragraph":"1","target_agency":"nco","period_from":"2026-03-01T00:00:00+09:00","period_until":"2026-03-31T00:00:00+09:00","findings":0}}`))
		other := append([][]byte{leaves[0], extra}, leaves[1:n]...)
		b := newFixture(t, s, testlog.WithKey(t, a.log.Skey, a.log.Vkey), other)
		_, err := report.Verify(ctx, b.pins, b.src, rep, report.VerifyOptions{})
		var inc *tlog.InconsistentError
		if !errors.Is(err, report.ErrCheckpoint) || !errors.As(err, &inc) {
			t.Fatalf("want an inconsistency, got %v", err)
		}
	})

	t.Run("same size, one entry different", func(t *testing.T) {
		other := append([][]byte{}, leaves[:n-1]...)
		other = append(other, leaves[n])
		b := newFixture(t, s, testlog.WithKey(t, a.log.Skey, a.log.Vkey), other)
		_, err := report.Verify(ctx, b.pins, b.src, rep, report.VerifyOptions{})
		var fork *tlog.ForkError
		if !errors.Is(err, report.ErrCheckpoint) || !errors.As(err, &fork) {
			t.Fatalf("want a fork, got %v", err)
		}
	})

	t.Run("another log key", func(t *testing.T) {
		b := newFixture(t, s, testlog.New(t, "report.example/bound"), leaves[:n])
		_, err := report.Verify(ctx, b.pins, b.src, rep, report.VerifyOptions{})
		if !errors.Is(err, report.ErrCheckpoint) || !errors.Is(err, tlog.ErrBadSignature) {
			t.Fatalf("want a bad signature, got %v", err)
		}
	})

	t.Run("fields disagree with the note", func(t *testing.T) {
		r := *rep
		r.Log.TreeSize++
		res, err := report.Verify(ctx, a.pins, a.src, &r, report.VerifyOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Mismatches) != 1 || res.Mismatches[0].Where != "log/tree_size" {
			t.Fatalf("mismatches %v", res.Mismatches)
		}
	})
}

// testRules is a small rule engine of the test's own: every emergency
// measure is a finding when added, and at the end one finding per
// approval request never decided, about the request.
type testRules struct {
	requests map[string]uint64
	finishAt time.Time
}

func (r *testRules) Add(i uint64, e *specs.Entry) []report.Violation {
	if r.requests == nil {
		r.requests = map[string]uint64{}
	}
	switch e.Kind {
	case "approval.requested":
		r.requests[e.ID] = i
	case "approval.decided":
		var b struct{ Request string }
		json.Unmarshal(e.Body, &b)
		delete(r.requests, b.Request)
	case "measure.executed":
		if bytes.Contains(e.Body, []byte(`"emergency":true`)) {
			return []report.Violation{{Rule: "test.emergency", Index: i, EntryID: e.ID, Case: e.Case, Reason: "emergency"}}
		}
	}
	return nil
}

func (r *testRules) Finish(asOf time.Time) []report.Violation {
	r.finishAt = asOf
	var out []report.Violation
	for id, i := range r.requests {
		out = append(out, report.Violation{Rule: "test.undecided", Index: i, EntryID: id})
	}
	return out
}

// Violations of entries in the period are listed and counted by rule;
// those of entries outside it are not. Verify needs the rules to check
// such a report, and names a changed violation.
func TestReportRules(t *testing.T) {
	s := newSigner(t)
	// Two fiscal years of activity; the report covers the first.
	cfg := fiscal2026(500)
	cfg.End = time.Date(2028, 3, 1, 0, 0, 0, 0, jst)
	f := newFixture(t, s, testlog.New(t, "report.example/rules"), s.activityLeaves(t, cfg))
	opts := fy(t, 2026)
	rules := &testRules{}
	opts.Rules, opts.RulesConfig = rules, "test-rules/1"
	r := f.build(t, opts)

	if r.Rules == nil || r.Table(report.TViolations) == nil {
		t.Fatal("no rules section")
	}
	wantAsOf := time.Date(2027, 4, 4, 0, 0, 0, 0, jst) // the period's end + 72h, the default grace
	if !rules.finishAt.Equal(wantAsOf) || r.Rules.AsOf != "2027-04-04T00:00:00+09:00" {
		t.Fatalf("as of %s / %s, want the period's end plus the grace", rules.finishAt, r.Rules.AsOf)
	}
	var em uint64
	for _, m := range []string{"police_measure", "police_measure_abroad", "sdf_protection"} {
		em += cell(t, r, report.TMeasures, m, "emergency")
	}
	if got := cell(t, r, report.TViolations, "test.emergency", "violations"); got != em || em == 0 {
		t.Fatalf("test.emergency: %d violations, %d emergency measures in the period", got, em)
	}
	for _, v := range r.Rules.Violations {
		if v.Index < *r.Log.FirstIndex || v.Index > *r.Log.LastIndex {
			t.Fatalf("violation outside the period's entries: %+v", v)
		}
	}

	ctx := context.Background()
	_, err := report.Verify(ctx, f.pins, f.src, roundTrip(t, r), report.VerifyOptions{})
	if !errors.Is(err, verifier.ErrInput) {
		t.Fatalf("verify without rules: %v", err)
	}
	res, err := report.Verify(ctx, f.pins, f.src, roundTrip(t, r), report.VerifyOptions{Rules: &testRules{}, RulesConfig: "test-rules/1"})
	if err != nil || !res.OK() {
		t.Fatalf("verify with rules: %v %v", err, res)
	}
	bad := roundTrip(t, r)
	bad.Rules.Violations[0].EntryID = "SOMEONE-ELSE"
	res, err = report.Verify(ctx, f.pins, f.src, bad, report.VerifyOptions{Rules: &testRules{}, RulesConfig: "test-rules/1"})
	if err != nil || len(res.Mismatches) != 1 || res.Mismatches[0].Where != "rules/violations[0]" {
		t.Fatalf("edited violation: %v %v", err, res)
	}
}
