package bench

// The measurements of `make bench`, in the order they run (the summary
// printed by TestMain numbers them the same way):
//
//	(1)  bare Tessera POSIX appends of random leaves, the anchor
//	(2)  acdledger in-process: Append of pre-signed envelopes in chunks,
//	     and the variants (2b)–(2d) (see BenchmarkLedgerAppend)
//	(3)  acdledger over HTTP on loopback (ledger/server + ledger/submit)
//	(4a) audit replay of the log written by (2)
//	(4b) verify receipt on receipts handed out in (2)
//	(5)  diagnostic: CPU cost per entry of admission's stateless checks
//	(6)  the AWS driver (MariaDB + versitygw on loopback, started by make
//	     bench with scripts/services.sh): (6a) bare Tessera as in (1),
//	     (6b) acdledger in-process as in (2), on ACDLEDGER_BENCH_AWS_ENTRIES
//	     envelopes; skipped with a note when the services are not there
//
// Each benchmark does one full run per b.N iteration; `make bench` uses
// -benchtime 1x. Nothing is asserted about speed.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// The Tessera settings acdledger uses with ledger.Options{} (see
// ledger.Options.withDefaults and ledger.open): batches of up to 1024
// entries or 50ms, a checkpoint every 100ms (the POSIX minimum), in-memory
// antispam, and a publication awaiter polling every 25ms. The anchor uses
// the same, so the ratios measure what acdledger adds.
const (
	batchMaxSize       = 1024
	batchMaxAge        = 50 * time.Millisecond
	checkpointInterval = 100 * time.Millisecond
	awaitPoll          = 25 * time.Millisecond

	// reorderWait is the server's ReorderWait for (3), which measures
	// throughput, not the reorder window: it is set to the request timeout
	// so that no request is refused for having waited too long behind an
	// overloaded 2-core server. (With the 2s default of commit 850711f,
	// 1024 clients had 875 of 20,000 entries refused with 409 seq.order;
	// the 10s default of dcedd0c got through in the one run tried.)
	reorderWait = 30 * time.Second

	chunk = 256 // envelopes per Append call (and Adds per waiter goroutine in (1))
)

// (1) Bare Tessera: random leaves of the workload's average envelope size,
// added from one goroutine in chunks of 256, one goroutine per chunk
// awaiting publication of each of its entries.
func BenchmarkTesseraPOSIX(b *testing.B) {
	f := loadFixture(b)
	rng := mrand.New(mrand.NewChaCha8([32]byte{1}))
	leaves := make([][]byte, len(f.envs))
	for i := range leaves {
		leaves[i] = make([]byte, f.avgSize)
		for j := range leaves[i] {
			leaves[i][j] = byte(rng.Uint32())
		}
	}
	for b.Loop() {
		b.StopTimer()
		driver, err := posix.New(context.Background(), posix.Config{Path: scratch(b, "tessera")})
		if err != nil {
			b.Fatal(err)
		}
		r := runTessera(b, driver, checkpointInterval, leaves, nil)
		b.StartTimer()
		r.name = fmt.Sprintf("bare Tessera POSIX, %d B random leaves", f.avgSize)
		record(b, r)
	}
}

// runTessera adds leaves to a bare Tessera log. With verify, each chunk's
// leaves are first checked by verify on GOMAXPROCS goroutines, as the
// ledger's admission does (Registry.VerifyBatch): the anchor (1b).
func runTessera(b *testing.B, driver tessera.Driver, cpInterval time.Duration, leaves [][]byte, verify func(i int) error) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	skey, _, err := note.GenerateKey(rand.Reader, "bench.example/tessera")
	if err != nil {
		b.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		b.Fatal(err)
	}
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(batchMaxSize, batchMaxAge).
		WithCheckpointInterval(cpInterval).
		WithPushback(uint(len(leaves))+1<<16).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil))
	if err != nil {
		b.Fatal(err)
	}
	aw := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, awaitPoll)
	lat := make([]time.Duration, len(leaves))
	var errs firstErr
	var wg sync.WaitGroup

	m := startMeter()
	b.StartTimer()
	start := time.Now()
	for lo := 0; lo < len(leaves); lo += chunk {
		hi := min(lo+chunk, len(leaves))
		t0 := time.Now()
		if verify != nil {
			if err := parallel(lo, hi, verify); err != nil {
				b.Fatal(err)
			}
		}
		fs := make([]tessera.IndexFuture, hi-lo)
		for i := range fs {
			fs[i] = app.Add(ctx, tessera.NewEntry(leaves[lo+i]))
		}
		wg.Go(func() {
			for i, fut := range fs {
				if _, _, err := aw.Await(ctx, fut); err != nil {
					errs.set(err)
					continue
				}
				lat[lo+i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	peak := peakRSS()
	cores, others := m.cores(elapsed)
	errs.check(b)
	if err := shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	p50, p99, mean := latencies(lat)
	return result{id: "1", entries: len(leaves), elapsed: elapsed, rate: float64(len(leaves)) / elapsed.Seconds(),
		p50: p50, p99: p99, mean: mean, peakKiB: peak, cores: cores, others: others}
}

// The log and receipts of the last in-process run, for (4).
var (
	lastLedger   string
	lastReceipts [][]byte
)

// (2) acdledger in-process, in four ways (sub-benchmarks, in this order):
//
//	(2)  chunks/receipts:   one goroutine calls Append with chunks of 256
//	     pre-signed envelopes in log order (admission, with its signature and
//	     schema checks, runs in that goroutine); one goroutine per chunk
//	     waits for each entry's Receipt. This is the main figure.
//	(2b) parallel/receipts: 4×GOMAXPROCS goroutines take the envelopes in
//	     log order and call AppendInOrder one at a time, so admission's
//	     checks use every core (the ledger admits an entry that overtook
//	     its predecessor once that is in); receipts as in (2).
//	(2c) chunks/published, (2d) parallel/published: the same without
//	     receipts: each entry's Index, then publication seen by polling the
//	     checkpoint every 25ms (as Tessera's awaiter does). Diagnostic:
//	     the difference to (2)/(2b) is the cost of building receipts.
func BenchmarkLedgerAppend(b *testing.B) {
	f := loadFixture(b)
	par := 4 * runtime.GOMAXPROCS(0)
	for _, m := range []struct {
		id, sub  string
		workers  int
		receipts bool
	}{
		{"2", "chunks/receipts", 0, true},
		{"2b", "parallel/receipts", par, true},
		{"2c", "chunks/published", 0, false},
		{"2d", "parallel/published", par, false},
	} {
		b.Run(m.sub, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				dir := scratch(b, "ledger")
				r, receipts := runLedger(b, dir, f, m.workers, m.receipts)
				b.StartTimer()
				if m.id == "2" {
					lastLedger, lastReceipts = dir, receipts
				}
				r.id = m.id
				if m.workers == 0 {
					r.name = fmt.Sprintf("in-process, Append ×%d from 1 goroutine", chunk)
				} else {
					r.name = fmt.Sprintf("in-process, AppendInOrder from %d goroutines", m.workers)
				}
				if m.receipts {
					r.name += ", Receipt each"
				} else {
					r.name += ", Index + publication"
				}
				record(b, r)
			}
		})
	}
}

// openLedger makes and opens a fresh ledger in dir. The returned close
// is idempotent, so callers can both defer it (a failed benchmark must
// not leave Tessera writing into a directory TestMain removes) and call it
// to check its error.
func openLedger(b *testing.B, dir string, f *fixture) (*ledger.Ledger, func() error) {
	return openLedgerOn(b, dir, f, ledger.Storage{Driver: ledger.DriverPOSIX})
}

func openLedgerOn(b *testing.B, dir string, f *fixture, st ledger.Storage) (*ledger.Ledger, func() error) {
	if _, err := ledger.InitStorage(dir, "bench.example/acdledger", f.regJSON, st); err != nil {
		b.Fatal(err)
	}
	// The AWS rows append faster than Tessera integrates (at most 20,480
	// entries a second): let the whole run through rather than push back.
	l, err := ledger.Open(context.Background(), dir, ledger.Options{PushbackLimit: uint64(len(f.envs)) + 1})
	if err != nil {
		b.Fatal(err)
	}
	return l, sync.OnceValue(func() error { return l.Close(context.Background()) })
}

// runLedger appends the whole fixture to a fresh ledger. workers == 0
// calls Append with chunks from one goroutine, otherwise that many
// goroutines call AppendInOrder. With receipts it collects every entry's
// receipt; without, it waits for each Index and for a published checkpoint
// covering the entry.
func runLedger(b *testing.B, dir string, f *fixture, workers int, receipts bool) (result, [][]byte) {
	return runLedgerOn(b, dir, f, workers, receipts, ledger.Storage{Driver: ledger.DriverPOSIX})
}

func runLedgerOn(b *testing.B, dir string, f *fixture, workers int, receipts bool, st ledger.Storage) (result, [][]byte) {
	ctx := context.Background()
	l, closeLedger := openLedgerOn(b, dir, f, st)
	defer closeLedger()
	n := len(f.envs)
	ts := make([]time.Time, n) // when each entry was handed to the ledger
	lat := make([]time.Duration, n)
	idx := make([]uint64, n)
	var proofs [][]byte
	// Receipts are kept for (4b), but only a sample of nReceipts, so
	// they do not weigh on the peak RSS of later measurements.
	keepEvery := max(1, n/nReceipts)
	if receipts {
		proofs = make([][]byte, n)
	}
	var errs firstErr
	var wg sync.WaitGroup
	// wait is run by one goroutine per chunk of entries once all of them
	// are admitted.
	wait := func(lo int, ps []*ledger.Pending) {
		for i, p := range ps {
			ps[i] = nil // let the parsed entry go once handled, as a server would
			if !receipts {
				j, err := l.Index(p)
				if err != nil {
					errs.set(err)
				}
				idx[lo+i] = j
				continue
			}
			rec, err := l.Receipt(ctx, p)
			if err != nil {
				errs.set(err)
				continue
			}
			lat[lo+i] = time.Since(ts[lo+i])
			if (lo+i)%keepEvery == 0 {
				proofs[lo+i] = rec.Proof
			}
		}
	}
	// Without receipts, publication is seen by polling the checkpoint.
	type seen struct {
		at   time.Time
		size uint64
	}
	var pubs []seen
	var poll sync.WaitGroup
	if !receipts {
		poll.Go(func() {
			for !errs.any() {
				time.Sleep(awaitPoll)
				size := l.PublishedSize(ctx)
				pubs = append(pubs, seen{time.Now(), size})
				if size >= uint64(n) {
					return
				}
			}
		})
	}

	m := startMeter()
	b.StartTimer()
	start := time.Now()
	if workers == 0 {
		for lo := 0; lo < n && !errs.any(); lo += chunk {
			hi := min(lo+chunk, n)
			t0 := time.Now()
			for i := lo; i < hi; i++ {
				ts[i] = t0
			}
			ps, err := l.Append(ctx, f.envs[lo:hi]...)
			if err != nil {
				errs.set(fmt.Errorf("entries %d–%d: %w", lo, hi-1, err))
				break
			}
			wg.Go(func() { wait(lo, ps) })
		}
	} else {
		groups := (n + chunk - 1) / chunk
		admitted := make([]sync.WaitGroup, groups)
		for g := range admitted {
			admitted[g].Add(min(chunk, n-g*chunk))
		}
		ps := make([]*ledger.Pending, n)
		var next atomic.Int64
		for range workers {
			wg.Go(func() {
				for {
					i := int(next.Add(1) - 1)
					if i >= n {
						return
					}
					ts[i] = time.Now()
					p, err := l.AppendInOrder(ctx, f.envs[i], 10*time.Second)
					if err != nil {
						errs.set(fmt.Errorf("entry %d: %w", i, err))
					}
					ps[i] = p
					admitted[i/chunk].Done()
				}
			})
		}
		wg.Go(func() {
			for g := range groups {
				admitted[g].Wait()
				if errs.any() {
					return
				}
				lo, hi := g*chunk, min((g+1)*chunk, n)
				wg.Go(func() { wait(lo, ps[lo:hi]) })
			}
		})
	}
	wg.Wait()
	poll.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	peak := peakRSS()
	cores, others := m.cores(elapsed)
	errs.check(b)
	if err := closeLedger(); err != nil {
		b.Fatal(err)
	}
	if !receipts {
		// Publication time of entry i: the first poll that saw a
		// checkpoint larger than its index.
		for i := range lat {
			k := sort.Search(len(pubs), func(k int) bool { return pubs[k].size > idx[i] })
			if k < len(pubs) {
				lat[i] = pubs[k].at.Sub(ts[i])
			}
		}
	}
	p50, p99, mean := latencies(lat)
	return result{entries: n, elapsed: elapsed, rate: float64(n) / elapsed.Seconds(),
		p50: p50, p99: p99, mean: mean, peakKiB: peak, cores: cores, others: others}, proofs
}

// (3) acdledger over HTTP on 127.0.0.1: the server in this process
// (server.New + HTTPServer), N client goroutines (ledger/submit) posting
// the first ACDLEDGER_BENCH_HTTP_ENTRIES envelopes in log order with
// wait=true, each taking the next envelope when its receipt arrives. The
// server re-orders requests that overtake each other (AppendInOrder; its
// ReorderWait is raised to 30s, see reorderWait).
func BenchmarkHTTP(b *testing.B) {
	f := loadFixture(b)
	for _, conc := range []int{256, 1024} {
		for _, wait := range []bool{true, false} {
			b.Run(fmt.Sprintf("clients=%d/wait=%v", conc, wait), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					r := runHTTP(b, scratch(b, "http"), f, min(nHTTPEntries, len(f.envs)), conc, wait)
					b.StartTimer()
					r.id = fmt.Sprintf("3.%d.%v", conc, wait)
					r.name = fmt.Sprintf("acdledger HTTP loopback, %d clients, wait=%v", conc, wait)
					record(b, r)
				}
			})
		}
	}
}

func runHTTP(b *testing.B, dir string, f *fixture, n, conc int, wait bool) result {
	ctx := context.Background()
	l, closeLedger := openLedger(b, dir, f)
	defer closeLedger()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv := server.New(l, server.Config{Logger: logger, ReorderWait: reorderWait})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := srv.HTTPServer(ln.Addr().String())
	go hs.Serve(ln)
	defer hs.Close()
	cl, err := submit.New("http://" + ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	// One kept-alive connection per client goroutine (the default keeps
	// only 2 idle connections per host, so most requests would dial).
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conc, conc
	cl.HTTP = &http.Client{Transport: tr, Timeout: 2 * time.Minute}

	var errs firstErr
	run := runClients(b, conc, n, &errs, func(i int) error {
		if _, err := cl.Add(ctx, f.envs[i], wait); err != nil {
			return fmt.Errorf("entry %d: %w", i, err)
		}
		return nil
	})
	tr.CloseIdleConnections()
	hs.Shutdown(ctx)
	errs.check(b)
	if err := closeLedger(); err != nil {
		b.Fatal(err)
	}
	r := run.result()
	r.note = "HTTP: client and server share this process's 2 cores and its RSS"
	return r
}

// ledgerForAudit returns the log and receipts of (2), building them
// (untimed) when (2) did not run, e.g. with -bench Audit.
func ledgerForAudit(b *testing.B) (string, [][]byte) {
	if lastLedger == "" {
		f := loadFixture(b)
		lastLedger = scratch(b, "ledger")
		_, lastReceipts = runLedger(b, lastLedger, f, 0, true)
		b.StartTimer() // runLedger leaves it stopped; b.Loop wants it running
	}
	return lastLedger, lastReceipts
}

func pins(b *testing.B, dir string) *verifier.Pins {
	p, err := verifier.LoadPins(filepath.Join(dir, ledger.VerifierFile), "", filepath.Join(dir, ledger.RegistryFile))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// (4a) `acdledger audit` on the log of (2): checkpoint, every bundle and
// hash tile, every signature and admission rule, in log order.
func BenchmarkAudit(b *testing.B) {
	dir, _ := ledgerForAudit(b)
	p := pins(b, dir)
	for b.Loop() {
		b.StopTimer()
		m := startMeter()
		b.StartTimer()
		src, err := tlog.Open(filepath.Join(dir, ledger.LogDir))
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rep, err := p.Audit(context.Background(), src, verifier.AuditOptions{})
		elapsed := time.Since(start)
		cores, others := m.cores(elapsed)
		if err != nil {
			b.Fatal(err)
		}
		if !rep.OK() {
			b.Fatalf("audit failed: %d failures, e.g. %+v", rep.FailureCount, rep.Failures[0])
		}
		record(b, result{id: "4a", name: "audit replay of the log of (2)", entries: int(rep.Entries), elapsed: elapsed,
			rate: float64(rep.Entries) / elapsed.Seconds(), peakKiB: peakRSS(), cores: cores, others: others})
	}
}

// (4b) `acdledger verify receipt`: Pins.VerifyReceipt on receipts handed
// out in (2), spread evenly over the log, one at a time.
func BenchmarkVerifyReceipt(b *testing.B) {
	dir, all := ledgerForAudit(b)
	p := pins(b, dir)
	var sample [][]byte
	for _, r := range all {
		if r != nil {
			sample = append(sample, r)
		}
	}
	for b.Loop() {
		b.StopTimer()
		m := startMeter()
		b.StartTimer()
		lat := make([]time.Duration, len(sample))
		start := time.Now()
		for i, rec := range sample {
			t0 := time.Now()
			if _, err := p.VerifyReceipt(rec, nil); err != nil {
				b.Fatalf("receipt %d: %v", i, err)
			}
			lat[i] = time.Since(t0)
		}
		elapsed := time.Since(start)
		cores, others := m.cores(elapsed)
		p50, p99, mean := latencies(lat)
		record(b, result{id: "4b", name: "verify receipt (receipts of (2))", entries: len(sample), elapsed: elapsed,
			rate: float64(len(sample)) / elapsed.Seconds(), p50: p50, p99: p99, mean: mean, peakKiB: peakRSS(), cores: cores, others: others,
			note: "verify receipt: entries = receipts verified one after another; p50/p99 are per receipt, not integration latency"})
	}
}

// (4c) `acdledger verify receipt` on the receipt of the largest envelope
// the log admits (specs.MaxEnvelopeSize rounded down to a signer-made
// size, 49,144 bytes), in a small log of its own, nReceipts times: the
// worst case of (4b), whose envelopes are the workload's (about 1 KiB).
func BenchmarkVerifyLargestReceipt(b *testing.B) {
	ctx := context.Background()
	kit := testkit.New(b)
	dir := scratch(b, "largest")
	if _, err := ledger.InitStorage(dir, "bench.example/largest", kit.RegJSON, ledger.Storage{Driver: ledger.DriverPOSIX}); err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ps, err := l.Append(ctx, kit.Signed(b, "npa"), kit.SignedOfSize(b, "nco", specs.MaxEnvelopeSize/4*4), kit.Signed(b, "commission"))
	if err != nil {
		b.Fatal(err)
	}
	rec, err := l.Receipt(ctx, ps[1])
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
	p := pins(b, dir)
	for b.Loop() {
		b.StopTimer()
		m := startMeter()
		b.StartTimer()
		lat := make([]time.Duration, nReceipts)
		start := time.Now()
		for i := range lat {
			t0 := time.Now()
			if _, err := p.VerifyReceipt(rec.Proof, nil); err != nil {
				b.Fatal(err)
			}
			lat[i] = time.Since(t0)
		}
		elapsed := time.Since(start)
		cores, others := m.cores(elapsed)
		p50, p99, mean := latencies(lat)
		record(b, result{id: "4c", name: fmt.Sprintf("verify receipt of a %d-byte envelope (the largest)", specs.MaxEnvelopeSize/4*4), entries: len(lat), elapsed: elapsed,
			rate: float64(len(lat)) / elapsed.Seconds(), p50: p50, p99: p99, mean: mean, peakKiB: peakRSS(), cores: cores, others: others,
			note: "verify receipt: entries = verifications of one receipt, one after another; p50/p99 are per receipt"})
	}
}

// (5) Diagnostic: what admission's stateless checks cost per entry, one
// goroutine, on the first ACDLEDGER_BENCH_RECEIPTS envelopes: the whole of
// Registry.VerifySigned, and its main parts measured alone.
func BenchmarkAdmissionCost(b *testing.B) {
	f := loadFixture(b)
	envs := f.envs[:min(nReceipts, len(f.envs))]
	reg, err := specs.ParseRegistry(f.regJSON)
	if err != nil {
		b.Fatal(err)
	}
	parsed := make([]*specs.Envelope, len(envs))
	for i, raw := range envs {
		if parsed[i], err = specs.ParseEnvelope(raw); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		id, name string
		run      func(i int) error
	}{
		{"5a", "Registry.VerifySigned (all stateless rules)", func(i int) error {
			_, err := reg.VerifySigned(envs[i])
			return err
		}},
		{"5b", "  specs.ParseEnvelope (strict DSSE, canonical base64 and leaf)", func(i int) error {
			_, err := specs.ParseEnvelope(envs[i])
			return err
		}},
		{"5c", "  specs.ParseEntry (strict reading, canonical check, JSON Schema)", func(i int) error {
			_, err := specs.ParseEntry(parsed[i].Payload)
			return err
		}},
		{"5d", "  encoding/json decode into specs.Entry only", func(i int) error {
			var e specs.Entry
			return json.Unmarshal(parsed[i].Payload, &e)
		}},
		{"5e", "  Ed25519 verify of the DSSE PAE", func(i int) error {
			if !ed25519.Verify(f.keys[parsed[i].KeyID], parsed[i].PAE(), parsed[i].Sig) {
				return fmt.Errorf("entry %d: bad signature", i)
			}
			return nil
		}},
	} {
		b.Run(c.id, func(b *testing.B) {
			for b.Loop() {
				start := time.Now()
				for i := range envs {
					if err := c.run(i); err != nil {
						b.Fatal(err)
					}
				}
				elapsed := time.Since(start)
				record(b, result{id: c.id, name: c.name, entries: len(envs), elapsed: elapsed,
					rate: float64(len(envs)) / elapsed.Seconds(), mean: elapsed / time.Duration(len(envs))})
			}
		})
	}
}
