package report

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// The charts are hand-written SVG: no dependency, no script, nothing
// fetched. Every text is escaped with html.EscapeString. Each chart has a
// <title> and <desc> referenced by aria-labelledby, and a class "chart" and
// id so tests (and readers' style sheets) can find it.

// palette: distinguishable in colour and in greyscale print.
var palette = []string{"#1f5fa8", "#e07b22", "#3a9a5b", "#b8323a", "#7b5aa6"}

const (
	chartW     = 720
	fontFamily = `system-ui, "Hiragino Sans", "Noto Sans CJK JP", "Yu Gothic", sans-serif`
)

type svgBuilder struct {
	strings.Builder
	lang string
	band uint64
}

func (s *svgBuilder) open(id string, h int, titleText, desc string) {
	fmt.Fprintf(s, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" role="img" aria-labelledby="%s-title %s-desc" viewBox="0 0 %d %d" width="%d" height="%d" font-family='%s' font-size="12">`,
		id, id, id, chartW, h, chartW, h, fontFamily)
	fmt.Fprintf(s, `<title id="%s-title">%s</title><desc id="%s-desc">%s</desc>`, id, esc(titleText), id, esc(desc))
}

func (s *svgBuilder) close() { s.WriteString(`</svg>`) }

func esc(t string) string { return html.EscapeString(t) }

// shown is the length a value is drawn at: a banded value is drawn at the
// band (its upper bound), so the chart reveals no more than the table.
func (s *svgBuilder) shown(v uint64) (uint64, bool) {
	if s.band > 1 && v > 0 && v < s.band {
		return s.band, true
	}
	return v, false
}

// niceScale picks the value axis: a step of 1, 2 or 5 times a power of
// ten (never below 1: counts are whole) and a top that is a whole number of
// steps at or above v, with at most 5 steps, so every tick is a round
// number (0, 2, 4, 6, not 0, 1, 2, 3, 5 for a top of 5).
func niceScale(v uint64) (top, step uint64) {
	if v == 0 {
		return 1, 1
	}
	for p := uint64(1); ; p *= 10 {
		for _, m := range []uint64{1, 2, 5} {
			step = m * p
			if n := (v + step - 1) / step; n <= 5 {
				return n * step, step
			}
		}
		if p > math.MaxUint64/100 {
			return v, v // beyond any real count: one step
		}
	}
}

// textWidth estimates, generously, how wide s is drawn at size px: wide
// (CJK, full-width) characters take a full em, others at most 0.62 em. The
// charts lay out labels and legends with it, so none is clipped or
// overlaps, whatever the language.
func textWidth(s string, size float64) float64 {
	var w float64
	for _, r := range s {
		if isWide(r) {
			w += size
		} else {
			w += 0.62 * size
		}
	}
	return w
}

func isWide(r rune) bool {
	return r >= 0x1100 && (r <= 0x115f || (r >= 0x2e80 && r <= 0xa4cf) || (r >= 0xac00 && r <= 0xd7a3) ||
		(r >= 0xf900 && r <= 0xfaff) || (r >= 0xfe30 && r <= 0xfe4f) || (r >= 0xff00 && r <= 0xff60) || (r >= 0xffe0 && r <= 0xffe6))
}

// wrap splits s into lines no wider than w (at size px), breaking between
// characters: Japanese has no spaces, and English labels are short words.
func wrap(s string, w, size float64) []string {
	var lines []string
	var cur []rune
	for _, r := range s {
		if len(cur) > 0 && textWidth(string(append(cur, r)), size) > w {
			lines = append(lines, string(cur))
			cur = cur[:0]
		}
		cur = append(cur, r)
	}
	return append(lines, string(cur))
}

const fontSize = 12

// multiline writes a text of one or more lines (tspans), the first at y.
func (s *svgBuilder) multiline(x, y float64, anchor string, lines []string) {
	fmt.Fprintf(s, `<text x="%.1f" y="%.1f" text-anchor="%s" dominant-baseline="middle">`, x, y, anchor)
	for i, l := range lines {
		dy := 0
		if i > 0 {
			dy = lineH
		}
		fmt.Fprintf(s, `<tspan x="%.1f" dy="%d">%s</tspan>`, x, dy, esc(l))
	}
	s.WriteString(`</text>`)
}

const lineH = 15

// bar draws one rectangle; banded ones are hatched with a dashed outline.
func (s *svgBuilder) bar(x, y, w, h float64, color string, banded bool, tip string) {
	if banded {
		fmt.Fprintf(s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="%s" stroke-dasharray="3 2" class="banded"><title>%s</title></rect>`, x, y, w, h, color, esc(tip))
		return
	}
	fmt.Fprintf(s, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s</title></rect>`, x, y, w, h, color, esc(tip))
}

// columnChart is a vertical bar chart of one series over categories.
func columnChart(lang string, band uint64, id, titleText, desc string, cats []string, vals []uint64) string {
	s := &svgBuilder{lang: lang, band: band}
	const h, top, bottom, right = 300, 30, 40, 10
	var hi uint64
	for _, v := range vals {
		v, _ = s.shown(v)
		hi = max(hi, v)
	}
	hi, step := niceScale(hi)
	left := int(textWidth(number(lang, hi, 0), fontSize)) + 16
	s.open(id, h, titleText, desc)
	plotH := float64(h - top - bottom)
	plotW := float64(chartW - left - right)
	fmt.Fprintf(s, `<text x="10" y="18" font-weight="bold">%s</text>`, esc(titleText))
	for v := uint64(0); v <= hi; v += step {
		y := float64(top) + plotH - plotH*float64(v)/float64(hi)
		fmt.Fprintf(s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, chartW-right, y, y)
		fmt.Fprintf(s, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle" class="tick">%s</text>`, left-6, y, number(lang, v, 0))
		if hi-v < step {
			break
		}
	}
	slot := plotW / float64(max(len(cats), 1))
	for i, c := range cats {
		v, banded := s.shown(vals[i])
		bh := plotH * float64(v) / float64(hi)
		x := float64(left) + slot*float64(i) + slot*0.15
		s.bar(x, float64(top)+plotH-bh, slot*0.7, bh, palette[0], banded, c+": "+number(lang, vals[i], band))
		fmt.Fprintf(s, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x+slot*0.35, h-bottom+16, esc(c))
	}
	s.close()
	return s.String()
}

// barChart is a horizontal bar chart: one row per group, either the series
// side by side (grouped) or end to end (stacked), with a legend. The label
// column is as wide as the longest label (at most 40 % of the chart; longer
// labels wrap), the legend wraps onto as many lines as it needs.
func barChart(lang string, band uint64, id, titleText, desc string, groups, series []string, vals [][]uint64, stacked bool) string {
	s := &svgBuilder{lang: lang, band: band}
	const top, right, margin = 30, 90, 10
	labelW := 0.0
	for _, g := range groups {
		labelW = max(labelW, textWidth(g, fontSize))
	}
	labelW = min(labelW, 0.4*chartW)
	left := margin + labelW + 8
	// Legend: items left to right from the margin, wrapping.
	type item struct{ x, y float64 }
	var legend []item
	x, y := float64(margin), float64(top)
	for _, name := range series {
		w := 16 + textWidth(name, fontSize) + 14
		if x > margin && x+w > chartW-margin {
			x, y = margin, y+18
		}
		legend = append(legend, item{x, y})
		x += w
	}
	legendH := y - top + 24
	barsH := 18 * len(series)
	if stacked {
		barsH = 22
	}
	var labels [][]string
	var rowH []int
	h := top + int(legendH)
	for _, g := range groups {
		l := wrap(g, labelW, fontSize)
		labels = append(labels, l)
		rowH = append(rowH, max(barsH, lineH*len(l))+14)
		h += rowH[len(rowH)-1]
	}
	h += 10
	s.open(id, h, titleText, desc)
	fmt.Fprintf(s, `<text x="%d" y="18" font-weight="bold">%s</text>`, margin, esc(titleText))
	for j, name := range series {
		fmt.Fprintf(s, `<g class="legend"><rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/><text x="%.1f" y="%.1f">%s</text></g>`,
			legend[j].x, legend[j].y, palette[j%len(palette)], legend[j].x+16, legend[j].y+10, esc(name))
	}
	var hi uint64
	for _, row := range vals {
		var sum uint64
		for _, v := range row {
			v, _ = s.shown(v)
			if stacked {
				sum += v
			} else {
				hi = max(hi, v)
			}
		}
		hi = max(hi, sum)
	}
	hi, _ = niceScale(hi)
	plotW := chartW - left - right
	y = float64(top) + legendH
	for i, g := range groups {
		lines := labels[i]
		mid := y + float64(barsH)/2
		s.multiline(left-8, mid-float64(lineH*(len(lines)-1))/2, "end", lines)
		x := left
		var total uint64
		for j, v := range vals[i] {
			sv, banded := s.shown(v)
			w := plotW * float64(sv) / float64(hi)
			tip := g + ", " + series[j] + ": " + number(lang, v, band)
			color := palette[j%len(palette)]
			if stacked {
				if sv > 0 {
					s.bar(x, y, w, 20, color, banded, tip)
				}
				x += w
				total += v
				continue
			}
			by := y + float64(18*j)
			s.bar(left, by, max(w, 0), 16, color, banded, tip)
			fmt.Fprintf(s, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, left+w+4, by+8, number(lang, v, band))
		}
		if stacked {
			fmt.Fprintf(s, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, x+4, y+10, number(lang, total, band))
		}
		y += float64(rowH[i])
	}
	s.close()
	return s.String()
}

// charts returns the report's three charts as SVG markup.
func charts(r *Report, lang string, band uint64) []string {
	var out []string
	if t := r.Table(TMonthly); t != nil {
		var cats []string
		var vals []uint64
		for _, row := range t.Rows {
			cats = append(cats, shortMonth(lang, row.Key))
			vals = append(vals, row.Values["entries"])
		}
		out = append(out, columnChart(lang, band, "chart-monthly", tr(lang, "chart.monthly"), tr(lang, "chart.monthly.desc"), cats, vals))
	}
	if t := r.Table(TMeasures); t != nil {
		var groups []string
		var vals [][]uint64
		for _, row := range t.Rows {
			groups = append(groups, rowLabel(lang, TMeasures, row.Key))
			vals = append(vals, []uint64{row.Values["approved_in_advance"], row.Values["emergency"]})
		}
		series := []string{columnLabel(lang, "approved_in_advance"), columnLabel(lang, "emergency")}
		out = append(out, barChart(lang, band, "chart-measures", tr(lang, "chart.measures"), tr(lang, "chart.measures.desc"), groups, series, vals, false))
	}
	if t := r.Table(TSelectionVolumes); t != nil {
		var groups, series []string
		var vals [][]uint64
		for _, c := range categories {
			series = append(series, columnLabel(lang, c))
		}
		for _, row := range t.Rows {
			groups = append(groups, rowLabel(lang, TSelectionVolumes, row.Key))
			var v []uint64
			for _, c := range categories {
				v = append(v, row.Values[c])
			}
			vals = append(vals, v)
		}
		out = append(out, barChart(lang, band, "chart-volumes", tr(lang, "chart.volumes"), tr(lang, "chart.volumes.desc"), groups, series, vals, true))
	}
	return out
}

// shortMonth labels a month on an axis: "4月" or "Apr".
func shortMonth(lang, key string) string {
	var y, m int
	if _, err := fmt.Sscanf(key, "%d-%d", &y, &m); err != nil || m < 1 || m > 12 {
		return key
	}
	if lang == LangEN {
		return []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}[m-1]
	}
	return fmt.Sprintf("%d月", m)
}
