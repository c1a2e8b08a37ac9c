package report_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/verifier/report"
)

// chromium is Debian's package and the CJK font Debian's fonts-noto-cjk,
// which scripts/install-test-deps.sh installs (CI runs it).
const chromium = "/usr/bin/chromium"

// artifactDir is where the browser test leaves, for people to look at, a
// screenshot of the whole page and the PDF print of each language:
// $ACDLEDGER_ARTIFACTS, or acdledger-report-artifacts in the temporary
// directory. The test logs the paths (go test -v shows them).
func artifactDir(t *testing.T) string {
	dir := os.Getenv("ACDLEDGER_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "acdledger-report-artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func needBrowser(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("ACDLEDGER_NO_BROWSER") == "1" {
			t.Skip("SKIPPED: no browser test, because ACDLEDGER_NO_BROWSER=1: the HTML report was not checked in Chromium")
		}
		t.Fatalf("%s not found: run scripts/install-test-deps.sh (Debian's chromium and fonts-noto-cjk), or set ACDLEDGER_NO_BROWSER=1 to skip this test", chromium)
	}
	// Without a Japanese font the browser draws boxes ("tofu"), and the
	// Japanese report cannot be judged at all.
	out, err := exec.Command("fc-list", ":lang=ja", "family").Output()
	if err != nil || !strings.Contains(string(out), "CJK JP") {
		t.Fatalf("no Japanese font (fc-list :lang=ja: %q, %v): run scripts/install-test-deps.sh (Debian's fonts-noto-cjk)", out, err)
	}
}

// The HTML report in a real browser, in both languages, at a screen width
// and at the text width of an A4 page. Headless Chromium lays the page out
// and a probe script (added to a copy for the test only: the report itself
// has none, and its Content-Security-Policy would block it) measures it:
//
//   - every chart has a box and drawn bars, every table a box and rows;
//   - no text overflows its box: no block or cell is wider inside than
//     out, the page does not scroll sideways, every SVG text lies inside
//     its chart and no two legend entries overlap;
//   - the Japanese text is drawn in glyphs, not tofu: each distinct kanji
//     and kana of the title, drawn alone on a canvas in the page's font,
//     gives a distinct picture, none of them the picture of a character no
//     font has (the .notdef box every missing glyph shares);
//   - no heading is repeated and no Markdown backtick shows.
//
// Then a screenshot of the whole page and a print to PDF, whose pages must
// all be A4, are kept as artefacts.
func TestHTMLInChromium(t *testing.T) {
	needBrowser(t)
	r := sampleReport(t)
	art := artifactDir(t)
	for _, lang := range []string{report.LangJA, report.LangEN} {
		t.Run(lang, func(t *testing.T) {
			page, err := report.HTML(r, report.RenderOptions{Lang: lang, Band: 10})
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			pageFile := filepath.Join(dir, "report.html")
			if err := os.WriteFile(pageFile, page, 0o644); err != nil {
				t.Fatal(err)
			}
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
			var height int
			// 1100 px: a screen; 690 px: the text width of an A4 page
			// (210 mm less 28 mm of margins, at 96 px per inch).
			for _, width := range []int{1100, 690} {
				h := probe(t, dir, probeFile, lang, width, len(r.Tables))
				if width == 1100 {
					height = h
				}
			}

			shot := filepath.Join(art, "report-"+lang+".png")
			chrome(t, dir, fmt.Sprintf("--window-size=1100,%d", height+40), "--hide-scrollbars", "--screenshot="+shot, "file://"+pageFile)
			if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
				t.Fatalf("no screenshot: %v", err)
			}
			pdf := filepath.Join(art, "report-"+lang+".pdf")
			chrome(t, dir, "--no-pdf-header-footer", "--print-to-pdf="+pdf, "file://"+pageFile)
			pages := a4Pages(t, pdf)
			t.Logf("%s: screenshot %s, PDF %s (%d A4 pages)", lang, shot, pdf, pages)
		})
	}
}

// probe lays the page out at width and checks what the probe reports; it
// returns the page's height.
func probe(t *testing.T, dir, file, lang string, width, tables int) int {
	t.Helper()
	out := chrome(t, dir, fmt.Sprintf("--window-size=%d,1000", width), "--dump-dom", "file://"+file)
	m := regexp.MustCompile(`(?s)<pre id="probe">(.*?)</pre>`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("probe did not run:\n%.2000s", out)
	}
	charts, tabs, height, glyphs := 0, 0, 0, -1
	for _, line := range strings.Split(strings.TrimSpace(m[1]), "\n") {
		f := strings.Fields(line)
		switch f[0] {
		case "svg", "table":
			w, _ := strconv.ParseFloat(f[2], 64)
			h, _ := strconv.ParseFloat(f[3], 64)
			n, _ := strconv.Atoi(f[4])
			if w <= 0 || h <= 0 || n == 0 {
				t.Errorf("width %d: %s %s is empty in Chromium: %gx%g, %d bars/rows", width, f[0], f[1], w, h, n)
			}
			if f[0] == "svg" {
				charts++
			} else {
				tabs++
			}
		case "height":
			height, _ = strconv.Atoi(f[1])
		case "glyphs":
			// glyphs <characters> <distinct pictures> <pictures equal to tofu>
			n, _ := strconv.Atoi(f[2])
			tofu, _ := strconv.Atoi(f[3])
			glyphs = n
			if chars := len([]rune(f[1])); lang == report.LangJA && (chars < 5 || n != chars || tofu != 0) {
				t.Errorf("width %d: Japanese drawn as tofu: %d characters %q gave %d distinct pictures, %d equal to a missing glyph's box", width, chars, f[1], n, tofu)
			}
		default: // overflow, clipped, overlap, heading, backtick
			t.Errorf("width %d: %s", width, line)
		}
	}
	if charts != 3 || tabs < tables {
		t.Fatalf("width %d: Chromium laid out %d charts and %d tables:\n%s", width, charts, tabs, m[1])
	}
	if lang == report.LangJA && glyphs < 0 {
		t.Error("the probe did not check the glyphs")
	}
	return height
}

func chrome(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + filepath.Join(dir, "chromium-profile")}
	cmd := exec.CommandContext(ctx, chromium, append(base, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// a4Pages checks that every page of the PDF is A4 (595 x 842 points, as
// Chromium writes it: 595.2756 x 841.8898) and returns how many there are.
func a4Pages(t *testing.T, file string) int {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	boxes := regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`).FindAllSubmatch(raw, -1)
	pages := len(regexp.MustCompile(`/Type\s*/Page\b`).FindAll(raw, -1))
	if len(boxes) == 0 || pages == 0 {
		t.Fatalf("%s: no pages or no MediaBox", file)
	}
	for _, b := range boxes {
		w, _ := strconv.ParseFloat(string(b[1]), 64)
		h, _ := strconv.ParseFloat(string(b[2]), 64)
		if w < 594 || w > 596.5 || h < 841 || h > 843 {
			t.Errorf("%s: page of %gx%g points, want A4 (595x842)", file, w, h)
		}
	}
	if pages < 2 {
		t.Errorf("%s: %d page(s): the report cannot fit on one A4 page", file, pages)
	}
	return pages
}

// probeScript reports, one line each: every chart's and table's size and
// bars or rows; the page's height; the glyph check; and any overflow,
// clipped chart text, overlapping legend, repeated heading or backtick.
const probeScript = `<script>
(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (s) {
    var r = s.getBoundingClientRect(), bars = 0;
    s.querySelectorAll('rect').forEach(function (x) { if (x.getBoundingClientRect().width > 0) bars++; });
    out.push('svg ' + s.id + ' ' + r.width + ' ' + r.height + ' ' + bars);
    var vb = s.viewBox.baseVal;
    s.querySelectorAll('text').forEach(function (x) {
      var b = x.getBBox();
      if (b.x < -0.5 || b.y < -0.5 || b.x + b.width > vb.width + 0.5 || b.y + b.height > vb.height + 0.5)
        out.push('clipped ' + s.id + ' "' + x.textContent + '" at ' + [b.x, b.y, b.width, b.height].map(Math.round).join(','));
    });
    var items = Array.prototype.map.call(s.querySelectorAll('g.legend'), function (g) { return g.getBBox(); });
    for (var i = 0; i < items.length; i++) for (var j = i + 1; j < items.length; j++) {
      var a = items[i], b = items[j];
      if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height)
        out.push('overlap ' + s.id + ' legend entries ' + i + ' and ' + j);
    }
  });
  document.querySelectorAll('table.figures').forEach(function (t) {
    var r = t.getBoundingClientRect();
    out.push('table ' + t.id + ' ' + r.width + ' ' + r.height + ' ' + t.tBodies[0].rows.length);
  });
  out.push('height ' + Math.ceil(document.documentElement.scrollHeight));
  var de = document.documentElement;
  if (de.scrollWidth > de.clientWidth + 1) out.push('overflow the page scrolls sideways: ' + de.scrollWidth + ' > ' + de.clientWidth);
  document.querySelectorAll('h1, h2, h3, p, th, td, pre, figure, table, caption').forEach(function (e) {
    if (getComputedStyle(e).display === 'inline') return;
    if (e.scrollWidth > e.clientWidth + 1 && e.clientWidth > 0)
      out.push('overflow ' + e.tagName.toLowerCase() + ' "' + e.textContent.trim().slice(0, 60) + '" ' + e.scrollWidth + ' > ' + e.clientWidth);
    var r = e.getBoundingClientRect();
    if (r.right > de.clientWidth + 1) out.push('overflow ' + e.tagName.toLowerCase() + ' "' + e.textContent.trim().slice(0, 60) + '" ends at ' + r.right);
  });
  var seen = {};
  document.querySelectorAll('h1, h2, h3, caption').forEach(function (h) {
    var k = h.textContent.trim();
    if (seen[k]) out.push('heading repeated: "' + k + '"');
    seen[k] = true;
  });
  if (document.body.innerText.indexOf(String.fromCharCode(96)) >= 0) out.push('backtick shows on the page');
  // Glyphs: each distinct wide character of the title, drawn alone in the
  // page's font, must give its own picture, unlike a character no font
  // has (U+10FFFD, a private-use code point), which is drawn as the box.
  var font = getComputedStyle(document.body).fontFamily;
  var chars = [], uniq = {};
  Array.from(document.querySelector('h1').textContent).forEach(function (c) {
    if (c.codePointAt(0) >= 0x3000 && !uniq[c]) { uniq[c] = true; chars.push(c); }
  });
  chars = chars.slice(0, 12);
  var cv = document.createElement('canvas'); cv.width = 40; cv.height = 40;
  var cx = cv.getContext('2d');
  function picture(c) {
    cx.clearRect(0, 0, 40, 40); cx.fillStyle = '#000'; cx.font = '32px ' + font; cx.textBaseline = 'top';
    cx.fillText(c, 2, 2);
    var d = cx.getImageData(0, 0, 40, 40).data, s = '';
    for (var i = 3; i < d.length; i += 4) s += d[i] > 127 ? '1' : '0';
    return s;
  }
  var tofu = picture(String.fromCodePoint(0x10FFFD)), pics = {}, n = 0, likeTofu = 0;
  chars.forEach(function (c) { var p = picture(c); if (!pics[p]) { pics[p] = true; n++; } if (p === tofu) likeTofu++; });
  if (chars.length) out.push('glyphs ' + chars.join('') + ' ' + n + ' ' + likeTofu);
  var p = document.createElement('pre'); p.id = 'probe'; p.textContent = out.join('\n');
  document.body.appendChild(p);
})();
</script>`
