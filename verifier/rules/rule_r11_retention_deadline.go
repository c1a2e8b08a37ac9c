package rules

// R11 retention.deadline: selected data is deleted by its retention deadline.
var ruleR11 = Rule{
	RuleInfo: RuleInfo{ID: RetentionDeadline, Name: "retention.deadline", Version: 1,
		Title: "selected data is deleted by its retention deadline"},
	Charged: "`selection.batch` with `n_selected` > 0 (deadline)",
	When:    "no `retention.deleted` of the same agency and `dataset` has `deleted_at` ≤ `window_end` + `retention_max`. Schema 1 has no entry that extends a retention period, so none can be extended yet.",
	Reads:   "batch: `dataset`, `n_selected`, `window_end`; deletion: `dataset`, `deleted_at`",
}

// openRetention opens a batch's obligation to delete what it selected
// (one per agency and dataset: the first batch's deadline).
func (c *checker) openRetention(b *body) {
	st := c.e.st
	wEnd := tm(b.WindowEnd)
	if b.NSelected != nil && *b.NSelected > 0 && b.Dataset != "" && !wEnd.IsZero() {
		k := key(RetentionDeadline, c.entry.Agency+"/"+b.Dataset)
		if st.Obligations[k] == nil {
			st.Obligations[k] = &obligation{Rule: RetentionDeadline, Index: c.index, EntryID: c.entry.ID, Case: c.entry.Case,
				Due: wEnd.Add(c.e.cfg.RetentionMax.D()), What: "retention.deleted of dataset " + b.Dataset}
		}
	}
}

// retentionDeleted closes it, late or not.
func (c *checker) retentionDeleted(b *body) {
	st := c.e.st
	k := key(RetentionDeadline, c.entry.Agency+"/"+b.Dataset)
	if o := st.Obligations[k]; o != nil {
		if at := tm(b.DeletedAt); !at.IsZero() && at.After(o.Due) {
			c.late(o, "dataset %s deleted at %s (entry %s at index %d), after its retention deadline %s", b.Dataset, ts(at), c.entry.ID, c.index, ts(o.Due))
		}
		delete(st.Obligations, k)
	}
}
