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

// BenchmarkParseEnvelope: ParseEnvelope of every envelope of the admission
// vectors' prefix that it reads, per envelope (the envelope half of an
// audit's stateless work; ParseEntry is the other).
func BenchmarkParseEnvelope(b *testing.B) {
	v, err := LoadVectors("vectors/admission.json")
	if err != nil {
		b.Fatal(err)
	}
	var envs [][]byte
	for _, raw := range v.Prefix {
		if _, err := ParseEnvelope([]byte(raw)); err == nil {
			envs = append(envs, []byte(raw))
		}
	}
	if len(envs) == 0 {
		b.Fatal("no envelope in the vectors")
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := ParseEnvelope(envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCheckContent: the forbidden-content walk of every valid entry
// of the vectors' prefix, per entry (it runs in the audit's serial part).
func BenchmarkCheckContent(b *testing.B) {
	var es []*Entry
	for _, p := range validPayloads(b) {
		e, _ := ParseEntry(p)
		es = append(es, e)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if err := es[i%len(es)].CheckContent(); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
