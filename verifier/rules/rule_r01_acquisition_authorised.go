package rules

import (
	"time"
)

// R1 acquisition.authorised: an acquisition starts under an approval decided before it, or a consent agreement, within its period and for its channel.
var ruleR1 = Rule{
	RuleInfo: RuleInfo{ID: AcquisitionAuthorised, Name: "acquisition.authorised", Version: 1,
		Title: "an acquisition starts under an approval decided before it, or a consent agreement, within its period and for its channel"},
	Charged: "`acquisition.started`",
	When:    "channel `agreement`: `body.agreement` does not name an earlier `agreement.concluded`/`amended`, or `started_at` is outside its `valid_from`–`valid_until` or not before its `terminated_at`. Other channels: `body.approval` is missing or does not name an earlier `approval.decided`; the decision is not `approved`/`conditional`; `decided_at` is after `started_at`; `started_at` is outside `approved_from`–`approved_until`; or the approved request's `measure` (through `extension`s, the measure extended) is not the `channel`.",
	Reads:   "acquisition: `channel`, `approval`, `agreement`, `started_at`; decision: `request`, `decision`, `decided_at`, `approved_from/until`; request: `measure`, `extends`; agreement: `valid_from/until`, `terminated_at`",
}

// acquisitionAuthorised checks the acquisition's authority and returns it
// (the concluded agreement, or the root approval of an extension chain);
// ok is false when there is none to hold the acquisition to (R2).
func (c *checker) acquisitionAuthorised(b *body, start time.Time) (auth string, ok bool) {
	if b.Channel == "agreement" {
		if b.Agreement == "" {
			c.report(AcquisitionAuthorised, "an agreement-channel acquisition must name its consent agreement")
			return "", false
		}
		root, a := c.e.agreementOf(b.Agreement)
		switch {
		case a == nil:
			c.report(AcquisitionAuthorised, "names %s, which is not a consent agreement earlier in the log", b.Agreement)
			return "", false
		case !a.Terminated.IsZero() && !start.Before(a.Terminated):
			c.report(AcquisitionAuthorised, "started at %s, after its agreement was terminated at %s", ts(start), ts(a.Terminated))
		case !start.IsZero() && (!a.From.IsZero() && start.Before(a.From) || !a.Until.IsZero() && start.After(a.Until)):
			c.report(AcquisitionAuthorised, "started at %s, outside the agreement's validity %s – %s", ts(start), ts(a.From), ts(a.Until))
		}
		return root, true
	}
	if b.Approval == "" {
		c.report(AcquisitionAuthorised, "a %s acquisition needs the commission's approval; it names none", b.Channel)
		return "", false
	}
	d := c.approved(AcquisitionAuthorised, b.Approval, "acquisition", start, true)
	if d == nil {
		return "", false
	}
	if d.Measure != "" && d.Measure != b.Channel {
		c.report(AcquisitionAuthorised, "approval %s is for %s, not %s", b.Approval, d.Measure, b.Channel)
	}
	return d.Root, true
}
