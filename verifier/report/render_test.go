package report_test

import (
	"html"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/verifier/report"
)

var (
	sampleOnce sync.Once
	sample     *report.Report
)

// sampleReport is a report over a real log of a few hundred entries, with
// the test's rules, shared by the rendering tests.
func sampleReport(t *testing.T) *report.Report {
	t.Helper()
	sampleOnce.Do(func() {
		s := newSigner(t)
		f := newFixture(t, s, testlog.New(t, "report.example/render"), s.activityLeaves(t, fiscal2026(400)))
		opts := fy(t, 2026)
		opts.Rules, opts.RulesConfig = &testRules{}, "test-rules/1"
		sample = roundTrip(t, f.build(t, opts))
	})
	if sample == nil {
		t.Fatal("building the sample report failed")
	}
	return sample
}

// Both languages, both formats: every table is there under its title,
// the figures are there, and the page is self-contained.
func TestRender(t *testing.T) {
	r := sampleReport(t)
	for _, lang := range []string{report.LangJA, report.LangEN} {
		md, err := report.Markdown(r, report.RenderOptions{Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		page, err := report.HTML(r, report.RenderOptions{Lang: lang})
		if err != nil {
			t.Fatal(err)
		}
		h := string(page)
		for _, tb := range r.Tables {
			if !strings.Contains(h, `id="table-`+tb.ID+`"`) {
				t.Errorf("%s html: no table %s", lang, tb.ID)
			}
		}
		if n := strings.Count(h, `<svg `); n != 3 {
			t.Errorf("%s html: %d charts, want 3", lang, n)
		}
		if strings.Contains(strings.ToLower(h), "<script") || regexp.MustCompile(`(src|href)=`).MatchString(h) {
			t.Errorf("%s html loads or runs something", lang)
		}
		if strings.Count(h, "https://") > 0 || strings.Count(h, "http://") != strings.Count(h, "http://www.w3.org/2000/svg") {
			t.Errorf("%s html names a URL other than the SVG namespace", lang)
		}
		wantTitle := map[string]string{report.LangJA: "年次報告 2026年度（令和8年度）", report.LangEN: "annual report, fiscal year 2026"}[lang]
		if !strings.Contains(h, wantTitle) || !strings.Contains(string(md), wantTitle) {
			t.Errorf("%s: title %q missing", lang, wantTitle)
		}
		total := cell(t, r, report.TEntriesByKind, "selection.batch", "entries")
		if !strings.Contains(string(md), "| selection.batch | "+commas(total)+" |") {
			t.Errorf("%s md: selection.batch count %d missing", lang, total)
		}
		// html/template writes a base64 '+' as &#43;: compare the text, not the markup.
		if !strings.Contains(string(md), r.Log.RootHash) || !strings.Contains(html.UnescapeString(h), r.Log.RootHash) {
			t.Errorf("%s: root hash missing", lang)
		}
	}
	if _, err := report.HTML(r, report.RenderOptions{Lang: "fr"}); err == nil {
		t.Error("rendered in an unknown language")
	}
}

func commas(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// With banding, small counts become "<N" (ja: "N未満") everywhere, zero
// stays zero and large counts stay exact.
func TestRenderBands(t *testing.T) {
	r := sampleReport(t)
	var small, large uint64
	for _, row := range r.Table(report.TEntriesByKind).Rows {
		n := row.Values["entries"]
		if n > 0 && n < 10 && small == 0 {
			small = n
		}
		large = max(large, n)
	}
	if small == 0 || large < 10 {
		t.Fatalf("sample has no small (%d) or large (%d) count", small, large)
	}
	en, _ := report.Markdown(r, report.RenderOptions{Lang: report.LangEN, Band: 10})
	ja, _ := report.Markdown(r, report.RenderOptions{Lang: report.LangJA, Band: 10})
	if !strings.Contains(string(en), "| <10 |") || !strings.Contains(string(ja), "| 10未満 |") {
		t.Error("no banded cell")
	}
	if !strings.Contains(string(en), "| "+commas(large)+" |") {
		t.Error("large count not exact")
	}
	if !strings.Contains(string(en), "| domestic (NAINAI) | 0 | 0 | 0 | 0 | 0 |") {
		t.Error("zero row banded or missing")
	}
	for _, line := range strings.Split(string(en), "\n") {
		if strings.HasPrefix(line, "| ") && regexp.MustCompile(`\| [1-9] \|`).MatchString(line) && !strings.Contains(line, "[") {
			t.Errorf("unbanded small count: %s", line)
		}
	}
}

// specs/report.md documents every table and every column the code makes,
// so the two cannot drift apart.
func TestSpecDocumentsEveryTable(t *testing.T) {
	doc, err := os.ReadFile("../../specs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	r := sampleReport(t)
	for _, tb := range r.Tables {
		i := strings.Index(string(doc), "`"+tb.ID+"`")
		if i < 0 {
			t.Errorf("specs/report.md does not document table %s", tb.ID)
			continue
		}
		for _, c := range tb.Columns {
			if !strings.Contains(string(doc), "`"+c+"`") {
				t.Errorf("specs/report.md does not document column %s of %s", c, tb.ID)
			}
		}
	}
}
