package report_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/rules"
)

// engine is the real compliance rule engine (verifier/rules) as a
// report.RuleRunner, as the CLI wires it.
type engine struct{ e *rules.Engine }

func newEngine() engine { return engine{rules.New(rules.DefaultConfig())} }

func (r engine) Add(i uint64, e *specs.Entry) []report.Violation { return conv(r.e.Add(i, e)) }
func (r engine) Finish(at time.Time) []report.Violation          { return conv(r.e.Finish(at)) }

func conv(vs []rules.Violation) []report.Violation {
	out := make([]report.Violation, len(vs))
	for i, v := range vs {
		out[i] = report.Violation(v)
	}
	return out
}

// timeline is generated activity of fiscal 2026 up to 2027-03-10, then
// entries a test writes by hand (each agency's seq continued).
type timeline struct {
	s       *signer
	leaves  [][]byte
	entries []map[string]any
	seq     map[string]float64
	n       int
}

func newTimeline(t *testing.T) *timeline {
	cfg := fiscal2026(200)
	cfg.End = time.Date(2027, 3, 10, 0, 0, 0, 0, jst)
	es, err := activity.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	tl := &timeline{s: newSigner(t), seq: map[string]float64{}}
	for _, e := range es {
		var m map[string]any
		if err := json.Unmarshal(e.Public(), &m); err != nil {
			t.Fatal(err)
		}
		tl.entries = append(tl.entries, m)
		tl.seq[e.Agency] = m["seq"].(float64)
		tl.leaves = append(tl.leaves, tl.s.sign(t, e.Agency, e.Public()))
	}
	return tl
}

// first returns the first generated entry satisfying ok.
func (tl *timeline) first(t *testing.T, ok func(m map[string]any) bool) map[string]any {
	for _, m := range tl.entries {
		if ok(m) {
			return m
		}
	}
	t.Fatal("no such generated entry")
	return nil
}

// add signs and appends an entry of agency with the next seq; it returns
// the leaf index.
func (tl *timeline) add(t *testing.T, agency, kind, kase, at string, legal map[string]any, refs []string, body map[string]any) (uint64, string) {
	tl.n++
	tl.seq[agency]++
	id := fmt.Sprintf("TEST-%s-%03d", agency, tl.n)
	if refs == nil {
		refs = []string{}
	}
	e := map[string]any{"id": id, "kind": kind, "schema": specs.EntrySchemaVersion, "agency": agency, "seq": tl.seq[agency],
		"occurred_at": at, "case": kase, "legal_basis": legal, "refs": refs, "body": body}
	raw, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	tl.leaves = append(tl.leaves, tl.s.sign(t, agency, raw))
	return uint64(len(tl.leaves) - 1), id
}

var policeAct = map[string]any{"law": "police-duties-act", "article": "6-2"}

func (tl *timeline) fixture(t *testing.T, origin string) *fixture {
	return newFixture(t, tl.s, testlog.New(t, origin), tl.leaves)
}

func withEngine(t *testing.T) report.Options {
	opts := fy(t, 2026)
	opts.Rules, opts.RulesConfig = newEngine(), "default"
	return opts
}

func violationsOf(r *report.Report, index uint64) []report.ViolationRef {
	var out []report.ViolationRef
	for _, v := range r.Rules.Violations {
		if v.Index == index {
			out = append(out, v)
		}
	}
	return out
}

// A measure that breaks three conditions of R3 (approval decided after
// it started, outside the approved period, for another measure) is one
// violation of R3 with three reasons, in the table, the list and the
// renderings; verify accepts it and refuses an edited reason.
func TestThreeReasonsCountOnce(t *testing.T) {
	tl := newTimeline(t)
	dec := tl.first(t, func(m map[string]any) bool { return m["kind"] == "approval.decided" })
	db := dec["body"].(map[string]any)
	decided, _ := time.Parse(time.RFC3339, db["decided_at"].(string))
	start := decided.Add(-2 * time.Hour).In(jst).Format(time.RFC3339)
	idx, _ := tl.add(t, "mpd", "measure.executed", dec["case"].(string), start, policeAct, []string{dec["id"].(string)}, map[string]any{
		"approval": dec["id"], "executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "order_to_admin",
		"started_at": start, "ended_at": start, "outcome": "no_effect"})
	f := tl.fixture(t, "report.example/three-reasons")
	r := f.build(t, withEngine(t))
	if r.Log.AdmissionFailures != 0 {
		t.Fatalf("%d admission failures", r.Log.AdmissionFailures)
	}
	vs := violationsOf(r, idx)
	if len(vs) != 1 || vs[0].Rule != rules.MeasureAuthorised || len(vs[0].Reasons) != 3 {
		t.Fatalf("violations of the measure: %+v", vs)
	}
	for _, want := range []string{"before its approval", "outside the approved period", "is for transit_sending, not police_measure"} {
		if !strings.Contains(strings.Join(vs[0].Reasons, "\n"), want) {
			t.Errorf("no reason saying %q in %q", want, vs[0].Reasons)
		}
	}
	n := 0
	for _, v := range r.Rules.Violations {
		if v.Rule == rules.MeasureAuthorised {
			n++
		}
	}
	if got := cell(t, r, report.TViolations, rules.MeasureAuthorised, "violations"); got != uint64(n) || n == 0 {
		t.Fatalf("R3: table says %d, list has %d", got, n)
	}
	for _, lang := range []string{report.LangEN, report.LangJA} {
		md, err := report.Markdown(r, report.RenderOptions{Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		for _, reason := range vs[0].Reasons {
			if !strings.Contains(string(md), reason) {
				t.Errorf("report.md (%s) does not show the reason %q", lang, reason)
			}
		}
	}

	ctx := context.Background()
	res, err := report.Verify(ctx, f.pins, f.src, roundTrip(t, r), report.VerifyOptions{Rules: newEngine(), RulesConfig: "default"})
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %+v", err, res)
	}
	bad := roundTrip(t, r)
	for i := range bad.Rules.Violations {
		if bad.Rules.Violations[i].Index == idx {
			bad.Rules.Violations[i].Reasons = bad.Rules.Violations[i].Reasons[:2]
		}
	}
	res, err = report.Verify(ctx, f.pins, f.src, bad, report.VerifyOptions{Rules: newEngine(), RulesConfig: "default"})
	if err != nil || len(res.Mismatches) != 1 || !strings.HasPrefix(res.Mismatches[0].Where, "rules/violations[") {
		t.Fatalf("a dropped reason: %v %+v", err, res)
	}

	// report.json may not list one rule twice for one entry.
	raw, _ := r.Marshal()
	var doc map[string]any
	json.Unmarshal(raw, &doc)
	list := doc["rules"].(map[string]any)["violations"].([]any)
	for i, v := range list {
		if v.(map[string]any)["index"].(float64) == float64(idx) {
			list = append(list[:i+1], list[i:]...)
			break
		}
	}
	doc["rules"].(map[string]any)["violations"] = list
	raw, _ = json.Marshal(doc)
	if _, err := report.Parse(raw); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Fatalf("a repeated violation: %v", err)
	}
}

// A rogue leaf written around the ledger (an acquisition of 内内 traffic,
// signed by its agency but refused by admission) and a leaf that is no
// envelope at all appear in the integrity tables by what they claim.
func TestRogueNaiNaiLeafInIntegrity(t *testing.T) {
	tl := newTimeline(t)
	dec := tl.first(t, func(m map[string]any) bool {
		return m["kind"] == "approval.decided"
	})
	tl.add(t, "nco", "acquisition.started", dec["case"].(string), "2026-12-01T10:00:00+09:00",
		map[string]any{"law": "acd-act", "article": "17"}, []string{dec["id"].(string)},
		map[string]any{"channel": "transit_sending", "approval": dec["id"], "direction": "NAINAI", "started_at": "2026-12-01T10:00:00+09:00"})
	tl.leaves = append(tl.leaves, []byte(`not an envelope`))
	f := tl.fixture(t, "report.example/rogue")
	r := f.build(t, withEngine(t))
	if r.Log.AdmissionFailures != 2 {
		t.Fatalf("%d admission failures, want 2", r.Log.AdmissionFailures)
	}
	if got := cell(t, r, report.TIntegrityByKind, "acquisition.started", "naming_nainai"); got != 1 {
		t.Fatalf("integrity_by_kind acquisition.started naming_nainai = %d", got)
	}
	if got := cell(t, r, report.TIntegrityByKind, "acquisition.started", "failures"); got != 1 {
		t.Fatalf("integrity_by_kind acquisition.started failures = %d", got)
	}
	if got := cell(t, r, report.TIntegrityDirections, "NAINAI", "failures"); got != 1 {
		t.Fatalf("integrity_directions NAINAI = %d", got)
	}
	if got := cell(t, r, report.TIntegrityByKind, "unreadable", "failures"); got != 1 {
		t.Fatalf("integrity_by_kind unreadable = %d", got)
	}
	var sum uint64
	for _, row := range r.Table(report.TIntegrityByKind).Rows {
		sum += row.Values["failures"]
	}
	if sum != r.Log.AdmissionFailures {
		t.Fatalf("integrity_by_kind adds up to %d, admission_failures %d", sum, r.Log.AdmissionFailures)
	}
	// Nothing the rogue leaf claims reaches another figure.
	if got := cell(t, r, report.TAcquisitions, "transit_sending", "started"); got != cell(t, f.buildNoRogue(t, tl), report.TAcquisitions, "transit_sending", "started") {
		t.Fatalf("the rogue acquisition was counted in acquisitions")
	}
	md, err := report.Markdown(r, report.RenderOptions{Lang: report.LangEN})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "naming NAINAI (内内)") {
		t.Fatalf("report.md has no integrity table naming NAINAI:\n%s", md)
	}
	res, err := report.Verify(context.Background(), f.pins, f.src, roundTrip(t, r), report.VerifyOptions{Rules: newEngine(), RulesConfig: "default"})
	if err != nil || !res.OK() {
		t.Fatalf("verify: %v %+v", err, res)
	}
	bad := roundTrip(t, r)
	bad.Table(report.TIntegrityDirections).Row("NAINAI").Values["failures"] = 0
	res, err = report.Verify(context.Background(), f.pins, f.src, bad, report.VerifyOptions{Rules: newEngine(), RulesConfig: "default"})
	if err != nil || len(res.Mismatches) != 1 || res.Mismatches[0].Where != "integrity_directions/NAINAI/failures" {
		t.Fatalf("edited integrity figure: %v %+v", err, res)
	}
}

// buildNoRogue is the report over the generated activity alone.
func (f *fixture) buildNoRogue(t *testing.T, tl *timeline) *report.Report {
	other := newFixture(t, tl.s, testlog.New(t, "report.example/clean"), tl.leaves[:len(tl.entries)])
	return other.build(t, fy(t, 2026))
}

// An emergency measure near the end of the year whose notice never comes
// is reported (R4) although no entry of the log is later than it: the
// rules are judged as of the period's end plus the grace, not as of the
// newest entry.
func TestDeadlineAtYearEndWithoutLaterEntry(t *testing.T) {
	tl := newTimeline(t)
	at := "2027-03-30T10:00:00+09:00" // notice due 03-31 10:00, judged once 72h past it
	idx, _ := tl.add(t, "mpd", "measure.executed", "MPD-LATE-1", at, policeAct, nil, map[string]any{
		"emergency": true, "executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
		"started_at": at, "ended_at": at, "outcome": "neutralized"})
	f := tl.fixture(t, "report.example/year-end")
	r := f.build(t, withEngine(t))
	if r.Rules.AsOf != "2027-04-04T00:00:00+09:00" {
		t.Fatalf("as_of %s, want the period's end plus 72h", r.Rules.AsOf)
	}
	vs := violationsOf(r, idx)
	if len(vs) != 1 || vs[0].Rule != rules.EmergencyNotice {
		t.Fatalf("violations of the late measure: %+v", vs)
	}
	// With no grace the engine still waits max_record_lag past the
	// deadline: the breach is not yet judged, and the report says as of when.
	opts := withEngine(t)
	opts.Parameters.DeadlineGraceSeconds = 0
	r0 := f.build(t, opts)
	if r0.Rules.AsOf != "2027-04-01T00:00:00+09:00" || len(violationsOf(r0, idx)) != 0 {
		t.Fatalf("grace 0: as of %s, %+v", r0.Rules.AsOf, violationsOf(r0, idx))
	}
	md, err := report.Markdown(r, report.RenderOptions{Lang: report.LangEN})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "2027-04-04 00:00 JST") || !strings.Contains(string(md), "3 days") {
		t.Fatalf("report.md does not state as_of and the grace:\n%s", md)
	}
}

// The defaults table of specs/report.md is the code's: each
// parameters.X row says "default N" with N what DefaultParameters gives.
func TestSpecParameterDefaults(t *testing.T) {
	doc, err := os.ReadFile("../../specs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(report.DefaultParameters())
	var want map[string]int64
	json.Unmarshal(raw, &want)
	re := regexp.MustCompile("(?m)^\\| `parameters\\.([a-z_]+)` \\| default ([0-9]+)\\b")
	got := map[string]int64{}
	for _, m := range re.FindAllStringSubmatch(string(doc), -1) {
		n, _ := strconv.ParseInt(m[2], 10, 64)
		got[m[1]] = n
	}
	if len(got) != len(want) {
		t.Fatalf("specs/report.md gives defaults %v, the code %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("parameters.%s: specs/report.md says default %d, the code %d", k, got[k], v)
		}
	}
}
