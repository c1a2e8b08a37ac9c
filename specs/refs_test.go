package specs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/specs"
)

// What every reference field must name: pinned here, so that changing an
// x-refers-to in entry.schema.json is a deliberate change of two files
// (and of entries.md, which says the same in words).
func TestRefTargets(t *testing.T) {
	const kase, both = "case", "agency case"
	want := map[string]map[string]string{
		"agreement.amended":    {"agreement": "agreement.concluded / " + both},
		"agreement.terminated": {"agreement": "agreement.concluded / " + both},
		"approval.requested":   {"extends": "approval.decided / " + kase},
		"approval.decided":     {"request": "approval.requested / " + kase},
		"acquisition.started":  {"approval": "approval.decided / " + kase, "agreement": "agreement.concluded / " + both},
		"acquisition.stopped":  {"acquisition": "acquisition.started / " + both},
		"selection.batch":      {"acquisition": "acquisition.started / " + both},
		"retention.deleted":    {"batch": "selection.batch / " + both},
		"provision":            {"source": "selection.batch / " + both, "approval": "approval.decided / " + kase},
		"measure.executed":     {"approval": "approval.decided / " + kase},
		"emergency.notice":     {"measure": "measure.executed / " + both},
		"mofa.consulted":       {"request": "approval.requested / " + both},
		"response":             {"to": "notice demand recommendation / " + kase},
	}
	n := 0
	for kind, fields := range specs.RefFields() {
		for _, f := range fields {
			n++
			tgt, ok := specs.RefTargets()[kind][f]
			if !ok {
				t.Errorf("%s body.%s has no x-refers-to", kind, f)
				continue
			}
			if len(tgt.Kinds) == 0 {
				t.Errorf("%s body.%s may name no kind", kind, f)
			}
			for _, k := range tgt.Kinds {
				if !slices.Contains(specs.Kinds, k) {
					t.Errorf("%s body.%s names kind %q, which is not a kind", kind, f, k)
				}
			}
			var same []string
			if tgt.SameAgency {
				same = append(same, "agency")
			}
			if tgt.SameCase {
				same = append(same, "case")
			}
			got := strings.Join(tgt.Kinds, " ") + " / " + strings.Join(same, " ")
			if got != want[kind][f] {
				t.Errorf("%s body.%s must name %q, want %q", kind, f, got, want[kind][f])
			}
		}
		if len(specs.RefTargets()[kind]) != len(fields) {
			t.Errorf("%s: %d annotated fields, %d ref fields", kind, len(specs.RefTargets()[kind]), len(fields))
		}
	}
	if len(specs.RefTargets()) != len(specs.RefFields()) {
		t.Errorf("annotations for %d kinds, ref fields in %d", len(specs.RefTargets()), len(specs.RefFields()))
	}
	// No annotation stands anywhere else in the schema (where nothing
	// would read it): one per reference field, as no body definition with
	// a reference field is shared by two kinds.
	raw, _ := specs.Files.ReadFile("entry.schema.json")
	if c := bytes.Count(raw, []byte(`"x-refers-to":`)); c != n {
		t.Errorf("entry.schema.json has %d x-refers-to, and %d reference fields", c, n)
	}
}

// header is the part of a generated payload a LogState records.
func header(t *testing.T, payload []byte) specs.Header {
	t.Helper()
	var h specs.Header
	if err := json.Unmarshal(payload, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Every reference field of every kind, in realistic entries (the demo's
// generated activity): the entry is admitted when its target is as the
// schema says, and refused with refs.kind, naming the field, when the
// target is of another kind, or of another agency or case where the same
// one is required; where it is not required, another one is admitted.
func TestRefKindEveryField(t *testing.T) {
	gen, err := activity.Generate(activity.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	var payloads [][]byte
	for _, e := range gen {
		payloads = append(payloads, e.Public())
	}
	payloads = append(payloads, extraRefs(t, payloads)...)

	type example struct {
		at    int // position in payloads
		entry *specs.Entry
	}
	found := map[string]example{} // kind + " " + field → its first example
	for i, p := range payloads {
		e, err := specs.ParseEntry(p)
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
		for _, br := range e.BodyRefs() {
			if k := e.Kind + " " + br[0]; found[k].entry == nil {
				found[k] = example{i, e}
			}
		}
	}
	for kind, fields := range specs.RefFields() {
		for _, field := range fields {
			ex, ok := found[kind+" "+field]
			if !ok {
				t.Errorf("no example of %s body.%s", kind, field)
				continue
			}
			tgt := specs.RefTargets()[kind][field]
			var target string
			for _, br := range ex.entry.BodyRefs() {
				if br[0] == field {
					target = br[1]
				}
			}
			// check replays the log before the example, with the target
			// recorded as edit makes it, then checks the example.
			check := func(edit func(h *specs.Header)) error {
				st := specs.NewLogState()
				for i, p := range payloads[:ex.at] {
					h := header(t, p)
					if h.ID == target {
						edit(&h)
					}
					st.Record(h, uint64(i))
				}
				// The target may have been the agency's last entry: its
				// seq must not go with it to another agency.
				st.SetLastSeq(ex.entry.Agency, ex.entry.Seq-1)
				return st.CheckVerified(&specs.Admitted{Entry: ex.entry})
			}
			name := kind + " body." + field
			refused := func(what string, edit func(h *specs.Header)) {
				err := check(edit)
				var v *specs.Violation
				if !errors.As(err, &v) || v.Rule != specs.RuleRefKind || v.Field != "body."+field {
					t.Errorf("%s naming %s: want rule %s, got %v", name, what, specs.RuleRefKind, err)
				}
			}
			admitted := func(what string, edit func(h *specs.Header)) {
				if err := check(edit); err != nil {
					t.Errorf("%s naming %s: %v", name, what, err)
				}
			}
			admitted("its target", func(h *specs.Header) {})
			for _, k := range tgt.Kinds {
				admitted(k, func(h *specs.Header) { h.Kind = k })
			}
			other := "pm.ordered"
			if slices.Contains(tgt.Kinds, other) {
				t.Fatalf("pick another wrong kind for %s", name)
			}
			refused("a "+other, func(h *specs.Header) { h.Kind = other })
			refused("an entry of no kind", func(h *specs.Header) { h.Kind = "" })
			if tgt.SameAgency {
				refused("another agency's entry", func(h *specs.Header) { h.Agency = "zzz" })
			} else {
				admitted("another agency's entry", func(h *specs.Header) { h.Agency = "zzz" })
			}
			if tgt.SameCase {
				refused("another case's entry", func(h *specs.Header) { h.Case = "OTHER-CASE" })
			} else {
				admitted("another case's entry", func(h *specs.Header) { h.Case = "OTHER-CASE" })
			}
		}
	}
}

// extraRefs makes, at the end of the generated log, examples of the
// reference fields the generator never fills: a provision naming its
// approval, and a consultation of the Minister for Foreign Affairs naming
// the request it is about.
func extraRefs(t *testing.T, payloads [][]byte) [][]byte {
	t.Helper()
	seq := map[string]uint64{}
	decisions := map[string]map[string]any{} // by case
	var decided, requested, prov, mofa map[string]any
	for _, p := range payloads {
		var m map[string]any
		json.Unmarshal(p, &m)
		seq[m["agency"].(string)]++
		switch kase := m["case"].(string); m["kind"] {
		case "approval.decided":
			decisions[kase] = m
		case "approval.requested":
			if m["agency"] == "npa" {
				requested = m
			}
		case "provision":
			if d := decisions[kase]; d != nil && prov == nil {
				prov, decided = m, d
			}
		case "mofa.consulted":
			mofa = m
		}
	}
	if decided == nil || requested == nil || prov == nil || mofa == nil {
		t.Fatal("the generated log lacks a provision in a case with a decision, an npa request or a consultation")
	}
	next := func(m map[string]any, kase string) {
		a := m["agency"].(string)
		seq[a]++
		m["id"], m["seq"], m["case"] = fmt.Sprintf("EXTRA-%s-%d", a, seq[a]), seq[a], kase
	}
	prov["refs"] = append(prov["refs"].([]any), decided["id"])
	prov["body"].(map[string]any)["approval"] = decided["id"]
	next(prov, decided["case"].(string))
	mofa["refs"] = []any{requested["id"]}
	mofa["body"].(map[string]any)["request"] = requested["id"]
	next(mofa, requested["case"].(string))
	var out [][]byte
	for _, m := range []map[string]any{prov, mofa} {
		p, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// entries.md's table of what references name says what the schema says.
func TestRefTargetsDocumented(t *testing.T) {
	md, err := os.ReadFile("entries.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(md), "## What references name")
	if !ok {
		t.Fatal("entries.md has no section \"What references name\"")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `([a-z.]+)` \\| `([a-z_]+)` \\| (.*?) \\| (yes|—) \\| (yes|—) \\|$")
	tick := regexp.MustCompile("`([a-z.]+)`")
	documented := 0
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented++
		kind, field := m[1], m[2]
		tgt, ok := specs.RefTargets()[kind][field]
		if !ok {
			t.Errorf("entries.md documents %s body.%s, which is no reference field", kind, field)
			continue
		}
		var kinds []string
		for _, k := range tick.FindAllStringSubmatch(m[3], -1) {
			kinds = append(kinds, k[1])
		}
		if !slices.Equal(kinds, tgt.Kinds) || (m[4] == "yes") != tgt.SameAgency || (m[5] == "yes") != tgt.SameCase {
			t.Errorf("entries.md: %s body.%s names %v, same agency %s, same case %s; the schema says %+v", kind, field, kinds, m[4], m[5], tgt)
		}
	}
	n := 0
	for _, fs := range specs.RefFields() {
		n += len(fs)
	}
	if documented != n {
		t.Errorf("entries.md documents %d reference fields, the schema has %d", documented, n)
	}
}
