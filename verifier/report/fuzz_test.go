package report_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/acdledger/acdledger/verifier/report"
)

// report verify parses report.json from anyone: Parse must never panic,
// and what it accepts must survive Marshal and Parse unchanged, and render.
func FuzzParse(f *testing.F) {
	if raw, err := os.ReadFile("testdata/fuzz-seed.json"); err == nil {
		f.Add(raw)
	}
	f.Add([]byte(`{"format":"acdledger-annual-report","schema":1}`))
	f.Add([]byte(`{"format":"acdledger-annual-report","schema":1,"period":{"basis":"fiscal","year":2026,"from":"x","until":"y"},"log":{"checkpoint":"c","first_index":null,"last_index":null},"parameters":{},"tables":[{"id":"t","columns":["a"],"rows":[{"key":"r","values":{"a":1}}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := report.Parse(data)
		if err != nil {
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("accepted report does not marshal: %v", err)
		}
		again, err := report.Parse(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		out2, _ := again.Marshal()
		if !bytes.Equal(out, out2) {
			t.Fatal("Marshal/Parse is not stable")
		}
		for _, lang := range []string{report.LangJA, report.LangEN} {
			if _, err := report.HTML(r, report.RenderOptions{Lang: lang, Band: 10}); err != nil {
				t.Fatalf("html: %v", err)
			}
			if _, err := report.Markdown(r, report.RenderOptions{Lang: lang}); err != nil {
				t.Fatalf("md: %v", err)
			}
		}
	})
}
