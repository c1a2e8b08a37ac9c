package rules

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// A missed deadline is reported once: not again by a later Finish, nor
// when the late closing entry finally arrives; it is charged to the entry
// that opened it.
func TestDeadlineReportedOnce(t *testing.T) {
	l := compliant()
	resp := l.find("RESP")
	l.without("RESP")
	e := New(DefaultConfig())
	for i, x := range l.entries {
		if vs := e.Add(uint64(i), x); len(vs) > 0 {
			t.Fatalf("entry %d: %v", i, vs)
		}
	}
	before := time.Date(2026, 7, 16, 0, 0, 0, 0, time.UTC) // due 07-15 JST, within max_record_lag
	if vs := e.Finish(before); len(vs) != 0 {
		t.Fatalf("reported before the record lag passed: %v", vs)
	}
	first := e.Finish(time.Date(2026, 7, 20, 0, 0, 0, 0, time.UTC))
	if len(first) != 1 || first[0].Rule != OversightResponse || first[0].EntryID != "DEM" || first[0].Index != l.indexOf("DEM") {
		t.Fatalf("first Finish: %+v", first)
	}
	if again := e.Finish(asOf); len(again) != 0 {
		t.Fatalf("second Finish reported again: %v", again)
	}
	resp.Body = []byte(`{"to":"DEM","responded_at":"2026-07-25T00:00:00+09:00","status":"accepted"}`)
	if late := e.Add(uint64(len(l.entries)), resp); len(late) != 0 {
		t.Fatalf("late response reported again: %v", late)
	}
	if e.OpenObligations() != 0 {
		t.Fatalf("%d obligations still open after the response", e.OpenObligations())
	}
}

// A late closing entry seen before any Finish is reported when it
// arrives, charged to the opening entry, and Finish does not repeat it.
func TestLateClosingBeforeFinish(t *testing.T) {
	l := compliant().edit("N2", func(b map[string]any) { b["notified_at"] = j("06-10T00:00") })
	e := New(DefaultConfig())
	var got []Violation
	for i, x := range l.entries {
		vs := e.Add(uint64(i), x)
		if len(vs) > 0 && x.ID != "N2" {
			t.Fatalf("reported at %s: %v", x.ID, vs)
		}
		got = append(got, vs...)
	}
	if len(got) != 1 || got[0].Index != l.indexOf("M2") || !strings.Contains(got[0].Reason, "N2") {
		t.Fatalf("late notice: %+v", got)
	}
	if vs := e.Finish(asOf); len(vs) != 0 {
		t.Fatalf("Finish repeated it: %v", vs)
	}
}

// Saving and restoring the engine at every point of the log gives the
// same violations as one uninterrupted run.
func TestStateRoundTrip(t *testing.T) {
	l := compliant().without("STOP", "N2", "DEL").edit("BAT", func(b map[string]any) { b["n_deleted"] = 1 })
	l.find("REQ").Refs = []string{"DEC"}
	cfg := DefaultConfig()
	want := l.run(cfg, asOf)
	if len(want) < 4 {
		t.Fatalf("the test log should break several rules: %v", want)
	}
	for cut := 0; cut <= len(l.entries); cut++ {
		e := New(cfg)
		var got []Violation
		for i, x := range l.entries {
			if i == cut {
				raw, err := e.MarshalState()
				if err != nil {
					t.Fatal(err)
				}
				if e, err = RestoreEngine(cfg, raw); err != nil {
					t.Fatalf("restore at %d: %v", cut, err)
				}
			}
			got = append(got, e.Add(uint64(i), x)...)
		}
		got = append(got, e.Finish(asOf)...)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d:\n got %v\nwant %v", cut, got, want)
		}
	}
	// And after a Finish: a restored engine does not report again.
	e := New(cfg)
	for i, x := range l.entries {
		e.Add(uint64(i), x)
	}
	e.Finish(asOf)
	raw, _ := e.MarshalState()
	r, err := RestoreEngine(cfg, raw)
	if err != nil {
		t.Fatal(err)
	}
	if vs := r.Finish(asOf); len(vs) != 0 {
		t.Fatalf("restored engine reported again: %v", vs)
	}
}

func TestRestoreRejectsBadState(t *testing.T) {
	for _, tc := range []struct{ name, state, want string }{
		{"not JSON", `{`, "rules state"},
		{"version", `{"version":2,"state":{},"ids":""}`, "version 2"},
		{"unknown field", `{"version":1,"state":{},"ids":"","x":1}`, `unknown field "x"`},
		{"ids", `{"version":1,"state":{},"ids":"AAA="}`, "8-byte"},
		{"null record", `{"version":1,"state":{"decisions":{"D":null}},"ids":""}`, `decision "D" is null`},
		{"dangling root", `{"version":1,"state":{"decisions":{"D":{"root":"X"}}},"ids":""}`, `unknown root "X"`},
		{"unknown rule", `{"version":1,"state":{"obligations":{"o":{"rule":"R99"}}},"ids":""}`, `unknown rule "R99"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RestoreEngine(DefaultConfig(), []byte(tc.state))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestDefaultConfigIsTheSpecFile(t *testing.T) {
	c := DefaultConfig()
	if c.EmergencyNoticeWithin.D() != 24*time.Hour || c.RetentionMax.D() != 180*24*time.Hour || c.MaxRecordLag.D() != 72*time.Hour ||
		len(c.AbroadAgencies) != 1 || c.ForeignProvisionNeedsApproval {
		t.Fatalf("defaults: %+v", c)
	}
	// Every key of Config is in the default file, so the file documents all.
	if _, err := ParseConfig(specs.RulesDefaultConfig); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"emergency_notice_within", "selection_delete_within", "retention_max", "max_record_lag", "clock_skew",
		"abroad_agencies", "foreign_provision_needs_approval", "disabled"} {
		if !strings.Contains(string(specs.RulesDefaultConfig), `"`+k+`"`) {
			t.Errorf("specs/rules.default.json lacks %s", k)
		}
	}
}

func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	os.WriteFile(path, []byte(`{"retention_max": "720h", "disabled": ["R15", "oversight.response"]}`), 0o644)
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.RetentionMax.D() != 720*time.Hour || c.EmergencyNoticeWithin.D() != 24*time.Hour || len(c.Disabled) != 2 {
		t.Fatalf("partial config: %+v", c)
	}
	for _, tc := range []struct{ name, cfg, want string }{
		{"unknown key", `{"retention_maximum": "1h"}`, `unknown key "retention_maximum"`},
		{"bad duration", `{"max_record_lag": "3 days"}`, `key "max_record_lag"`},
		{"number for a duration", `{"clock_skew": 300}`, `key "clock_skew"`},
		{"negative", `{"clock_skew": "-1s"}`, "negative"},
		{"unknown rule", `{"disabled": ["R99"]}`, `unknown rule "R99"`},
		{"not an object", `[]`, "not a JSON object"},
		{"two values", `{} {}`, "more than one"},
		{"wrong type", `{"abroad_agencies": "npa"}`, `key "abroad_agencies"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(path, []byte(tc.cfg), 0o644)
			_, err := LoadConfig(path)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and %q", err, path, tc.want)
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(dir, "missing.json")); err == nil {
		t.Fatal("missing file accepted")
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add(specs.RulesDefaultConfig)
	f.Add([]byte(`{"disabled":["R1"],"retention_max":"1h"}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := ParseConfig(raw)
		if err != nil {
			return
		}
		// What parses runs: the engine must not panic on any config.
		l := compliant()
		l.run(c, asOf)
	})
}

func FuzzRestoreEngine(f *testing.F) {
	l := compliant().without("STOP")
	e := New(DefaultConfig())
	for i, x := range l.entries {
		e.Add(uint64(i), x)
	}
	raw, _ := e.MarshalState()
	f.Add(raw)
	f.Add([]byte(`{"version":1,"state":{},"ids":""}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, err := RestoreEngine(DefaultConfig(), raw)
		if err != nil {
			return
		}
		// A state that restores must carry on without panicking.
		for i, x := range compliant().entries {
			r.Add(uint64(100+i), x)
		}
		r.Finish(asOf)
		if _, err := r.MarshalState(); err != nil {
			t.Fatal(err)
		}
	})
}
