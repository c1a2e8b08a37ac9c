package rules

// R13 oversight.response: every demand and recommendation gets a response by its due date.
var ruleR13 = Rule{
	RuleInfo: RuleInfo{ID: OversightResponse, Name: "oversight.response", Version: 1,
		Title: "every demand and recommendation gets a response by its due date"},
	Charged: "`demand`, `recommendation` (deadline)",
	When:    "no `response` from the `target_agency` naming it in `to` has `responded_at` ≤ `due`.",
	Reads:   "`due`, `target_agency`; response: `to`, `responded_at`, the entry's `agency`",
}

// openResponse opens a demand's or recommendation's obligation to be
// answered by its target agency.
func (c *checker) openResponse(b *body) {
	if due := tm(b.Due); !due.IsZero() {
		c.e.st.Obligations[key(OversightResponse, c.entry.ID)] = &obligation{Rule: OversightResponse, Index: c.index, EntryID: c.entry.ID, Case: c.entry.Case,
			Due: due, What: "response", Agency: b.TargetAgency}
	}
}

// responded closes it, late or not, if the response is the target's.
func (c *checker) responded(b *body) {
	st := c.e.st
	k := key(OversightResponse, b.To)
	if o := st.Obligations[k]; o != nil && (o.Agency == "" || o.Agency == c.entry.Agency) {
		if at := tm(b.RespondedAt); !at.IsZero() && at.After(o.Due) {
			c.late(o, "responded at %s (entry %s at index %d), after the due date %s", ts(at), c.entry.ID, c.index, ts(o.Due))
		}
		delete(st.Obligations, k)
	}
}
