package report_test

import (
	"context"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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

// chromium is Debian's package, which .ci/run installs.
const chromium = "/usr/bin/chromium"

// The HTML report in a real browser: headless Chromium lays it out; a
// probe script (added to a copy for the test only: the report itself has
// none, and its Content-Security-Policy would block it) measures every
// chart and table. Each chart must have a non-zero box and drawn bars,
// each table rows with a non-zero box.
func TestHTMLInChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("ACDLEDGER_NO_BROWSER") == "1" {
			t.Skip("SKIPPED: no browser test, because ACDLEDGER_NO_BROWSER=1: the HTML report was not checked in Chromium")
		}
		t.Fatalf("%s not found: install Debian's chromium package (apt-get install -y chromium), or set ACDLEDGER_NO_BROWSER=1 to skip this test", chromium)
	}
	r := sampleReport(t)
	for _, lang := range []string{report.LangJA, report.LangEN} {
		t.Run(lang, func(t *testing.T) {
			page, err := report.HTML(r, report.RenderOptions{Lang: lang, Band: 10})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			// The page as published, plus the probe; its Content-Security-
			// Policy stays, with inline scripts allowed for the probe only.
			csp := `content="default-src 'none';`
			if !strings.Contains(string(page), csp) {
				t.Fatal("the page has no Content-Security-Policy forbidding every load")
			}
			probed := strings.Replace(string(page), csp, csp+` script-src 'unsafe-inline';`, 1)
			probed = strings.Replace(probed, "</body>", probeScript+"</body>", 1)
			probeFile := filepath.Join(dir, "probe.html")
			if err := os.WriteFile(probeFile, []byte(probed), 0o644); err != nil {
				t.Fatal(err)
			}
			out := dumpDOM(t, dir, probeFile)
			m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("probe did not run:\n%.2000s", out)
			}
			charts, tables := 0, 0
			for _, line := range strings.Split(strings.TrimSpace(m[1]), "\n") {
				f := strings.Fields(line)
				if len(f) != 5 {
					t.Fatalf("probe line %q", line)
				}
				w, _ := strconv.ParseFloat(f[2], 64)
				h, _ := strconv.ParseFloat(f[3], 64)
				n, _ := strconv.Atoi(f[4])
				if w <= 0 || h <= 0 || n == 0 {
					t.Errorf("%s %s is empty in Chromium: %gx%g, %d bars/rows", f[0], f[1], w, h, n)
				}
				switch f[0] {
				case "svg":
					charts++
				case "table":
					tables++
				}
			}
			if charts != 3 || tables < len(r.Tables) {
				t.Fatalf("Chromium laid out %d charts and %d tables:\n%s", charts, tables, m[1])
			}
		})
	}
}

// probeScript writes, for each chart and table, its laid-out size and how
// many bars (rects with a width) or body rows it has.
const probeScript = `<script>
(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var r = s.getBoundingClientRect(), bars = 0;
    s.querySelectorAll('rect').forEach(function (x) { if (x.getBoundingClientRect().width > 0) bars++; });
    out.push('svg ' + s.id + ' ' + r.width + ' ' + r.height + ' ' + bars);
  });
  document.querySelectorAll('table.figures').forEach(function (t) {
    var r = t.getBoundingClientRect();
    out.push('table ' + t.id + ' ' + r.width + ' ' + r.height + ' ' + t.tBodies[0].rows.length);
  });
  var p = document.createElement('pre'); p.id = 'probe'; p.textContent = out.join('\n');
  document.body.appendChild(p);
})();
</script>`

func dumpDOM(t *testing.T, dir, file string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+filepath.Join(dir, "chromium-profile"), "--dump-dom", "file://"+file)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return string(out)
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
