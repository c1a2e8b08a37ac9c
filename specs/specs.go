// Package specs holds acdledger's public formats: the entry and registry JSON
// Schemas (embedded from this folder), the DSSE envelope rules and the admission
// rules that decide whether an agency-signed entry belongs in the log.
//
// Both sides use it: ledger/ to admit entries, verifier/ to re-check every entry
// of a log it replays. It is the contract between them, so it depends only on
// public formats and libraries, never on ledger/ or verifier/.
package specs

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/acdledger/acdledger/specs/tlogproof"
)

// Files are the machine-readable specification files, embedded so that every
// build validates against exactly the schemas in this folder.
//
//go:embed entry.schema.json registry.schema.json
var Files embed.FS

const (
	// PayloadType is the DSSE payloadType of every acdledger entry envelope.
	PayloadType = "application/vnd.acdledger.entry+json"

	// EnvelopeMediaType is the HTTP Content-Type of one DSSE envelope.
	EnvelopeMediaType = "application/vnd.dsse.envelope.v1+json"

	// MaxEnvelopeSize is the largest envelope, in bytes, the log takes
	// (rule envelope.size): 49,146. It is set by the receipt, not by the log.
	// A tlog-tiles entry bundle could hold 65,535 bytes (a 16-bit length),
	// but a receipt carries the envelope in base64 on its extra line, and the
	// tlog-proof reader other tools use takes lines of at most 64 KiB with
	// the newline: "extra " + 4·⌈n/3⌉ + "\n" ≤ 65,536 ⇔ n ≤ 49,146
	// (tlogproof.MaxExtra, specs/receipts.md). So every receipt of every
	// admitted entry is readable by every reader.
	MaxEnvelopeSize = tlogproof.MaxExtra

	// MaxSubmissionSize bounds what a ledger reads of a submitted envelope
	// before it is canonicalised (whitespace may make it larger than the
	// leaf it becomes): larger submissions are refused unread.
	MaxSubmissionSize = 4 * MaxEnvelopeSize

	// EntrySchemaVersion is the value of the entry's "schema" field. Schema
	// 2 is schema 1's fields with one reading of every byte: canonical
	// payloads and leaves, read strictly (specs/entries.md, "Versions").
	EntrySchemaVersion = 2
)

// Kinds lists every entry kind of the schema, in the order of specs/entries.md.
var Kinds = []string{
	"agreement.concluded", "agreement.amended", "agreement.terminated",
	"approval.requested", "approval.decided",
	"acquisition.started", "acquisition.stopped",
	"selection.batch", "retention.deleted", "provision",
	"measure.executed", "emergency.notice", "mofa.consulted", "pm.ordered",
	"inspection", "notice", "demand", "recommendation", "response",
	"registry.genesis", "registry.change",
}

// RootAgency is the reserved agency id of the commission's root key(s),
// which sign the registry entries and nothing else (specs/registry.md). No
// registry may list an agency of that id.
const RootAgency = "commission-root"

// Registry entry kinds: the genesis at index 0 and every later change of
// the registry, signed by a commission root key.
const (
	KindGenesis        = "registry.genesis"
	KindRegistryChange = "registry.change"
)

// RootKinds are the kinds only the commission root key appends.
var RootKinds = map[string]bool{KindGenesis: true, KindRegistryChange: true}

// CommissionKinds may be appended only by an agency whose registry role is
// "commission": they record the commission's own decisions and oversight acts.
var CommissionKinds = map[string]bool{
	"approval.decided": true,
	"inspection":       true,
	"notice":           true,
	"demand":           true,
	"recommendation":   true,
}

// RefFields returns, per kind, the body fields that name another entry by id
// (those whose schema is #/$defs/entry_id). Every value of such a field
// must also be listed in the entry's refs, so that "refs" alone says which
// earlier entries an entry depends on. Read from entry.schema.json, so the
// schema stays the one place a reference field is declared.
func RefFields() map[string][]string { return refs().fields }

// RefTargets returns, per kind and reference field, what the field must name
// (rule refs.kind): the schema's x-refers-to annotation on that property.
func RefTargets() map[string]map[string]RefTarget { return refs().targets }

// RefTarget is what one reference field may name: an entry of one of Kinds
// that, if SameAgency or SameCase, has the naming entry's agency or case.
type RefTarget struct {
	Kinds      []string
	SameAgency bool
	SameCase   bool
}

// refs reads both from the schema on first use, not at package init:
// reading entry.schema.json was most of the package's start-up, which
// every command paid (BENCHMARKS.md, "verify receipt").
var refs = sync.OnceValue(func() (r struct {
	fields  map[string][]string
	targets map[string]map[string]RefTarget
}) {
	var err error
	if r.fields, r.targets, err = refsFromSchema(); err != nil {
		panic("specs/entry.schema.json: " + err.Error())
	}
	return r
})

// refsFromSchema reads the reference fields and their annotations. A ref
// field without an annotation, or an annotation on anything else, is an
// error: a field that names an entry of no declared kind could name any.
func refsFromSchema() (map[string][]string, map[string]map[string]RefTarget, error) {
	fields := map[string][]string{}
	targets := map[string]map[string]RefTarget{}
	for kind, def := range kindDefs("body") {
		var d struct {
			Properties map[string]map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(def, &d); err != nil {
			return nil, nil, err
		}
		for field, p := range d.Properties {
			var ref string
			json.Unmarshal(p["$ref"], &ref)
			ann, annotated := p["x-refers-to"]
			switch {
			case ref != "#/$defs/entry_id" && annotated:
				return nil, nil, fmt.Errorf("%s body.%s: x-refers-to on a field that is not an entry id", kind, field)
			case ref != "#/$defs/entry_id":
				continue
			case !annotated:
				return nil, nil, fmt.Errorf("%s body.%s names an entry but has no x-refers-to", kind, field)
			}
			t, err := parseRefersTo(ann)
			if err != nil {
				return nil, nil, fmt.Errorf("%s body.%s: x-refers-to: %v", kind, field, err)
			}
			fields[kind] = append(fields[kind], field)
			if targets[kind] == nil {
				targets[kind] = map[string]RefTarget{}
			}
			targets[kind][field] = t
		}
		slices.Sort(fields[kind])
	}
	return fields, targets, nil
}

// parseRefersTo reads one x-refers-to annotation. It runs at package init,
// so it does not compile the refers_to schema (that would put a schema
// compilation back into every process start); it checks the same shape by
// hand, and TestRefersToAnnotations checks every annotation against the
// schema's refers_to definition as well.
func parseRefersTo(raw json.RawMessage) (RefTarget, error) {
	var a struct {
		Kinds *[]string `json:"kinds"`
		Same  *[]string `json:"same"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return RefTarget{}, err
	}
	switch {
	case a.Kinds == nil || len(*a.Kinds) == 0:
		return RefTarget{}, errors.New("kinds: at least one kind is required")
	case a.Same == nil:
		return RefTarget{}, errors.New("same: required")
	}
	for i, k := range *a.Kinds {
		if !slices.Contains(Kinds, k) {
			return RefTarget{}, fmt.Errorf("kinds: %q is not a kind", k)
		}
		if slices.Contains((*a.Kinds)[:i], k) {
			return RefTarget{}, fmt.Errorf("kinds: %q twice", k)
		}
	}
	for i, f := range *a.Same {
		if f != "agency" && f != "case" {
			return RefTarget{}, fmt.Errorf("same: %q is neither agency nor case", f)
		}
		if slices.Contains((*a.Same)[:i], f) {
			return RefTarget{}, fmt.Errorf("same: %q twice", f)
		}
	}
	return RefTarget{Kinds: *a.Kinds, SameAgency: slices.Contains(*a.Same, "agency"), SameCase: slices.Contains(*a.Same, "case")}, nil
}

// kindDefs reads entry.schema.json's per-kind rules ("if kind is K then
// property P is #/$defs/D") and returns, per kind, the definition D that
// the schema gives property P.
func kindDefs(property string) map[string]json.RawMessage {
	raw, err := Files.ReadFile("entry.schema.json")
	if err != nil {
		panic(err)
	}
	var s struct {
		AllOf []struct {
			If struct {
				Properties struct {
					Kind struct {
						Const string `json:"const"`
					} `json:"kind"`
				} `json:"properties"`
			} `json:"if"`
			Then struct {
				Properties map[string]struct {
					Ref string `json:"$ref"`
				} `json:"properties"`
			} `json:"then"`
		} `json:"allOf"`
		Defs map[string]json.RawMessage `json:"$defs"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		panic(err)
	}
	out := map[string]json.RawMessage{}
	for _, rule := range s.AllOf {
		def := strings.TrimPrefix(rule.Then.Properties[property].Ref, "#/$defs/")
		out[rule.If.Properties.Kind.Const] = s.Defs[def]
	}
	return out
}
