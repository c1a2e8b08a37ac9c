package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/ledger/submit"
)

var nAWSEntries = envInt("ACDLEDGER_BENCH_AWS_ENTRIES", 20_000) // (6)

// awsCheckpointInterval is the AWS driver's minimum, which acdledger uses.
const awsCheckpointInterval = time.Second

// awsStorage is a fresh database and bucket on the test services, or a
// skip with a note saying how to get them.
func awsStorage(b *testing.B) ledger.Storage {
	if os.Getenv(storagetest.EnvDSN) == "" || os.Getenv(storagetest.EnvS3Endpoint) == "" {
		fmt.Fprintln(os.Stderr, "bench: AWS-driver rows skipped: MariaDB and versitygw are not running "+
			"(make bench starts them when installed: scripts/install-test-deps.sh)")
		b.Skip("no test services")
	}
	return storagetest.AWSStorage(b)
}

// (6a) Bare Tessera on the AWS driver, as (1): the same leaves, the
// driver's minimum checkpoint interval (1s).
func BenchmarkTesseraAWS(b *testing.B) {
	f := loadFixture(b)
	n := min(nAWSEntries, len(f.envs))
	leaves := make([][]byte, n)
	for i := range leaves {
		leaves[i] = make([]byte, f.avgSize)
		copy(leaves[i], fmt.Sprintf("leaf %d", i))
	}
	for b.Loop() {
		b.StopTimer()
		st := awsStorage(b)
		d, err := ledger.TesseraDriver(context.Background(), st)
		if err != nil {
			b.Fatal(err)
		}
		r := runTessera(b, d, awsCheckpointInterval, leaves, nil)
		b.StartTimer()
		r.id = "6a"
		r.name = fmt.Sprintf("bare Tessera AWS driver (MariaDB + versitygw), %d B leaves", f.avgSize)
		record(b, r)
	}
}

// (6b) acdledger in-process on the AWS driver, as (2): Append of chunks of
// 256 pre-signed envelopes from one goroutine, a Receipt for each, with the
// admission state in the shared database.
func BenchmarkLedgerAppendAWS(b *testing.B) {
	full := loadFixture(b)
	f := *full
	f.envs = full.envs[:min(nAWSEntries, len(full.envs))]
	for b.Loop() {
		b.StopTimer()
		st := awsStorage(b)
		r, _ := runLedgerOn(b, scratch(b, "ledger-aws"), &f, 0, true, st)
		b.StartTimer()
		r.id = "6b"
		r.name = fmt.Sprintf("in-process on the AWS driver, Append ×%d from 1 goroutine, Receipt each", chunk)
		record(b, r)
	}
}

var (
	nAWSHTTPEntries = envInt("ACDLEDGER_BENCH_AWS_HTTP_ENTRIES", 8_000) // (6c), (6d)
	// (6e), (6f): fewer (before parking, one agency through two frontends
	// ran at about one entry per sequencing round trip; docs/deploy.md).
	nAWSOneAgency = envInt("ACDLEDGER_BENCH_AWS_ONE_AGENCY_ENTRIES", 600)
)

// awsHTTPWorkload is the workload of the scale-out rows: independent
// agencies (testkit.Many: no refs between them, so that splitting them
// over frontends adds no cross-frontend waits the one-frontend run has
// not), each with its entries in seq order.
func awsHTTPWorkload(b *testing.B, agencies, n int) ([]byte, [][][]byte) {
	kit := testkit.Many(b, agencies)
	per := make([][][]byte, agencies)
	for i := range n {
		a := i % agencies
		per[a] = append(per[a], kit.Signed(b, fmt.Sprintf("a%02d", a)))
	}
	return kit.RegJSON, per
}

// awsFrontends opens k frontends of one fresh AWS-driver log, each with its
// HTTP server on loopback. The returned stats function sums the frontends'
// admission database figures.
func awsFrontends(b *testing.B, reg []byte, k int) (urls []string, stats func() ledger.SharedStats, closeAll func()) {
	st := awsStorage(b)
	dir := scratch(b, "aws-http")
	if _, err := ledger.InitStorage(dir, "bench.example/aws-http", reg, st); err != nil {
		b.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var ls []*ledger.Ledger
	var hss []*http.Server
	for i := range k {
		d := dir
		if i > 0 {
			d = storagetest.Frontend(b, dir)
		}
		l, err := ledger.Open(context.Background(), d, ledger.Options{PushbackLimit: uint64(nAWSHTTPEntries) + 1, Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		ls = append(ls, l)
		// The server's defaults: the client's defaults must not need more.
		srv := server.New(l, server.Config{Logger: logger})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		hs := srv.HTTPServer(ln.Addr().String())
		go hs.Serve(ln)
		hss = append(hss, hs)
		urls = append(urls, "http://"+ln.Addr().String())
	}
	stats = func() ledger.SharedStats {
		var s ledger.SharedStats
		for _, l := range ls {
			x := l.SharedStats()
			s.RoundTrips += x.RoundTrips
			s.Batches += x.Batches
			s.Entries += x.Entries
			s.Claimed += x.Claimed
		}
		return s
	}
	return urls, stats, func() {
		for _, hs := range hss {
			hs.Shutdown(context.Background())
		}
		for _, l := range ls {
			l.Close(context.Background())
		}
	}
}

// runAWSHTTP posts every agency's entries, inFlight at a time per agency
// (as `append --server --parallel` does), with wait=true (a receipt each).
// route picks the frontend of an agency's i-th entry.
func runAWSHTTP(b *testing.B, reg []byte, per [][][]byte, frontends, inFlight int, route func(agency, i int) int) result {
	ctx := context.Background()
	urls, stats, closeAll := awsFrontends(b, reg, frontends)
	defer closeAll()
	n := 0
	for _, es := range per {
		n += len(es)
	}
	lat := make([]time.Duration, 0, n)
	var latMu sync.Mutex
	var errs firstErr
	var wg sync.WaitGroup
	s0 := stats()
	m := startMeter()
	b.StartTimer()
	start := time.Now()
	for a, es := range per {
		// One client per agency and frontend, as each agency runs its own
		// `append --server`.
		cls := make([]*submit.Client, len(urls))
		for i, u := range urls {
			c, err := submit.New(u)
			if err != nil {
				b.Fatal(err)
			}
			cls[i] = c
		}
		sem := make(chan struct{}, inFlight)
		wg.Go(func() {
			var inner sync.WaitGroup
			for i, env := range es {
				sem <- struct{}{}
				if errs.any() {
					break
				}
				inner.Go(func() {
					defer func() { <-sem }()
					t0 := time.Now()
					if _, err := cls[route(a, i)].Add(ctx, env, true); err != nil {
						errs.set(fmt.Errorf("agency %d entry %d: %w", a, i, err))
						return
					}
					d := time.Since(t0)
					latMu.Lock()
					lat = append(lat, d)
					latMu.Unlock()
				})
			}
			inner.Wait()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cores, others := m.cores(elapsed)
	errs.check(b)
	s := stats()
	trips, batches, entries, claimed := s.RoundTrips-s0.RoundTrips, s.Batches-s0.Batches, s.Entries-s0.Entries, s.Claimed-s0.Claimed
	p50, p99, mean := latencies(lat)
	note := fmt.Sprintf("admission database: %d round trips for %d entries in %d reservations: %.1f per reservation, %.2f per entry, %.1f entries per reservation, %d of them parked entries claimed (all of admission's statements: reservations, progress and parked-entry reads, confirmations, heartbeats)",
		trips, entries, batches, float64(trips)/max(1, float64(batches)), float64(trips)/max(1, float64(entries)), float64(entries)/max(1, float64(batches)), claimed)
	return result{entries: n, elapsed: elapsed, rate: float64(n) / elapsed.Seconds(), p50: p50, p99: p99, mean: mean,
		cores: cores, others: others, note: note}
}

// (6c)/(6d) HTTP on the AWS driver, one frontend and two: eight
// agencies with 64 entries in flight each (512 in all), each agency
// through one frontend (two frontends: four agencies each).
func BenchmarkAWSHTTPFrontends(b *testing.B) {
	const agencies, inFlight = 8, 64
	reg, per := awsHTTPWorkload(b, agencies, nAWSHTTPEntries)
	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("frontends=%d", k), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r := runAWSHTTP(b, reg, per, k, inFlight, func(a, _ int) int { return a % k })
				b.StartTimer()
				r.id = fmt.Sprintf("6%c", 'c'+k-1)
				r.name = fmt.Sprintf("HTTP on the AWS driver, %d frontend(s), %d agencies × %d in flight, receipt each", k, agencies, inFlight)
				record(b, r)
			}
		})
	}
}

// (6e)/(6f) One agency, the client's default 256 in flight, through one
// frontend, and spread over two (its entries alternate, as behind a
// plain load balancer).
func BenchmarkAWSHTTPOneAgency(b *testing.B) {
	const inFlight = 256
	reg, per := awsHTTPWorkload(b, 1, nAWSOneAgency)
	for _, k := range []int{1, 2} {
		b.Run(fmt.Sprintf("frontends=%d", k), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				r := runAWSHTTP(b, reg, per, k, inFlight, func(_, i int) int { return i % k })
				b.StartTimer()
				r.id = fmt.Sprintf("6%c", 'e'+k-1)
				r.name = fmt.Sprintf("HTTP on the AWS driver, one agency × %d in flight, %d frontend(s)", inFlight, k)
				record(b, r)
			}
		})
	}
}

// awsSummary prints the AWS-driver targets of issue 16, from the rows of
// this run.
func awsSummary(w io.Writer, check func(bool) string) {
	ratio := func(x, y *result) float64 { return x.rate / y.rate }
	if a, l := find("6a"), find("6b"); a != nil && l != nil {
		fmt.Fprintf(w, "  %s (6b) AWS driver: signed appends ≥ 0.8× bare Tessera on it (6a): %.2f×\n", check(ratio(l, a) >= 0.8), ratio(l, a))
	}
	if one, two := find("6c"), find("6d"); one != nil && two != nil {
		fmt.Fprintf(w, "  %s (6d) two frontends ≥ 1.6× one (6c): %.2f× (%.0f vs %.0f entries/s)\n", check(ratio(two, one) >= 1.6), ratio(two, one), two.rate, one.rate)
	}
	for _, id := range []string{"6c", "6d"} {
		if r := find(id); r != nil {
			fmt.Fprintf(w, "  %s (%s) admission to publication p50 ≤ 1 s: %s\n", check(r.p50 <= time.Second), id, dur(r.p50))
		}
	}
	if one, two := find("6e"), find("6f"); one != nil && two != nil {
		fmt.Fprintf(w, "  %s (6f) one agency through two frontends within 2× of one (6e): %.2f× the rate (%.0f vs %.0f entries/s)\n", check(ratio(two, one) >= 0.5), ratio(two, one), two.rate, one.rate)
	}
}
