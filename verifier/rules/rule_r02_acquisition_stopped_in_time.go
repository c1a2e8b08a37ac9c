package rules

// R2 acquisition.stopped-in-time: an acquisition stops by the end of its approval (as extended) or agreement.
var ruleR2 = Rule{
	RuleInfo: RuleInfo{ID: AcquisitionStop, Name: "acquisition.stopped-in-time", Version: 1,
		Title: "an acquisition stops by the end of its approval (as extended) or agreement"},
	Charged: "`acquisition.started` (deadline)",
	When:    "no `acquisition.stopped` has `stopped_at` by the end of the authority: the approval's `approved_until`, moved later by every approved `extension` request (`extends` naming the approval or an earlier extension's decision); for agreements the current `valid_until` (an `agreement.amended` replaces it) or `terminated_at` if earlier.",
	Reads:   "acquisition.stopped: `acquisition`, `stopped_at`; as R1",
}

// openStop opens the obligation to stop by the end of the authority.
func (c *checker) openStop(auth string) {
	if end := c.e.authorityEnd(auth); !end.IsZero() {
		c.e.st.Obligations[key(AcquisitionStop, c.entry.ID)] = &obligation{Rule: AcquisitionStop, Index: c.index, EntryID: c.entry.ID,
			Case: c.entry.Case, Due: end, What: "acquisition.stopped", Auth: auth}
	}
}

// acquisitionStopped closes it, late or not.
func (c *checker) acquisitionStopped(b *body) {
	st := c.e.st
	if o := st.Obligations[key(AcquisitionStop, b.Acquisition)]; o != nil {
		if at := tm(b.StoppedAt); !at.IsZero() && at.After(o.Due) {
			c.late(o, "stopped at %s (entry %s at index %d), after its authority ended at %s", ts(at), c.entry.ID, c.index, ts(o.Due))
		}
		delete(st.Obligations, key(AcquisitionStop, b.Acquisition))
	}
}
