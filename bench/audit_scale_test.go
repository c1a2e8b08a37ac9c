package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// (10) `audit` of the whole log at each size (rules off), for its time
// and, above all, its peak RSS: issue 12 asks that the auditor's memory at
// 1M entries grow no faster than the log's id set requires.
func BenchmarkAuditScale(b *testing.B) {
	for _, n := range scaleSizes(b) {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := bigLedger(b, n)
			p, err := verifier.LoadPins(filepath.Join(dir, ledger.VerifierFile), "", filepath.Join(dir, ledger.RegistryFile))
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				b.StopTimer()
				quiet()
				m := startMeter()
				b.StartTimer()
				start := time.Now()
				src, err := tlog.Open(filepath.Join(dir, ledger.LogDir))
				if err != nil {
					b.Fatal(err)
				}
				rep, err := p.Audit(context.Background(), src, verifier.AuditOptions{})
				if err != nil {
					b.Fatal(err)
				}
				elapsed := time.Since(start)
				b.StopTimer()
				if !rep.OK() || rep.Entries != uint64(n) {
					b.Fatalf("audit of %d entries: ok %v, %d entries", n, rep.OK(), rep.Entries)
				}
				peak := peakRSS()
				cores, others := m.cores(elapsed)
				b.StartTimer()
				record(b, result{id: fmt.Sprintf("10.%d", n), name: fmt.Sprintf("audit of the whole log (rules off), %d entries", n), entries: n, elapsed: elapsed,
					rate: float64(n) / elapsed.Seconds(), peakKiB: peak, cores: cores, others: others})
			}
		})
	}
}
