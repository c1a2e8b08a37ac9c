package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// reportRules adapts the rules engine to the report's RuleRunner, as
// `acdledger report` does.
type reportRules struct{ e *rules.Engine }

func (r reportRules) Add(i uint64, e *specs.Entry) []report.Violation {
	return toReportViolations(r.e.Add(i, e))
}
func (r reportRules) Finish(at time.Time) []report.Violation {
	return toReportViolations(r.e.Finish(at))
}

func toReportViolations(vs []rules.Violation) []report.Violation {
	out := make([]report.Violation, len(vs))
	for i, v := range vs {
		out[i] = report.Violation(v)
	}
	return out
}

// (4ar) audit with the compliance rules, and (4r) `report annual` (rules
// on), both on the log of (2), one after the other: the report's target is
// "at audit speed", so (4r) prints its ratio to (4ar) of this run.
func BenchmarkReport(b *testing.B) {
	dir, _ := ledgerForAudit(b)
	p := pins(b, dir)
	period, err := report.NewPeriod(report.BasisFiscal, 2026)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		src, err := tlog.Open(filepath.Join(dir, ledger.LogDir))
		if err != nil {
			b.Fatal(err)
		}
		quiet()
		m := startMeter()
		b.StartTimer()
		start := time.Now()
		rep, err := p.Audit(context.Background(), src, verifier.AuditOptions{Rules: rules.New(rules.DefaultConfig())})
		elapsed := time.Since(start)
		b.StopTimer()
		cores, others := m.cores(elapsed)
		if err != nil || !rep.OK() {
			b.Fatalf("audit: %v", err)
		}
		anchor := result{id: "4ar", name: "audit replay with the rules, the log of (2)", entries: int(rep.Entries), elapsed: elapsed,
			rate: float64(rep.Entries) / elapsed.Seconds(), peakKiB: peakRSS(), cores: cores, others: others}
		record(b, anchor)

		quiet()
		m = startMeter()
		b.StartTimer()
		start = time.Now()
		r, err := report.Build(context.Background(), p, src, report.Options{Period: period, Rules: reportRules{rules.New(rules.DefaultConfig())}, RulesConfig: "default"})
		elapsed = time.Since(start)
		b.StopTimer()
		cores, others = m.cores(elapsed)
		if err != nil {
			b.Fatal(err)
		}
		rate := float64(r.Log.TreeSize) / elapsed.Seconds()
		record(b, result{id: "4r", name: "report annual (rules on), the log of (2)", entries: int(r.Log.TreeSize), elapsed: elapsed,
			rate: rate, peakKiB: peakRSS(), cores: cores, others: others,
			note: fmt.Sprintf("%.0f entries/s, %.2f× of (4ar) audit with the rules in this run (%.0f/s)", rate, rate/anchor.rate, anchor.rate)})
		b.StartTimer()
	}
}
