package rules

import (
	"time"
)

// R12 provision.foreign: a provision to a foreign government is de-identified (and approved, if configured).
var ruleR12 = Rule{
	RuleInfo: RuleInfo{ID: ForeignProvision, Name: "provision.foreign", Version: 1,
		Title: "a provision to a foreign government is de-identified (and approved, if configured)"},
	Charged: "`provision`",
	When:    "`recipient_class: foreign_government` and `deidentified` is not true, or (with `foreign_provision_needs_approval`) `approval` is missing; for any provision, an `approval` that is not an earlier approved decision, or was decided after `provided_at`.",
	Reads:   "`recipient_class`, `deidentified`, `approval`, `provided_at`",
}

func (c *checker) provision(b *body) {
	at := tm(b.ProvidedAt)
	if b.Approval != "" {
		c.approved(ForeignProvision, b.Approval, "provision", time.Time{}, false)
		if d := c.e.st.Decisions[b.Approval]; d != nil && d.Approved && !at.IsZero() && d.DecidedAt.After(at) {
			c.report(ForeignProvision, "provided at %s, before its approval %s was decided at %s", ts(at), b.Approval, ts(d.DecidedAt))
		}
	}
	if b.RecipientClass != "foreign_government" {
		return
	}
	if b.Deidentified == nil || !*b.Deidentified {
		c.report(ForeignProvision, "provision to a foreign government is not de-identified")
	}
	if c.e.cfg.ForeignProvisionNeedsApproval && b.Approval == "" {
		c.report(ForeignProvision, "provision to a foreign government names no approval (foreign_provision_needs_approval is set)")
	}
}
