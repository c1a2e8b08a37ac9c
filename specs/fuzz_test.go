package specs_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
	"github.com/gowebpki/jcs"
)

// Seeds come from testdata/fuzz (checked in) and from every admission vector.
func seedVectors(f *testing.F, payloads bool) *specs.Registry {
	v, err := specs.LoadVectors(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range append(v.Prefix, casesOf(v)...) {
		if payloads {
			if env, err := specs.ParseEnvelope([]byte(e)); err == nil {
				f.Add(env.Payload)
			}
			continue
		}
		f.Add([]byte(e))
	}
	reg, err := specs.ParseRegistry(v.Registry)
	if err != nil {
		f.Fatal(err)
	}
	return reg
}

func casesOf(v *specs.Vectors) []string {
	var out []string
	for _, c := range v.Cases {
		out = append(out, string(c.Bytes()))
	}
	return out
}

// FuzzParseEntry: the entry parser never panics, and whatever it accepts
// has the header fields the rest of the system relies on.
func FuzzParseEntry(f *testing.F) {
	seedVectors(f, true)
	f.Fuzz(func(t *testing.T, payload []byte) {
		e, err := specs.ParseEntry(payload)
		if err != nil {
			return
		}
		if e.ID == "" || e.Agency == "" || e.Seq == 0 || e.Occurred().IsZero() {
			t.Fatalf("accepted an entry without id/agency/seq/time: %q", payload)
		}
		_ = e.CheckContent()
		_ = e.BodyRefs()
	})
}

// FuzzCheckEnvelope: admission never panics on any bytes, and an admitted
// envelope is one whose signature really verifies.
func FuzzCheckEnvelope(f *testing.F) {
	reg := seedVectors(f, false)
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := specs.NewLogState().Check(reg, raw)
		if err != nil {
			return
		}
		if a.Entry.Seq != 1 || len(a.Entry.Refs) != 0 {
			t.Fatalf("admitted into an empty log: seq %d refs %v", a.Entry.Seq, a.Entry.Refs)
		}
	})
}

// FuzzParseDisclosure: the disclosure parser never panics, and whatever it
// accepts has what verification needs and survives a round trip.
func FuzzParseDisclosure(f *testing.F) {
	f.Add([]byte(`{"disclosure":1,"index":3,"entry_id":"E1","field":"detail","value":"x","salt":"` + strings.Repeat("A", 43) + `=","proof":"p"}`))
	f.Add([]byte(`{"disclosure":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := specs.ParseDisclosure(data)
		if err != nil {
			return
		}
		if len(d.Salt) != specs.SaltSize || d.Field == "" || d.Proof == "" {
			t.Fatalf("accepted an incomplete disclosure: %q", data)
		}
		if _, err := d.Marshal(); err != nil {
			t.Fatalf("accepted %q but cannot write it back: %v", data, err)
		}
	})
}

// FuzzParseBox: an opened box's parser and the age header reader never
// panic on any bytes (a box is what an agency chose to encrypt).
func FuzzParseBox(f *testing.F) {
	f.Add([]byte(`{"sealed":1,"entry":"E1","fields":{"detail":{"salt":"` + strings.Repeat("A", 43) + `=","value":"x"}}}`))
	f.Add([]byte("age-encryption.org/v1\n-> X25519 abc\nbody\n--- mac\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if b, err := specs.ParseBox(data); err == nil {
			for name, fl := range b.Fields {
				if len(fl.Salt) != specs.SaltSize {
					t.Fatalf("field %s: accepted a %d-byte salt", name, len(fl.Salt))
				}
			}
		}
		if n, err := specs.CountAgeStanzas(data); err == nil && n < 0 {
			t.Fatalf("negative stanza count")
		}
	})
}

// A saved log state is read back from disk by a watcher: any bytes must
// either be refused or give a state that works.
func FuzzLogStateJSON(f *testing.F) {
	f.Add([]byte(`{"version":2,"last_seq":{"nco":2},"kinds":["selection.batch"],"agencies":["nco"],"cases":["C-1"],"ids":{"A":[0,1,1,1],"B":[1,0,0,0]}}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"last_seq":{"nco":2},"ids":{"A":0,"B":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s := specs.NewLogState()
		if err := json.Unmarshal(data, s); err != nil {
			return
		}
		out, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		again := specs.NewLogState()
		if err := json.Unmarshal(out, again); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if again.Len() != s.Len() {
			t.Fatalf("round trip lost ids: %d → %d", s.Len(), again.Len())
		}
	})
}

// FuzzCanonical: whatever the strict reader accepts has one canonical
// form, which a second, independent RFC 8785 implementation
// (gowebpki/jcs, built on encoding/json) writes byte for byte the same,
// and which is its own canonical form.
func FuzzCanonical(f *testing.F) {
	seedVectors(f, true)
	f.Add([]byte(`{"b":[1,-2,{"z":"\u00e9\n","a":null}],"a":true,"\u20ac":"€","😀":0}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c, err := specs.Canonical(doc)
		if err != nil {
			return
		}
		other, err := jcs.Transform(doc)
		if err != nil {
			t.Fatalf("strict reader accepted what gowebpki/jcs refuses: %v\n%q", err, doc)
		}
		if !bytes.Equal(c, other) {
			t.Fatalf("two RFC 8785 implementations disagree on %q:\n%q\n%q", doc, c, other)
		}
		again, err := specs.Canonical(c)
		if err != nil || !bytes.Equal(again, c) {
			t.Fatalf("canonical form is not stable: %q → %q (%v)", c, again, err)
		}
	})
}

// FuzzParseBundle: the bundle reader never panics, and what it accepts has
// as many leaves as its range says, and reads back the same.
func FuzzParseBundle(f *testing.F) {
	for _, n := range []string{"2026-06", "2026-07", "2026-08"} {
		if raw, err := os.ReadFile(filepath.Join("vectors", "bundle", n+".bundle")); err == nil {
			f.Add(raw)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := specs.ParseBundle(raw)
		if err != nil {
			return
		}
		if uint64(len(b.Leaves)) != b.To-b.From {
			t.Fatalf("%d leaves for [%d, %d)", len(b.Leaves), b.From, b.To)
		}
		again, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := specs.ParseBundle(again); err != nil {
			t.Fatalf("a bundle's own output does not read back: %v", err)
		}
	})
}
