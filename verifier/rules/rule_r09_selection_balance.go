package rules

// R9 selection.balance: a selection batch balances (n_in = n_selected + n_deleted, counts add up) and deletes the rest promptly.
var ruleR9 = Rule{
	RuleInfo: RuleInfo{ID: SelectionBalance, Name: "selection.balance", Version: 1,
		Title: "a selection batch balances (n_in = n_selected + n_deleted, counts add up) and deletes the rest promptly"},
	Charged: "`selection.batch`",
	When:    "`n_in` ≠ `n_selected` + `n_deleted`; the `counts` do not add up to `n_selected`; `window_end` is before `window_start`; or `deleted_at` − `window_end` > `selection_delete_within`.",
	Reads:   "`n_in`, `n_selected`, `n_deleted`, `counts[].n`, `window_start/end`, `deleted_at`",
}

func (c *checker) selectionBalance(b *body) {
	if b.NIn != nil && b.NSelected != nil && b.NDeleted != nil && *b.NIn != *b.NSelected+*b.NDeleted {
		c.report(SelectionBalance, "n_in %d ≠ n_selected %d + n_deleted %d", *b.NIn, *b.NSelected, *b.NDeleted)
	}
	var sum uint64
	for _, r := range b.Counts {
		sum += r.N
	}
	if b.NSelected != nil && len(b.Counts) > 0 && sum != *b.NSelected {
		c.report(SelectionBalance, "counts add up to %d, but n_selected is %d", sum, *b.NSelected)
	}
	wStart, wEnd, del := tm(b.WindowStart), tm(b.WindowEnd), tm(b.DeletedAt)
	if !wStart.IsZero() && wEnd.Before(wStart) {
		c.report(SelectionBalance, "window ends at %s, before it starts at %s", ts(wEnd), ts(wStart))
	}
	if within := c.e.cfg.SelectionDeleteWithin.D(); !del.IsZero() && !wEnd.IsZero() && del.Sub(wEnd) > within {
		c.report(SelectionBalance, "unselected data deleted at %s, %s after the window ended; the limit is %s", ts(del), span(wEnd, del), within)
	}
}
