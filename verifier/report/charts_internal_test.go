package report

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The value axis has round ticks: a step of 1, 2 or 5 times a power of
// ten, at most 5 steps, a top at or above the largest value. (A top of 5
// once gave the ticks 0, 1, 2, 3, 5.)
func TestNiceScale(t *testing.T) {
	for _, c := range []struct{ v, top, step uint64 }{
		{0, 1, 1}, {1, 1, 1}, {3, 3, 1}, {5, 5, 1}, {6, 6, 2}, {7, 8, 2}, {10, 10, 2}, {11, 15, 5},
		{47, 50, 10}, {60, 60, 20}, {85, 100, 20}, {101, 150, 50}, {55749, 60000, 20000}, {1 << 62, 5000000000000000000, 1000000000000000000},
	} {
		top, step := niceScale(c.v)
		if top != c.top || step != c.step {
			t.Errorf("niceScale(%d) = %d, %d; want %d, %d", c.v, top, step, c.top, c.step)
		}
	}
}

func TestColumnChartTicks(t *testing.T) {
	svg := columnChart(LangEN, 0, "c", "t", "d", []string{"a", "b"}, []uint64{5, 3})
	var ticks []string
	for _, m := range regexp.MustCompile(`class="tick">([^<]*)<`).FindAllStringSubmatch(svg, -1) {
		ticks = append(ticks, m[1])
	}
	if want := []string{"0", "1", "2", "3", "4", "5"}; !slices.Equal(ticks, want) {
		t.Errorf("ticks %v, want %v", ticks, want)
	}
}

// A label wider than the label column wraps; the legend wraps instead of
// running off the chart.
func TestBarChartWraps(t *testing.T) {
	long := strings.Repeat("延長：特定外内", 8)
	svg := barChart(LangJA, 0, "b", "t", "d", []string{long, "短い"}, []string{strings.Repeat("凡例", 12), strings.Repeat("凡例", 12), strings.Repeat("凡例", 12)},
		[][]uint64{{1, 2, 3}, {4, 5, 6}}, true)
	if n := strings.Count(svg, "<tspan"); n < 3 {
		t.Errorf("the long label did not wrap (%d tspans)", n)
	}
	ys := map[string]bool{}
	for _, m := range regexp.MustCompile(`<g class="legend"><rect x="[0-9.]+" y="([0-9.]+)"`).FindAllStringSubmatch(svg, -1) {
		ys[m[1]] = true
	}
	if len(ys) < 2 {
		t.Errorf("the legend did not wrap: rows at %v", ys)
	}
	for _, m := range regexp.MustCompile(`<g class="legend"><rect x="([0-9.]+)"`).FindAllStringSubmatch(svg, -1) {
		if x := m[1]; len(x) > 5 { // x >= 1000.0
			t.Errorf("legend entry at x=%s", x)
		}
	}
}

// A command in a label shows as code in HTML, without its backticks.
func TestCodeSpans(t *testing.T) {
	if got := string(codeSpans("recompute (`acdledger report verify`) & <b>")); got != "recompute (<code>acdledger report verify</code>) &amp; &lt;b&gt;" {
		t.Errorf("codeSpans: %s", got)
	}
	if got := string(codeSpans("an odd ` stays")); got != "an odd ` stays" {
		t.Errorf("codeSpans of a lone backtick: %s", got)
	}
}
