package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// FuzzAdmittedIsReadable: nothing admitted can break a reader
// (specs/strict.md). Every draft the fuzzer makes is signed as an agency
// would sign it; whenever the stateless admission rules accept the
// envelope, a second reading that shares no code with the strict reader
// (encoding/json with a duplicate-name scan) must see the same entry, and
// the rules engine and the annual report — what audit, watch and report
// run on every admitted leaf — must take it without error. Seeds are a
// realistic log of every kind; `make test` runs them, `make fuzz` mutates.
func FuzzAdmittedIsReadable(f *testing.F) {
	var agencies []testsign.Agency
	for _, a := range activity.Agencies() {
		agencies = append(agencies, testsign.Agency{ID: a.ID, Role: a.Role, Kinds: a.Kinds})
	}
	kit := testsign.New(f, agencies...)
	cfg := activity.DefaultConfig()
	cfg.Entries = 120
	entries, err := activity.Generate(cfg)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		// Every seed is admitted, so the property is never vacuous.
		if _, err := kit.Registry.Verify(kit.Sign(f, e.Agency, e.Public())); err != nil {
			f.Fatalf("seed %s: %v", e.Kind, err)
		}
		f.Add(e.Public())
	}
	period, err := report.NewPeriod(report.BasisFiscal, 2026)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, draft []byte) {
		payload, err := specs.Canonical(draft)
		if err != nil {
			return
		}
		var head struct{ Agency string }
		if json.Unmarshal(payload, &head) != nil || !kit.Has(head.Agency) {
			return
		}
		a, err := kit.Registry.Verify(kit.Sign(t, head.Agency, payload))
		if err != nil {
			return
		}
		secondReading(t, payload, a.Entry)

		engine := rules.New(rules.DefaultConfig())
		engine.Add(0, a.Entry)
		engine.Finish(a.Entry.Occurred().Add(365 * 24 * time.Hour))

		b, err := report.NewBuilder(report.Options{Period: period, Parameters: report.DefaultParameters()})
		if err != nil {
			t.Fatal(err)
		}
		b.Add(0, a.Entry)
		if _, err := b.Finish(&tlog.Checkpoint{Origin: "fuzz.example/log", Size: 1, Hash: make([]byte, 32)}, 0); err != nil {
			t.Fatalf("the annual report fails on an admitted entry: %v\n%s", err, payload)
		}
	})
}

// secondReading decodes the payload with encoding/json, refusing
// duplicate names by a token scan of its own, and checks it gives the
// entry the strict reader gave.
func secondReading(t *testing.T, payload []byte, e *specs.Entry) {
	t.Helper()
	if err := noDuplicateNames(payload); err != nil {
		t.Fatalf("admitted a payload with %v: %s", err, payload)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("admitted a payload encoding/json cannot read: %v", err)
	}
	var body any
	bd := json.NewDecoder(bytes.NewReader(e.Body))
	bd.UseNumber()
	if err := bd.Decode(&body); err != nil || !reflect.DeepEqual(body, doc["body"]) {
		t.Fatalf("body read differently: %v\nstrict %s\nsecond %v", err, e.Body, doc["body"])
	}
	seq, _ := doc["seq"].(json.Number).Int64()
	if doc["id"] != e.ID || doc["kind"] != e.Kind || doc["agency"] != e.Agency || uint64(seq) != e.Seq ||
		doc["occurred_at"] != e.OccurredAt || doc["case"] != e.Case {
		t.Fatalf("header read differently: strict %+v, second %v", e, doc)
	}
	for _, n := range []string{"body", "refs", "legal_basis"} {
		if _, ok := doc[n]; !ok {
			t.Fatalf("second reading has no %s", n)
		}
	}
}

// noDuplicateNames walks the token stream of encoding/json (which keeps
// the last of two equal names silently) and reports a name seen twice in
// one object.
func noDuplicateNames(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		names  map[string]bool
		object bool
		key    bool // the next string token is a name
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if s, ok := tok.(string); ok && top != nil && top.object && top.key {
			if top.names[s] {
				return errors.New("duplicate name " + s)
			}
			top.names[s] = true
			top.key = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{names: map[string]bool{}, object: true, key: true})
			continue
		case json.Delim('['):
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].key = true // a value ended: a name comes next
		}
	}
}
