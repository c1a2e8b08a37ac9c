package report_test

import (
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/verifier/report"
)

// A report may resume only at a statement judged by the period's start,
// with no admission failure; each refusal says why.
func TestResumable(t *testing.T) {
	p, err := report.NewPeriod(report.BasisFiscal, 2026)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 4, 1, 0, 0, 0, 0, report.JST)
	if err := report.Resumable(p, start, 0); err != nil {
		t.Fatalf("as of the period's start: %v", err)
	}
	if err := report.Resumable(p, start.Add(-24*time.Hour), 0); err != nil {
		t.Fatalf("the day before: %v", err)
	}
	for _, c := range []struct {
		asOf     time.Time
		failures uint64
		want     string
	}{
		{start.Add(time.Second), 0, "after the period's start"},
		{start, 3, "3 admission failures"},
	} {
		if err := report.Resumable(p, c.asOf, c.failures); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("as of %s, %d failures: %v, want %q", c.asOf, c.failures, err, c.want)
		}
	}
}
