package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"strings"
	"time"
)

// RenderOptions choose the language and the banding of small counts.
type RenderOptions struct {
	Lang string // LangJA (default) or LangEN
	// Band, if above 1, shows every count from 1 to Band-1 as "<Band"
	// ("Band未満"), as ODNI's transparency report does for small numbers.
	// Zero stays zero: that a forbidden figure is 0 must stay visible.
	Band uint64
}

func (o RenderOptions) lang() (string, error) {
	switch o.Lang {
	case "", LangJA:
		return LangJA, nil
	case LangEN:
		return LangEN, nil
	}
	return "", fmt.Errorf("language %q: want %q or %q", o.Lang, LangJA, LangEN)
}

// view is what both renderings show, already in the chosen language.
type view struct {
	Lang, Title, Period, BasisRule, BandNote string
	Recompute                                template.HTML // with the command as <code>
	Sep                                      string        // between sentences: a space in English, none in Japanese
	Input                                    [][2]string
	Checkpoint                               string
	Charts                                   []template.HTML
	Tables                                   []tableView
	Rules                                    *rulesView
	Integrity, Generated                     string
	T                                        map[string]string
}

type tableView struct {
	ID, Title, Note, RowHead string
	Columns                  []string
	Rows                     []rowView
}

type rowView struct {
	Label  string
	Values []string
}

type rulesView struct {
	Text, None string
	List       [][]string
}

func newView(r *Report, o RenderOptions) (*view, error) {
	lang, err := o.lang()
	if err != nil {
		return nil, err
	}
	v := &view{Lang: lang, Title: title(lang, r.Period), Period: periodText(r.Period),
		Recompute: codeSpans(tr(lang, "recompute")), BasisRule: tr(lang, "basis_rule"), Checkpoint: r.Log.Checkpoint,
		Generated: tr(lang, "generated"), T: map[string]string{}}
	if lang == LangEN {
		v.Sep = " "
	}
	for k := range text {
		v.T[k] = tr(lang, k)
	}
	if o.Band > 1 {
		v.BandNote = fmt.Sprintf(tr(lang, "band"), o.Band, o.Band)
	}
	cos := strings.Join(r.Log.Cosigners, ", ")
	if cos == "" {
		cos = tr(lang, "none")
	}
	rng := tr(lang, "none")
	if r.Log.FirstIndex != nil {
		rng = fmt.Sprintf("[%d, %d]", *r.Log.FirstIndex, *r.Log.LastIndex)
	}
	secs := func(n int64) string { return duration(lang, n) }
	v.Input = [][2]string{
		{tr(lang, "period"), v.Period},
		{tr(lang, "log"), r.Log.Origin},
		{tr(lang, "tree_size"), number(lang, r.Log.TreeSize, 0)},
		{tr(lang, "root_hash"), r.Log.RootHash},
		{tr(lang, "cosigners"), cos},
		{tr(lang, "in_period"), number(lang, r.Log.EntriesInPeriod, 0)},
		{tr(lang, "index_range"), rng},
		{tr(lang, "failures"), number(lang, r.Log.AdmissionFailures, 0)},
		{tr(lang, "immediate"), secs(r.Parameters.ImmediateDeletionSeconds)},
		{tr(lang, "retention_limit"), secs(r.Parameters.RetentionLimitSeconds)},
		{tr(lang, "deadline_grace"), secs(r.Parameters.DeadlineGraceSeconds)},
	}
	for _, c := range charts(r, lang, o.Band) {
		v.Charts = append(v.Charts, template.HTML(c)) // built from escaped text only
	}
	for _, t := range r.Tables {
		tv := tableView{ID: t.ID, Title: tableTitle(lang, t.ID), Note: tableNote(lang, t.ID), RowHead: tr(lang, "row")}
		for _, c := range t.Columns {
			tv.Columns = append(tv.Columns, columnLabel(lang, c))
		}
		for _, row := range t.Rows {
			rv := rowView{Label: rowLabel(lang, t.ID, row.Key)}
			for _, c := range t.Columns {
				rv.Values = append(rv.Values, number(lang, row.Values[c], o.Band))
			}
			tv.Rows = append(tv.Rows, rv)
		}
		v.Tables = append(v.Tables, tv)
	}
	if r.Rules != nil {
		asOf := r.Rules.AsOf
		if t, err := time.Parse(time.RFC3339Nano, asOf); err == nil {
			asOf = t.In(JST).Format("2006-01-02 15:04 MST")
		}
		rv := &rulesView{Text: fmt.Sprintf(tr(lang, "rules.text"), r.Rules.Config, asOf)}
		if len(r.Rules.Violations) == 0 {
			rv.None = tr(lang, "rules.none")
		}
		for _, x := range r.Rules.Violations {
			rv.List = append(rv.List, []string{x.Rule, fmt.Sprint(x.Index), x.EntryID, x.Case, strings.Join(x.Reasons, "; ")})
		}
		v.Rules = rv
	}
	signed := ""
	if len(r.Log.Cosigners) > 0 {
		signed = fmt.Sprintf(tr(lang, "integrity.cosigned"), strings.Join(r.Log.Cosigners, ", "))
	}
	v.Integrity = fmt.Sprintf(tr(lang, "integrity.text"), r.Log.Origin, r.Log.TreeSize, r.Log.RootHash, signed)
	return v, nil
}

// Markdown renders the report as Markdown (tables, no charts).
func Markdown(r *Report, o RenderOptions) ([]byte, error) {
	v, err := newView(r, o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", v.Title)
	fmt.Fprintf(&b, "%s%s%s\n\n", tr(v.Lang, "recompute"), v.Sep, v.BasisRule)
	if v.BandNote != "" {
		fmt.Fprintf(&b, "%s\n\n", v.BandNote)
	}
	fmt.Fprintf(&b, "## %s\n\n| | |\n|---|---|\n", v.T["input"])
	for _, kv := range v.Input {
		fmt.Fprintf(&b, "| %s | %s |\n", mdCell(kv[0]), mdCell(kv[1]))
	}
	for i, t := range v.Tables {
		fmt.Fprintf(&b, "\n## %d. %s\n\n", i+1, t.Title)
		if t.Note != "" {
			fmt.Fprintf(&b, "%s\n\n", t.Note)
		}
		fmt.Fprintf(&b, "| %s |", mdCell(t.RowHead))
		for _, c := range t.Columns {
			fmt.Fprintf(&b, " %s |", mdCell(c))
		}
		b.WriteString("\n|---|" + strings.Repeat("---:|", len(t.Columns)) + "\n")
		for _, row := range t.Rows {
			fmt.Fprintf(&b, "| %s |", mdCell(row.Label))
			for _, x := range row.Values {
				fmt.Fprintf(&b, " %s |", mdCell(x))
			}
			b.WriteString("\n")
		}
	}
	if v.Rules != nil {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n", v.T["rules"], v.Rules.Text)
		if v.Rules.None != "" {
			fmt.Fprintf(&b, "\n%s\n", v.Rules.None)
		} else {
			fmt.Fprintf(&b, "\n### %s\n\n| %s | %s | %s | %s | %s |\n|---|---:|---|---|---|\n", v.T["rules.list"], v.T["rule"], v.T["index"], v.T["entry"], v.T["case"], v.T["reasons"])
			for _, x := range v.Rules.List {
				fmt.Fprintf(&b, "| %s | %s | %s | %s | %s |\n", mdCell(x[0]), x[1], mdCell(x[2]), mdCell(x[3]), mdCell(x[4]))
			}
		}
	}
	fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s:\n\n```\n%s```\n\n---\n%s\n", v.T["integrity"], v.Integrity, v.T["checkpoint"], v.Checkpoint, v.Generated)
	return b.Bytes(), nil
}

// codeSpans renders a label for HTML: the text escaped, each `…` span (a
// command, in Markdown's notation, which the Markdown rendering keeps) as
// <code>…</code>, so no backtick shows on the page.
func codeSpans(s string) template.HTML {
	parts := strings.Split(s, "`")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
			continue
		}
		if i%2 == 1 {
			b.WriteString(template.HTMLEscapeString("`"))
		}
		b.WriteString(template.HTMLEscapeString(p))
	}
	return template.HTML(b.String())
}

// mdCell keeps a value inside its Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

//go:embed report.html.tmpl
var htmlSource string

var htmlTemplate = template.Must(template.New("report").Parse(htmlSource))

// HTML renders the report as one self-contained page: inline CSS, inline
// SVG charts, no script and no external resource.
func HTML(r *Report, o RenderOptions) ([]byte, error) {
	v, err := newView(r, o)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := htmlTemplate.Execute(&b, v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
