package bench

import (
	"fmt"
	"time"
)

// openNote says, for row (8b), how open-to-admission-ready compares with
// the same row at the smallest size of this run (issue 12: flat within 2×
// from 10k to 1M), and when the background check of the snapshot's id
// table (log_state version 3, checked a block at a time) ended, beside
// the open: admission runs meanwhile, on checked blocks only.
func openNote(n int, open, checked time.Duration) string {
	s := fmt.Sprintf("; table checked in the background %.1f ms after open returned (%.2f× of the open)", ms(checked-open), float64(checked-open)/float64(open))
	resMu.Lock()
	defer resMu.Unlock()
	for _, r := range results {
		if len(r.id) > 3 && r.id[:3] == "8b." && r.entries < n {
			s += fmt.Sprintf("; open %.2f× of 8b at %d entries in this run (%.1f ms)", float64(open)/float64(r.elapsed), r.entries, ms(r.elapsed))
			break
		}
	}
	return s
}
