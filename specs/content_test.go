package specs

import (
	"encoding/json"
	"testing"
)

// TestContentCleanAgrees: the allocation-free walk CheckContent takes
// first (contentClean) finds something exactly where walkContent does,
// on every entry of the corpus, their mutations and documents built to
// hit each forbidden-content rule at several depths.
func TestContentCleanAgrees(t *testing.T) {
	c := loadCorpus(t)
	docs := append([]any{}, c.entries...)
	for _, d := range c.entries[:min(len(c.entries), 20)] {
		docs = append(docs, mutations(d)...)
	}
	for _, raw := range []string{
		`"NAINAI"`, `["NAINAI"]`, `{"a":{"b":["x",{"c":"NAINAI"}]}}`,
		`{"categories":["ESSENTIAL_CONTENT"]}`, `{"categories":[["ESSENTIAL_CONTENT"]]}`,
		`{"x":{"categories":["A","ESSENTIAL_CONTENT"]}}`, `["ESSENTIAL_CONTENT"]`, `{"other":["ESSENTIAL_CONTENT"]}`,
		`{"category":"ESSENTIAL_CONTENT","n":0}`, `{"category":"ESSENTIAL_CONTENT","n":1}`,
		`{"b":{"counts":[{"category":"ESSENTIAL_CONTENT","n":3}]}}`, `{"category":"ESSENTIAL_CONTENT","n":"1"}`,
		`{"categories":"ESSENTIAL_CONTENT"}`, `{}`, `[]`, `null`, `1`,
	} {
		d, err := readStrict([]byte(raw))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		docs = append(docs, d)
	}
	found := 0
	for i, d := range docs {
		err := walkContent("x", d, nil)
		if got := contentClean(d, false); got != (err == nil) {
			b, _ := json.Marshal(d)
			t.Errorf("document %d %s: contentClean %v, walkContent %v", i, b, got, err)
		}
		if err != nil {
			found++
		}
	}
	if found < 6 {
		t.Fatalf("only %d documents break a content rule; the test checks too little", found)
	}
	t.Logf("%d documents, %d with forbidden content: same verdicts", len(docs), found)
}

// TestCheckContentCleanNoAllocation: a clean entry is checked without
// allocating (the check runs for every entry in the audit's serial part).
func TestCheckContentCleanNoAllocation(t *testing.T) {
	c := loadCorpus(t)
	e := &Entry{doc: c.entries[0]}
	if err := e.CheckContent(); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { e.CheckContent() }); n != 0 {
		t.Fatalf("CheckContent of a clean entry: %v allocations", n)
	}
}

// TestSealedFromDocAgrees: the sealed part taken from the strict reading
// is what json.Unmarshal of the sealed bytes gives, wherever
// sealedFromDoc answers, on every sealed part of the corpus and their
// mutations (the ones it does not answer fall back to json.Unmarshal).
func TestSealedFromDocAgrees(t *testing.T) {
	c := loadCorpus(t)
	answered, n := 0, 0
	for _, d := range c.entries {
		sm, ok := d.(map[string]any)["sealed"]
		if !ok {
			continue
		}
		for _, v := range append([]any{sm}, mutations(sm)...) {
			n++
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := sealedFromDoc(map[string]any{"sealed": v})
			if !ok {
				continue
			}
			answered++
			want := &Sealed{}
			if err := json.Unmarshal(raw, want); err != nil {
				t.Fatalf("%s: sealedFromDoc answers, json.Unmarshal fails: %v", raw, err)
			}
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(want)
			if string(g) != string(w) || (got.To == nil) != (want.To == nil) || (got.Commitments == nil) != (want.Commitments == nil) {
				t.Fatalf("%s: sealedFromDoc %s, json.Unmarshal %s", raw, g, w)
			}
		}
	}
	if answered < 10 {
		t.Fatalf("sealedFromDoc answered %d of %d sealed parts; the test checks too little", answered, n)
	}
	t.Logf("%d sealed parts, %d answered from the reading: same as json.Unmarshal", n, answered)
}
