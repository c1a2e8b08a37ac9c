package rules

import (
	"strings"
	"time"
)

// R5 measure.abroad: a measure abroad is a police measure of an allowed agency, after consulting the Minister for Foreign Affairs.
var ruleR5 = Rule{
	RuleInfo: RuleInfo{ID: MeasureAbroad, Name: "measure.abroad", Version: 1,
		Title: "a measure abroad is a police measure of an allowed agency, after consulting the Minister for Foreign Affairs"},
	Charged: "`measure.executed` with `measure: police_measure_abroad` or `target_location: foreign`",
	When:    "the two disagree (a foreign target needs `police_measure_abroad` and vice versa); `executor` is not `police`; the entry's `agency` is not in `abroad_agencies`; or no `mofa.consulted` with `consulted_at` ≤ `started_at` is linked to it — named in the measure's `refs`, in the `refs` of its approval's request, or naming that request in its own `body.request`.",
	Reads:   "measure: `measure`, `target_location`, `executor`, `started_at`, `refs`; `mofa.consulted`: `consulted_at`, `request`",
}

func (c *checker) measureAbroad(b *body, start time.Time, linked linkFunc) {
	if b.Measure != "police_measure_abroad" && b.TargetLocation != "foreign" {
		return
	}
	switch {
	case b.Measure != "police_measure_abroad":
		c.report(MeasureAbroad, "a measure against a foreign target must be a police_measure_abroad, not %s", b.Measure)
	case b.TargetLocation != "foreign":
		c.report(MeasureAbroad, "a police_measure_abroad must have a foreign target, not %s", b.TargetLocation)
	}
	if b.Executor != "police" {
		c.report(MeasureAbroad, "a measure abroad is executed by the police only, not %s", b.Executor)
	}
	if !c.e.abroad[c.entry.Agency] {
		c.report(MeasureAbroad, "agency %s may not execute measures abroad (abroad_agencies: %s)", c.entry.Agency, strings.Join(c.e.cfg.AbroadAgencies, ", "))
	}
	mofa := linked(c.e.st.Consults, func(r *request) time.Time { return r.Mofa })
	switch {
	case mofa.IsZero():
		c.report(MeasureAbroad, "no mofa.consulted is linked to the measure (in its refs or its approval's request)")
	case !start.IsZero() && mofa.After(start):
		c.report(MeasureAbroad, "the Minister for Foreign Affairs was consulted at %s, after the measure started at %s", ts(mofa), ts(start))
	}
}
