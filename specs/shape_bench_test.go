package specs

import (
	"testing"
)

// validPayloads are the corpus' entry payloads that ParseEntry admits, in
// their canonical bytes.
func validPayloads(b *testing.B) [][]byte {
	var out [][]byte
	v, err := LoadVectors("vectors/admission.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, raw := range v.Prefix {
		env, err := ReadEnvelope([]byte(raw))
		if err != nil {
			continue
		}
		if _, err := ParseEntry(env.Payload); err == nil {
			out = append(out, env.Payload)
		}
	}
	if len(out) == 0 {
		b.Fatal("no valid payload in the vectors")
	}
	return out
}

// BenchmarkParseEntry: ParseEntry of every valid entry of the admission
// vectors' prefix, per entry.
func BenchmarkParseEntry(b *testing.B) {
	ps := validPayloads(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParseEntry(ps[i%len(ps)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkSchemaValidate: the schema check alone, by the general
// validator the run time used before and by specs/shape, on the same
// decoded documents (the ratio of the two is from one run).
func BenchmarkSchemaValidate(b *testing.B) {
	ps := validPayloads(b)
	var docs []any
	for _, p := range ps {
		d, _ := readStrict(p)
		docs = append(docs, d)
	}
	b.Run("jsonschema", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := refEntry().Validate(docs[i%len(docs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("shape", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if err := entrySchema().Validate(docs[i%len(docs)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}
