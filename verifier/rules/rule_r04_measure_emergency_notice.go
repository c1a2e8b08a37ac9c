package rules

import (
	"time"
)

// R4 measure.emergency-notice: an emergency measure is notified to the commission within the configured time.
var ruleR4 = Rule{
	RuleInfo: RuleInfo{ID: EmergencyNotice, Name: "measure.emergency-notice", Version: 1,
		Title: "an emergency measure is notified to the commission within the configured time"},
	Charged: "`measure.executed` with `emergency: true` (deadline)",
	When:    "no `emergency.notice` naming it has `notified_at` ≤ `started_at` + `emergency_notice_within`.",
	Reads:   "measure: `emergency`, `started_at`; notice: `measure`, `notified_at`",
}

// openNotice opens an emergency measure's obligation to be notified.
func (c *checker) openNotice(b *body, start time.Time) {
	if b.Emergency && !start.IsZero() {
		c.e.st.Obligations[key(EmergencyNotice, c.entry.ID)] = &obligation{Rule: EmergencyNotice, Index: c.index, EntryID: c.entry.ID,
			Case: c.entry.Case, Due: start.Add(c.e.cfg.EmergencyNoticeWithin.D()), What: "emergency.notice"}
	}
}

// emergencyNotified closes it, late or not.
func (c *checker) emergencyNotified(b *body) {
	st := c.e.st
	if o := st.Obligations[key(EmergencyNotice, b.Measure)]; o != nil {
		if at := tm(b.NotifiedAt); !at.IsZero() && at.After(o.Due) {
			c.late(o, "emergency measure notified at %s (entry %s at index %d), later than %s after its start (due %s)", ts(at), c.entry.ID, c.index, c.e.cfg.EmergencyNoticeWithin.D(), ts(o.Due))
		}
		delete(st.Obligations, key(EmergencyNotice, b.Measure))
	}
}
