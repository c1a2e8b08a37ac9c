package specs

import (
	"bytes"
	"testing"
)

// canonicalAgrees checks the strict reader's canonical-while-reading
// verdict against the library's canonicalisation of the same bytes.
func canonicalAgrees(t testing.TB, doc []byte) {
	sd, err := readStrictDoc(doc)
	if err != nil {
		return
	}
	c, err := canonicalize(doc)
	if err != nil {
		t.Fatalf("%q: read strictly but not canonicalised: %v", doc, err)
	}
	if want := bytes.Equal(c, doc); sd.canonical != want {
		t.Fatalf("%q: the reader says canonical=%v, the canonical form is %q", doc, sd.canonical, c)
	}
}

// TestCanonicalWhileReading: every way of differing from canonical form
// is seen by the reader, and a canonical document is not mistaken.
func TestCanonicalWhileReading(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":1,"b":[true,false,null,"x",-5,0]}`, `{"b":1,"a":2}`, `{ "a":1}`, `{"a":1 }`,
		`{"a" :1}`, `[1, 2]`, "[1,\n2]", `{"a":"\u0041"}`, `{"a":"\"\\\n\u001f"}`, `{"a":"\u001F"}`, `{"a":"\/"}`,
		`{"a":"é"}`, `{"a":"\u00e9"}`, `{"\u00e9":1,"z":2}`, `{"z":1,"é":2}`, `{"\ufb01":1,"😀":2}`, `{"😀":1,"\ufb01":2}`,
		`{"aa":1,"a":2}`, `{"a":1,"aa":2}`, `{"a":{"d":1,"c":2}}`, `{"a":[{"y":1,"x":2}]}`, ` {}`, `{}` + "\n", `"x"`, `7`,
		`{"a":"<>&\u2028"}`, `{"a":"\u2028"}`, `{"a":"\t"}`, `{"a":"\b\f\r"}`, `{"a":"\u0008"}`,
	} {
		canonicalAgrees(t, []byte(doc))
	}
	v, err := LoadVectors("vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, raw := range append(v.Prefix, casesOfVectors(v)...) {
		canonicalAgrees(t, []byte(raw))
		if env, err := ReadEnvelope([]byte(raw)); err == nil {
			canonicalAgrees(t, env.Payload)
		}
	}
}

func casesOfVectors(v *Vectors) []string {
	var out []string
	for _, c := range v.Cases {
		out = append(out, string(c.Bytes()))
	}
	return out
}

// FuzzCanonicalWhileReading: on any bytes, the reader's canonical verdict
// is the library's.
func FuzzCanonicalWhileReading(f *testing.F) {
	v, err := LoadVectors("vectors/admission.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, raw := range append(v.Prefix, casesOfVectors(v)...) {
		f.Add([]byte(raw))
		if env, err := ReadEnvelope([]byte(raw)); err == nil {
			f.Add(env.Payload)
		}
	}
	f.Add([]byte(`{"\ufb01":1,"😀":2}`))
	f.Add([]byte(`{"a":"\u001f\"\\"}`))
	f.Fuzz(func(t *testing.T, doc []byte) { canonicalAgrees(t, doc) })
}
