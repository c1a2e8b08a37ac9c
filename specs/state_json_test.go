package specs_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
)

func TestLogStateJSON(t *testing.T) {
	s := specs.NewLogState()
	s.Record(specs.Header{ID: "A", Kind: "acquisition.started", Agency: "nco", Case: "C-1", Seq: 1}, 0)
	s.Record(specs.Header{ID: "B", Kind: "selection.batch", Agency: "nco", Case: "C-1", Seq: 2}, 1)
	s.Record(specs.Header{ID: "C", Kind: "mofa.consulted", Agency: "npa", Case: "C-2", Seq: 1}, 2)
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	r := specs.NewLogState()
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatal(err)
	}
	if i, ok := r.IndexOf("C"); !ok || i != 2 || r.LastSeq("nco") != 2 || r.Len() != 3 {
		t.Fatalf("restored state: %s", raw)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"unknown field", `{"version":2,"ids":{},"extra":1}`, `unknown field "extra"`},
		{"version 1", `{"last_seq":{"nco":1},"ids":{"A":0}}`, `saved by an older acdledger`},
		{"version 3", `{"version":3}`, `version 3, want 2`},
		{"zero seq", `{"version":2,"last_seq":{"nco":0}}`, `agency "nco" has last seq 0`},
		{"pending index", `{"version":2,"ids":{"A":[18446744073709551615,0,0,0]}}`, `entry "A" has no index`},
		{"short tuple", `{"version":2,"ids":{"A":[0,0,0]}}`, `entry "A": 3 numbers, want 4`},
		{"kind past its table", `{"version":2,"kinds":["provision"],"ids":{"A":[0,2,0,0]}}`, `past its table`},
		{"case past its table", `{"version":2,"ids":{"A":[0,0,0,1]}}`, `past its table`},
		{"empty table string", `{"version":2,"cases":[""]}`, `cases[0] is empty`},
		{"repeated table string", `{"version":2,"agencies":["nco","nco"]}`, `agencies[1] "nco" is listed twice`},
		{"not a kind", `{"version":2,"kinds":["selection.batch","approval.granted"]}`, `kinds[1] "approval.granted": not a kind`},
		{"not an object", `[1]`, "log state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.raw), specs.NewLogState())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// A restored state checks references as the state it was saved from: what
// refs.kind needs (kind, agency, case) survives the round trip.
func TestLogStateJSONKeepsRefTargets(t *testing.T) {
	kit := testkit.New(t)
	s := specs.NewLogState()
	acq := kit.Entry("nco")
	acq["kind"] = "acquisition.started"
	acq["legal_basis"] = map[string]any{"law": "acd-act", "article": "13"}
	acq["body"] = map[string]any{"channel": "agreement", "agreement": "AG", "direction": "GAINAI", "started_at": "2026-06-01T10:00:00+09:00"}
	s.Record(specs.Header{ID: "AG", Kind: "agreement.concluded", Agency: "nco", Case: "CASE-1", Seq: 0}, 0)
	acq["refs"] = []string{"AG"}
	a, err := kit.Registry.Verify(kit.Sign(t, "nco", acq))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckVerified(a); err != nil {
		t.Fatal(err)
	}
	s.Accept(a, 1)
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	r := specs.NewLogState()
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatal(err)
	}
	stop := func(kase string) *specs.Admitted {
		e := kit.Entry("nco")
		kit.Unseq("nco")
		e["kind"], e["case"] = "acquisition.stopped", kase
		e["legal_basis"] = map[string]any{"law": "acd-act", "article": "13"}
		e["refs"] = []string{acq["id"].(string)}
		e["body"] = map[string]any{"acquisition": acq["id"], "stopped_at": "2026-06-02T10:00:00+09:00", "reason": "purpose_achieved"}
		a, err := kit.Registry.Verify(kit.Sign(t, "nco", e))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	if err := r.CheckVerified(stop("CASE-1")); err != nil {
		t.Fatalf("restored state refuses a good reference: %v", err)
	}
	var v *specs.Violation
	if err := r.CheckVerified(stop("CASE-2")); !errors.As(err, &v) || v.Rule != specs.RuleRefKind ||
		v.Message != "body.acquisition names "+acq["id"].(string)+" (acquisition.started of agency nco, case CASE-1); it must name an acquisition.started of agency nco, case CASE-2" {
		t.Fatalf("restored state: %v", err)
	}
}
