package rules

import (
	"time"
)

// R3 measure.authorised: a measure has an approval decided before its start, or is an emergency measure.
var ruleR3 = Rule{
	RuleInfo: RuleInfo{ID: MeasureAuthorised, Name: "measure.authorised", Version: 1,
		Title: "a measure has an approval decided before its start, or is an emergency measure"},
	Charged: "`measure.executed`",
	When:    "neither `approval` nor `emergency: true`; or the approval is not an earlier approved decision, was decided after `started_at`, does not cover `started_at`, or approves another `measure`.",
	Reads:   "`approval`, `emergency`, `measure`, `started_at`; decision and request as R1",
}

// measureAuthorised checks the measure's approval (or emergency) and
// returns the approving decision, if it is one.
func (c *checker) measureAuthorised(b *body, start time.Time) *decision {
	var d *decision
	switch {
	case b.Approval != "":
		if d = c.approved(MeasureAuthorised, b.Approval, "measure", start, true); d != nil && d.Measure != "" && d.Measure != b.Measure {
			c.report(MeasureAuthorised, "approval %s is for %s, not %s", b.Approval, d.Measure, b.Measure)
		}
	case b.Emergency:
	default:
		c.report(MeasureAuthorised, "the measure names no approval and is not marked emergency")
	}
	return d
}
