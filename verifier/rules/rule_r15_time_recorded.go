package rules

// R15 time.recorded: occurred_at is not after the covering checkpoint was seen, nor further before it than the record lag.
var ruleR15 = Rule{
	RuleInfo: RuleInfo{ID: RecordTime, Name: "time.recorded", Version: 1,
		Title: "occurred_at is not after the covering checkpoint was seen, nor further before it than the record lag"},
	Charged: "any entry",
	When:    "`occurred_at` is later than `clock_skew` after a checkpoint covering the entry had been seen (an entry from the future); or earlier than `max_record_lag` before the entry can have been logged (back-dated).",
	Reads:   "`occurred_at`, and when the entry was logged (below)",
}

func (c *checker) recorded(cov Coverage) {
	occ := tm(c.entry.OccurredAt)
	if occ.IsZero() {
		return
	}
	if !cov.By.IsZero() && occ.After(cov.By.Add(c.e.cfg.ClockSkew.D())) {
		c.report(RecordTime, "occurred_at %s is after %s, when a checkpoint covering the entry was already seen%s", ts(occ), ts(cov.By), note(cov.ByNote))
	}
	if !cov.After.IsZero() && occ.Before(cov.After.Add(-c.e.cfg.MaxRecordLag.D())) {
		c.report(RecordTime, "occurred_at %s is more than %s before the entry was logged (it was not in the log at %s%s): back-dated", ts(occ), c.e.cfg.MaxRecordLag.D(), ts(cov.After), note(cov.AfterNote))
	}
}

// note appends a bound's source to a reason ("; witness time: …").
func note(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}
