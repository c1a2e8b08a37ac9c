package rules

import (
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/specs"
)

// The demo's generated activity follows the law by construction: the
// rules find nothing in it, however long after its end they are run, at
// the demo's size and over a year.
func TestGeneratedActivityIsCompliant(t *testing.T) {
	year := activity.DefaultConfig()
	year.Entries, year.Seed = 3000, 7
	year.End = year.Start.AddDate(1, 0, 0)
	for _, cfg := range []activity.Config{activity.DefaultConfig(), year} {
		entries, err := activity.Generate(cfg)
		if err != nil {
			t.Fatal(err)
		}
		e := New(DefaultConfig())
		var got []Violation
		for i, x := range entries {
			entry, err := specs.ParseEntry(x.Public())
			if err != nil {
				t.Fatal(err)
			}
			// Logged a minute after it occurred.
			at := entry.Occurred().Add(time.Minute)
			got = append(got, e.AddCovered(uint64(i), entry, Coverage{After: at, By: at})...)
		}
		got = append(got, e.Finish(cfg.End.AddDate(10, 0, 0))...)
		for _, v := range got {
			t.Errorf("seed %d: %s (%s) at %d %s: %s", cfg.Seed, v.Rule, v.Name(), v.Index, v.EntryID, v.Reason)
		}
		if e.OpenObligations() != 0 {
			t.Errorf("seed %d: %d obligations left open", cfg.Seed, e.OpenObligations())
		}
	}
}
