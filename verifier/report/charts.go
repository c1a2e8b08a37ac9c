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

// niceMax rounds up to 1, 2 or 5 times a power of ten, for the axis.
func niceMax(v uint64) uint64 {
	if v == 0 {
		return 1
	}
	p := uint64(1)
	for p <= v/10 {
		p *= 10
	}
	for _, m := range []uint64{1, 2, 5} {
		if m*p >= v {
			return m * p
		}
	}
	if p <= math.MaxUint64/10 {
		return 10 * p
	}
	return v // beyond any real count: no rounding
}

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
	const h, top, bottom, left, right = 300, 30, 40, 60, 10
	s.open(id, h, titleText, desc)
	var hi uint64
	for _, v := range vals {
		v, _ = s.shown(v)
		hi = max(hi, v)
	}
	hi = niceMax(hi)
	plotH := float64(h - top - bottom)
	plotW := float64(chartW - left - right)
	fmt.Fprintf(s, `<text x="%d" y="18" font-weight="bold">%s</text>`, left, esc(titleText))
	for i := 0; i <= 4; i++ {
		y := float64(top) + plotH - plotH*float64(i)/4
		fmt.Fprintf(s, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>`, left, chartW-right, y, y)
		fmt.Fprintf(s, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-6, y, number(lang, hi*uint64(i)/4, 0))
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
// side by side (grouped) or end to end (stacked), with a legend.
func barChart(lang string, band uint64, id, titleText, desc string, groups, series []string, vals [][]uint64, stacked bool) string {
	s := &svgBuilder{lang: lang, band: band}
	const top, left, right, legendH = 30, 250, 90, 24
	rowH := 18 * len(series)
	if stacked {
		rowH = 22
	}
	rowH += 14
	h := top + legendH + rowH*len(groups) + 10
	s.open(id, h, titleText, desc)
	fmt.Fprintf(s, `<text x="10" y="18" font-weight="bold">%s</text>`, esc(titleText))
	// Legend.
	x := float64(left)
	for j, name := range series {
		fmt.Fprintf(s, `<rect x="%.1f" y="%d" width="12" height="12" fill="%s"/><text x="%.1f" y="%d">%s</text>`,
			x, top, palette[j%len(palette)], x+16, top+10, esc(name))
		x += 24 + 7.5*float64(len([]rune(name)))
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
	hi = niceMax(hi)
	plotW := float64(chartW - left - right)
	y0 := top + legendH
	for i, g := range groups {
		y := float64(y0 + rowH*i)
		fmt.Fprintf(s, `<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%s</text>`, left-8, y+float64(rowH-14)/2, esc(g))
		x := float64(left)
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
			s.bar(float64(left), by, max(w, 0), 16, color, banded, tip)
			fmt.Fprintf(s, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, float64(left)+w+4, by+8, number(lang, v, band))
		}
		if stacked {
			fmt.Fprintf(s, `<text x="%.1f" y="%.1f" dominant-baseline="middle">%s</text>`, x+4, y+10, number(lang, total, band))
		}
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
