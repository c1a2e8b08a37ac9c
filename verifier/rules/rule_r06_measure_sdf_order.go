package rules

import (
	"time"
)

// R6 measure.sdf-order: an SDF protection measure follows a Prime Minister's order.
var ruleR6 = Rule{
	RuleInfo: RuleInfo{ID: MeasureSDFOrder, Name: "measure.sdf-order", Version: 1,
		Title: "an SDF protection measure follows a Prime Minister's order"},
	Charged: "`measure.executed` with `measure: sdf_protection`",
	When:    "`executor` is not `sdf`; or no `pm.ordered` with `ordered_at` ≤ `started_at` is named in the measure's `refs` or its approval's request's `refs`.",
	Reads:   "measure as R5; `pm.ordered`: `ordered_at`",
}

func (c *checker) measureSDFOrder(b *body, start time.Time, linked linkFunc) {
	if b.Measure != "sdf_protection" {
		return
	}
	if b.Executor != "sdf" {
		c.report(MeasureSDFOrder, "an sdf_protection measure is executed by the SDF, not %s", b.Executor)
	}
	pm := linked(c.e.st.Orders, func(r *request) time.Time { return r.PM })
	switch {
	case pm.IsZero():
		c.report(MeasureSDFOrder, "no pm.ordered is linked to the measure (in its refs or its approval's request)")
	case !start.IsZero() && pm.After(start):
		c.report(MeasureSDFOrder, "the Prime Minister's order came at %s, after the measure started at %s", ts(pm), ts(start))
	}
}
