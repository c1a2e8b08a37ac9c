package verifier_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// A log written with no admission in the way, whose entries are all
// properly signed but break compliance rules: the audit runs the rules
// over it and reports exactly the expected violations, by index, next to
// the admission failure of the NAINAI entry (which the rules catch too).
func TestAuditRunsRules(t *testing.T) {
	kit := testsign.New(t,
		testsign.Agency{ID: "nco", Role: "agency", Kinds: []string{"approval.requested", "acquisition.started", "selection.batch"}},
		testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}},
		testsign.Agency{ID: "commission", Role: "commission", Kinds: []string{"approval.decided"}})
	entry := func(agency, id, kind string, basis map[string]any, body map[string]any, refs ...string) []byte {
		return kit.Entry(t, agency, id, kind, basis, body, refs, nil)
	}
	acd := map[string]any{"law": "acd-act", "article": "17", "paragraph": "1"}
	l := testlog.New(t, "test.example/rules")
	l.Add(t,
		entry("nco", "REQ", "approval.requested", acd, map[string]any{"measure": "transit_sending", "direction": "GAIGAI",
			"requested_from": "2026-06-02T00:00:00+09:00", "requested_until": "2026-06-30T00:00:00+09:00",
			"grounds": map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}}),
		entry("commission", "DEC", "approval.decided", acd, map[string]any{"request": "REQ", "decision": "rejected", "decided_at": "2026-06-01T15:00:00+09:00"}, "REQ"),
		// R1: an acquisition under a rejected approval.
		entry("nco", "ACQ", "acquisition.started", acd, map[string]any{"channel": "transit_sending", "approval": "DEC", "direction": "GAIGAI",
			"started_at": "2026-06-02T10:00:00+09:00"}, "DEC"),
		// R7 (and the admission rule direction.nainai): a NAINAI row.
		entry("nco", "BAT", "selection.batch", map[string]any{"law": "acd-act", "article": "22", "paragraph": "1"}, map[string]any{
			"acquisition": "ACQ", "dataset": "DS-1", "window_start": "2026-06-03T09:00:00+09:00", "window_end": "2026-06-03T10:00:00+09:00",
			"n_in": 10, "n_selected": 0, "n_deleted": 10, "counts": []any{map[string]any{"direction": "NAINAI", "category": "HEADER_META", "n": 0}},
			"rule_hash": "sha256:" + strings.Repeat("0", 64), "nonidentified": true, "deleted_at": "2026-06-03T10:00:01+09:00"}, "ACQ"),
		// R3: a measure with neither approval nor emergency.
		entry("npa", "MEAS", "measure.executed", map[string]any{"law": "police-duties-act", "article": "6-2"}, map[string]any{
			"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-06-05T00:00:00+09:00", "ended_at": "2026-06-05T01:00:00+09:00", "outcome": "neutralized"}),
	)
	regFile := filepath.Join(t.TempDir(), "registry.json")
	os.WriteFile(regFile, kit.RegJSON, 0o644)
	pins, err := verifier.LoadPins(l.VkeyFile, "", regFile)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := pins.Audit(context.Background(), src, verifier.AuditOptions{Rules: rules.New(rules.DefaultConfig()), RulesAsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if r.FailureCount != 1 || r.Failures[0].Index != 3 || r.Failures[0].Rule != "direction.nainai" {
		t.Fatalf("admission failures: %+v", r.Failures)
	}
	rr := r.Rules
	if rr == nil || rr.Checked != 5 || !rr.AsOf.Equal(asOf) || r.Compliant() {
		t.Fatalf("rules report: %+v", rr)
	}
	var got []string
	for _, v := range rr.Violations {
		got = append(got, fmt.Sprintf("%s@%d:%s", v.Rule, v.Index, v.EntryID))
	}
	if want := "R1@2:ACQ R7@3:BAT R3@4:MEAS"; strings.Join(got, " ") != want || rr.ViolationCount != 3 || rr.ByRule["R1"] != 1 {
		t.Fatalf("violations %v, want %s", got, want)
	}

	// Without rules, the report has none and the log's only problem is the
	// admission failure.
	r, err = pins.Audit(context.Background(), src, verifier.AuditOptions{})
	if err != nil || r.Rules != nil || !r.Compliant() {
		t.Fatalf("audit without rules: %+v %v", r.Rules, err)
	}
}
