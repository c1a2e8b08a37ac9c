package rules

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// logb builds a log of entries for the engine, in order.
type logb struct {
	entries []*specs.Entry
	cov     map[string]Coverage
}

// j is a JST timestamp on a day of 2026: j("06-02T10:00").
func j(s string) string { return "2026-" + s + ":00+09:00" }

func (l *logb) add(id, kind, agency, at string, body map[string]any, refs ...string) {
	raw, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	if refs == nil {
		refs = []string{}
	}
	l.entries = append(l.entries, &specs.Entry{ID: id, Kind: kind, Schema: 1, Agency: agency, OccurredAt: at, Case: "CASE-" + agency,
		LegalBasis: specs.LegalBasis{Law: "acd-act", Article: "17"}, Refs: refs, Body: raw})
}

// edit changes the body of entry id.
func (l *logb) edit(id string, fn func(b map[string]any)) *logb {
	e := l.find(id)
	var b map[string]any
	json.Unmarshal(e.Body, &b)
	fn(b)
	e.Body, _ = json.Marshal(b)
	return l
}

func (l *logb) find(id string) *specs.Entry {
	for _, e := range l.entries {
		if e.ID == id {
			return e
		}
	}
	panic("no entry " + id)
}

// without drops entries (and every mention of them in refs).
func (l *logb) without(ids ...string) *logb {
	l.entries = slices.DeleteFunc(l.entries, func(e *specs.Entry) bool { return slices.Contains(ids, e.ID) })
	for _, e := range l.entries {
		e.Refs = slices.DeleteFunc(e.Refs, func(r string) bool { return slices.Contains(ids, r) })
	}
	return l
}

func (l *logb) indexOf(id string) uint64 {
	for i, e := range l.entries {
		if e.ID == id {
			return uint64(i)
		}
	}
	panic("no entry " + id)
}

// run feeds the log to a fresh engine and finishes as of asOf.
func (l *logb) run(cfg Config, asOf time.Time) []Violation {
	e := New(cfg)
	var out []Violation
	for i, x := range l.entries {
		out = append(out, e.AddCovered(uint64(i), x, l.cov[x.ID])...)
	}
	return append(out, e.Finish(asOf)...)
}

// compliant is a small log that follows every rule: a transit sending
// measure with a batch, a deletion and a stop; an agreement acquisition; a
// foreign provision; a police measure abroad after consulting MOFA; an
// emergency measure and its notice; an SDF protection measure on the
// Prime Minister's order; a demand answered in time.
func compliant() *logb {
	l := &logb{cov: map[string]Coverage{}}
	grounds := map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}
	l.add("REQ", "approval.requested", "nco", j("06-01T09:00"), map[string]any{"measure": "transit_sending", "direction": "GAIGAI",
		"requested_from": j("06-02T00:00"), "requested_until": j("06-30T00:00"), "grounds": grounds})
	l.add("DEC", "approval.decided", "commission", j("06-01T15:00"), map[string]any{"request": "REQ", "decision": "approved",
		"decided_at": j("06-01T15:00"), "approved_from": j("06-02T00:00"), "approved_until": j("06-30T00:00")}, "REQ")
	l.add("ACQ", "acquisition.started", "nco", j("06-02T10:00"), map[string]any{"channel": "transit_sending", "approval": "DEC",
		"direction": "GAIGAI", "started_at": j("06-02T10:00")}, "DEC")
	l.add("BAT", "selection.batch", "nco", j("06-03T10:00"), map[string]any{"acquisition": "ACQ", "dataset": "DS-1",
		"window_start": j("06-03T09:00"), "window_end": j("06-03T10:00"), "n_in": 100, "n_selected": 10, "n_deleted": 90,
		"counts": []any{
			map[string]any{"direction": "GAIGAI", "category": "HEADER_META", "n": 10},
			map[string]any{"direction": "GAIGAI", "category": "ESSENTIAL_CONTENT", "n": 0},
		}, "rule_hash": "sha256:" + strings.Repeat("a", 64), "nonidentified": true, "deleted_at": "2026-06-03T10:00:05+09:00"}, "ACQ")
	l.add("DEL", "retention.deleted", "nco", j("06-10T00:00"), map[string]any{"dataset": "DS-1", "batch": "BAT",
		"created_at": j("06-03T10:00"), "deleted_at": j("06-10T00:00"), "n": 10}, "BAT")
	l.add("STOP", "acquisition.stopped", "nco", j("06-20T00:00"), map[string]any{"acquisition": "ACQ", "stopped_at": j("06-20T00:00"), "reason": "purpose_achieved"}, "ACQ")
	l.add("AG", "agreement.concluded", "nco", j("06-01T00:00"), map[string]any{"agreement_id": "AG-1", "sector": "energy", "direction": "GAINAI",
		"valid_from": j("06-01T00:00"), "valid_until": j("09-01T00:00"), "other_use_consent": false, "scope_hash": "sha256:" + strings.Repeat("b", 64)})
	l.add("ACQ2", "acquisition.started", "nco", j("06-02T00:00"), map[string]any{"channel": "agreement", "agreement": "AG", "direction": "GAINAI", "started_at": j("06-02T00:00")}, "AG")
	l.add("STOP2", "acquisition.stopped", "nco", j("08-30T00:00"), map[string]any{"acquisition": "ACQ2", "stopped_at": j("08-30T00:00"), "reason": "period_ended"}, "ACQ2")
	l.add("PROV", "provision", "nco", j("06-12T00:00"), map[string]any{"recipient_class": "foreign_government", "data_class": "analysis",
		"categories": []any{"HEADER_META"}, "deidentified": true, "source": "BAT", "purpose": "incident_response", "provided_at": j("06-12T00:00")}, "BAT")
	l.add("MOFA", "mofa.consulted", "npa", j("06-05T00:00"), map[string]any{"consulted_at": j("06-05T00:00")})
	l.add("REQ2", "approval.requested", "npa", j("06-05T12:00"), map[string]any{"measure": "police_measure_abroad", "target_location": "foreign",
		"requested_from": j("06-06T12:00"), "requested_until": j("06-10T00:00"), "grounds": grounds}, "MOFA")
	l.add("DEC2", "approval.decided", "commission", j("06-06T00:00"), map[string]any{"request": "REQ2", "decision": "approved",
		"decided_at": j("06-06T00:00"), "approved_from": j("06-06T12:00"), "approved_until": j("06-10T00:00")}, "REQ2")
	l.add("M1", "measure.executed", "npa", j("06-07T00:00"), map[string]any{"executor": "police", "measure": "police_measure_abroad",
		"target_location": "foreign", "mode": "direct", "approval": "DEC2", "started_at": j("06-07T00:00"), "ended_at": j("06-07T03:00"), "outcome": "neutralized"}, "DEC2")
	l.add("M2", "measure.executed", "npa", j("06-08T00:00"), map[string]any{"executor": "police", "measure": "police_measure",
		"target_location": "domestic", "mode": "direct", "emergency": true, "started_at": j("06-08T00:00"), "ended_at": j("06-08T01:00"), "outcome": "neutralized"})
	l.add("N2", "emergency.notice", "npa", j("06-08T02:00"), map[string]any{"measure": "M2", "reason": "imminent_serious_harm",
		"acted_at": j("06-08T00:00"), "notified_at": j("06-08T02:00")}, "M2")
	l.add("PM", "pm.ordered", "sdf", j("06-09T00:00"), map[string]any{"order_id": "PM-1", "ordered_at": j("06-09T00:00")})
	l.add("M3", "measure.executed", "sdf", j("06-10T00:00"), map[string]any{"executor": "sdf", "measure": "sdf_protection",
		"target_location": "domestic", "mode": "direct", "emergency": true, "started_at": j("06-10T00:00"), "ended_at": j("06-10T01:00"), "outcome": "neutralized"}, "PM")
	l.add("N3", "emergency.notice", "sdf", j("06-10T03:00"), map[string]any{"measure": "M3", "reason": "imminent_serious_harm",
		"acted_at": j("06-10T00:00"), "notified_at": j("06-10T03:00")}, "M3")
	l.add("DEM", "demand", "commission", j("06-15T00:00"), map[string]any{"target_agency": "nco", "subject": "handling_records",
		"issued_at": j("06-15T00:00"), "due": j("07-15T00:00")})
	l.add("RESP", "response", "nco", j("07-01T00:00"), map[string]any{"to": "DEM", "responded_at": j("07-01T00:00"), "status": "accepted"}, "DEM")
	return l
}

// asOf is long after every deadline of the compliant log.
var asOf = time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC)

// want is a violation expected of a test log: rule and the id of the
// entry it is charged to (turned into its index), or "@index".
type want struct{ rule, id string }

func check(t *testing.T, l *logb, got []Violation, wants ...want) {
	t.Helper()
	var g, w []string
	for _, v := range got {
		g = append(g, fmt.Sprintf("%s@%d", v.Rule, v.Index))
		if v.EntryID != l.entries[v.Index].ID {
			t.Errorf("violation %+v: entry id is not that of index %d (%s)", v, v.Index, l.entries[v.Index].ID)
		}
		if v.Reason == "" {
			t.Errorf("violation %+v has no reason", v)
		}
	}
	for _, x := range wants {
		if strings.HasPrefix(x.id, "@") {
			w = append(w, x.rule+x.id)
			continue
		}
		w = append(w, fmt.Sprintf("%s@%d", x.rule, l.indexOf(x.id)))
	}
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Errorf("got violations %v, want %v", g, w)
		for _, v := range got {
			t.Logf("  %s %s@%d: %s", v.Rule, v.EntryID, v.Index, v.Reason)
		}
	}
}

func TestCompliantLog(t *testing.T) {
	l := compliant()
	check(t, l, l.run(DefaultConfig(), asOf))
}

// Each rule: a compliant variant (no violation) and violating ones
// (exactly the expected violations, by index).
func TestRules(t *testing.T) {
	type tc struct {
		name  string
		log   func() *logb
		cfg   func(*Config)
		asOf  time.Time
		wants []want
	}
	set := func(id, field string, v any) func() *logb {
		return func() *logb { return compliant().edit(id, func(b map[string]any) { b[field] = v }) }
	}
	cases := map[string][]tc{
		AcquisitionAuthorised: {
			{name: "compliant: started at the approved start", log: set("ACQ", "started_at", j("06-02T00:00"))},
			{name: "started before the decision and before the period", log: set("ACQ", "started_at", j("06-01T10:00")),
				wants: []want{{"R1", "ACQ"}, {"R1", "ACQ"}}},
			{name: "rejected approval", log: set("DEC", "decision", "rejected"), wants: []want{{"R1", "ACQ"}}},
			{name: "approval for another channel", log: func() *logb {
				return compliant().edit("ACQ", func(b map[string]any) { b["channel"] = "incoming_sending"; b["direction"] = "GAINAI" }).
					edit("BAT", func(b map[string]any) {
						b["counts"] = []any{map[string]any{"direction": "GAINAI", "category": "HEADER_META", "n": 10}}
					})
			}, wants: []want{{"R1", "ACQ"}}},
			{name: "names no approval decision", log: func() *logb {
				l := compliant()
				l.find("ACQ").Refs = []string{"REQ"}
				return l.edit("ACQ", func(b map[string]any) { b["approval"] = "REQ" })
			}, wants: []want{{"R1", "ACQ"}}},
			{name: "agreement acquisition after termination", log: func() *logb {
				l := compliant()
				l.add("TERM", "agreement.terminated", "nco", j("06-20T00:00"), map[string]any{"agreement": "AG", "agreement_id": "AG-1", "terminated_at": j("06-20T00:00")}, "AG")
				l.add("ACQ3", "acquisition.started", "nco", j("06-21T00:00"), map[string]any{"channel": "agreement", "agreement": "AG", "direction": "GAINAI", "started_at": j("06-21T00:00")}, "AG")
				return l
			}, wants: []want{{"R1", "ACQ3"}, {"R2", "ACQ3"}}},
		},
		AcquisitionStop: {
			{name: "compliant: stopped late but under an approved extension", log: func() *logb {
				l := compliant()
				l.edit("STOP", func(b map[string]any) { b["stopped_at"] = j("07-05T00:00") })
				l.add("XREQ", "approval.requested", "nco", j("06-20T00:00"), map[string]any{"measure": "extension", "direction": "GAIGAI", "extends": "DEC",
					"requested_from": j("06-30T00:00"), "requested_until": j("07-31T00:00"), "grounds": map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}}, "DEC")
				l.add("XDEC", "approval.decided", "commission", j("06-21T00:00"), map[string]any{"request": "XREQ", "decision": "approved",
					"decided_at": j("06-21T00:00"), "approved_from": j("06-30T00:00"), "approved_until": j("07-31T00:00")}, "XREQ")
				// The stop comes after the extension in log order.
				stop := l.find("STOP")
				l.entries = append(slices.DeleteFunc(l.entries, func(e *specs.Entry) bool { return e == stop }), stop)
				return l
			}},
			{name: "stopped after approved_until", log: set("STOP", "stopped_at", j("07-05T00:00")), wants: []want{{"R2", "ACQ"}}},
			{name: "never stopped", log: func() *logb { return compliant().without("STOP") }, wants: []want{{"R2", "ACQ"}}},
			{name: "not yet due", log: func() *logb { return compliant().without("STOP") }, asOf: time.Date(2026, 6, 25, 0, 0, 0, 0, time.UTC)},
			{name: "agreement acquisition past the agreement", log: set("STOP2", "stopped_at", j("09-02T00:00")), wants: []want{{"R2", "ACQ2"}}},
		},
		MeasureAuthorised: {
			{name: "neither approval nor emergency", log: func() *logb {
				return compliant().edit("M2", func(b map[string]any) { delete(b, "emergency") })
			}, wants: []want{{"R3", "M2"}}},
			{name: "started before the decision", log: set("M1", "started_at", j("06-05T23:00")), wants: []want{{"R3", "M1"}, {"R3", "M1"}}},
			{name: "approval for another measure", log: set("M1", "measure", "police_measure"), wants: []want{{"R3", "M1"}, {"R5", "M1"}}},
		},
		EmergencyNotice: {
			{name: "compliant: notified just within 24h", log: set("N2", "notified_at", j("06-09T00:00"))},
			{name: "notified too late", log: set("N2", "notified_at", j("06-09T01:00")), wants: []want{{"R4", "M2"}}},
			{name: "never notified", log: func() *logb { return compliant().without("N2") }, wants: []want{{"R4", "M2"}}},
			{name: "longer limit configured", log: set("N2", "notified_at", j("06-09T01:00")), cfg: func(c *Config) { c.EmergencyNoticeWithin = Duration(48 * time.Hour) }},
		},
		MeasureAbroad: {
			{name: "agency not allowed abroad", log: func() *logb {
				l := compliant()
				l.find("M1").Agency = "mpd"
				return l
			}, wants: []want{{"R5", "M1"}}},
			{name: "compliant when the agency is configured", log: func() *logb {
				l := compliant()
				l.find("M1").Agency = "mpd"
				return l
			}, cfg: func(c *Config) { c.AbroadAgencies = []string{"npa", "mpd"} }},
			{name: "MOFA consulted after the start", log: set("MOFA", "consulted_at", j("06-07T01:00")), wants: []want{{"R5", "M1"}}},
			{name: "no MOFA consultation", log: func() *logb { return compliant().without("MOFA") }, wants: []want{{"R5", "M1"}}},
			{name: "executed by the SDF", log: set("M1", "executor", "sdf"), wants: []want{{"R5", "M1"}}},
			{name: "foreign target of a domestic measure kind", log: set("M2", "target_location", "foreign"), wants: []want{{"R5", "M2"}, {"R5", "M2"}}},
		},
		MeasureSDFOrder: {
			{name: "no order", log: func() *logb { return compliant().without("PM") }, wants: []want{{"R6", "M3"}}},
			{name: "order after the start", log: set("PM", "ordered_at", j("06-10T01:00")), wants: []want{{"R6", "M3"}}},
			{name: "executed by the police", log: set("M3", "executor", "police"), wants: []want{{"R6", "M3"}}},
		},
		NoNaiNai: {
			{name: "a zero NAINAI row", log: func() *logb {
				return compliant().edit("BAT", func(b map[string]any) {
					b["counts"] = append(b["counts"].([]any), map[string]any{"direction": "NAINAI", "category": "HEADER_META", "n": 0})
				})
			}, wants: []want{{"R7", "BAT"}}},
			{name: "a NAINAI acquisition", log: set("ACQ", "direction", "NAINAI"), wants: []want{{"R7", "ACQ"}, {"R8", "ACQ"}, {"R8", "BAT"}}},
			{name: "NAINAI in the header", log: func() *logb {
				l := compliant()
				l.find("PROV").Case = "NAINAI"
				return l
			}, wants: []want{{"R7", "PROV"}}},
		},
		DirectionChannel: {
			{name: "agreement for transit traffic", log: set("AG", "direction", "GAIGAI"), wants: []want{{"R8", "AG"}}},
			{name: "batch of another direction", log: func() *logb {
				return compliant().edit("BAT", func(b map[string]any) {
					b["counts"] = []any{map[string]any{"direction": "GAINAI", "category": "HEADER_META", "n": 10}}
				})
			}, wants: []want{{"R8", "BAT"}}},
			{name: "request direction not its measure's", log: set("REQ", "direction", "NAIGAI"), wants: []want{{"R8", "REQ"}}},
		},
		SelectionBalance: {
			{name: "compliant: deleted exactly at the limit", log: set("BAT", "deleted_at", j("06-03T11:00"))},
			{name: "does not balance", log: set("BAT", "n_deleted", 89), wants: []want{{"R9", "BAT"}}},
			{name: "counts do not add up", log: set("BAT", "n_selected", 11), wants: []want{{"R9", "BAT"}, {"R9", "BAT"}}},
			{name: "deleted too late", log: set("BAT", "deleted_at", j("06-03T11:01")), wants: []want{{"R9", "BAT"}}},
		},
		EssentialContent: {
			{name: "essential content counted", log: func() *logb {
				return compliant().edit("BAT", func(b map[string]any) {
					b["counts"].([]any)[1].(map[string]any)["n"] = 1
					b["n_selected"], b["n_deleted"] = 11, 89
				})
			}, wants: []want{{"R10", "BAT"}}},
			{name: "essential content provided", log: set("PROV", "categories", []any{"HEADER_META", "ESSENTIAL_CONTENT"}), wants: []want{{"R10", "PROV"}}},
		},
		RetentionDeadline: {
			{name: "compliant: deleted on the deadline", log: set("DEL", "deleted_at", "2026-11-30T10:00:00+09:00")},
			{name: "deleted late", log: set("DEL", "deleted_at", "2026-11-30T10:00:01+09:00"), wants: []want{{"R11", "BAT"}}},
			{name: "never deleted", log: func() *logb { return compliant().without("DEL") }, wants: []want{{"R11", "BAT"}}},
			{name: "another agency's dataset of the same name does not count", log: func() *logb {
				l := compliant()
				l.find("DEL").Agency = "npa"
				return l
			}, wants: []want{{"R11", "BAT"}}},
		},
		ForeignProvision: {
			{name: "not de-identified", log: set("PROV", "deidentified", false), wants: []want{{"R12", "PROV"}}},
			{name: "approval required by config", log: compliant, cfg: func(c *Config) { c.ForeignProvisionNeedsApproval = true }, wants: []want{{"R12", "PROV"}}},
			{name: "compliant: to an agency, not de-identified", log: func() *logb {
				return compliant().edit("PROV", func(b map[string]any) { b["recipient_class"] = "agency"; b["deidentified"] = false })
			}},
		},
		OversightResponse: {
			{name: "late response", log: set("RESP", "responded_at", j("07-16T00:00")), wants: []want{{"R13", "DEM"}}},
			{name: "no response", log: func() *logb { return compliant().without("RESP") }, wants: []want{{"R13", "DEM"}}},
			{name: "a response from another agency does not count", log: func() *logb {
				l := compliant()
				l.find("RESP").Agency = "npa"
				return l
			}, wants: []want{{"R13", "DEM"}}},
		},
		LogReferences: {
			{name: "ref to a later entry", log: func() *logb {
				l := compliant()
				l.find("REQ").Refs = []string{"DEC"}
				return l
			}, wants: []want{{"R14", "REQ"}}},
			{name: "body reference not in refs", log: func() *logb {
				l := compliant()
				l.find("STOP").Refs = []string{}
				return l
			}, wants: []want{{"R14", "STOP"}}},
			{name: "a replayed id", log: func() *logb {
				l := compliant()
				dup := *l.find("N2")
				l.entries = append(l.entries, &dup)
				return l
			}, wants: []want{{"R14", "@21"}}}, // the replay, not the original
		},
		RecordTime: {
			{name: "compliant: covered after it occurred", log: func() *logb {
				l := compliant()
				l.cov["M2"] = Coverage{After: time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC), By: time.Date(2026, 6, 8, 0, 0, 1, 0, time.UTC)}
				return l
			}},
			{name: "from the future", log: func() *logb {
				l := compliant()
				l.cov["M2"] = Coverage{By: time.Date(2026, 6, 7, 14, 54, 59, 0, time.UTC)} // 06-07T23:54:59 JST, 5m01s early
				return l
			}, wants: []want{{"R15", "M2"}}},
			{name: "back-dated", log: func() *logb {
				l := compliant()
				l.cov["M2"] = Coverage{After: time.Date(2026, 6, 11, 0, 0, 0, 0, time.UTC)}
				return l
			}, wants: []want{{"R15", "M2"}}},
		},
	}
	for _, r := range Rules() {
		if len(cases[r.ID]) == 0 {
			t.Errorf("rule %s has no test", r.ID)
		}
		for _, c := range cases[r.ID] {
			t.Run(r.ID+"/"+c.name, func(t *testing.T) {
				cfg := DefaultConfig()
				if c.cfg != nil {
					c.cfg(&cfg)
				}
				at := asOf
				if !c.asOf.IsZero() {
					at = c.asOf
				}
				l := c.log()
				check(t, l, l.run(cfg, at), c.wants...)
				// Disabling the rule silences exactly its violations.
				cfg.Disabled = []string{r.ID}
				for _, v := range l.run(cfg, at) {
					if v.Rule == r.ID {
						t.Errorf("disabled rule %s still reported: %+v", r.ID, v)
					}
				}
			})
		}
	}
}
