package bench

// Anchors the targets are read against, measured in the same run
// as the rows they anchor (BENCHMARKS.md):
//
//	(1b) bare Tessera, as (1), on the workload's real envelopes, each
//	     chunk's Ed25519 signatures verified first on GOMAXPROCS
//	     goroutines: the floor for signed appends on this machine
//	(3t) a minimal Tessera HTTP add server (POST the leaf, answer its
//	     index, or with wait=true its index once published)
//	(5f) Ed25519 verification alone on GOMAXPROCS goroutines: the
//	     ceiling for audit
//	(7)  process start: a trivial Go binary, and `acdledger verify
//	     receipt` of one file, wall time including process start

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// parallel runs check(i) for i in [lo, hi) on GOMAXPROCS goroutines, as
// Registry.VerifyBatch spreads a batch's stateless checks.
func parallel(lo, hi int, check func(i int) error) error {
	n := runtime.GOMAXPROCS(0)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := lo + w; i < hi; i += n {
				if err := check(i); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// sigCheck is what one Ed25519 verification of an envelope needs, taken
// out of the envelope beforehand so that only the verification is timed.
type sigCheck struct {
	key      ed25519.PublicKey
	pae, sig []byte
}

func sigChecks(b *testing.B, f *fixture) []sigCheck {
	out := make([]sigCheck, len(f.envs))
	for i, raw := range f.envs {
		e, err := specs.ParseEnvelope(raw)
		if err != nil {
			b.Fatal(err)
		}
		out[i] = sigCheck{key: f.keys[e.KeyID], pae: e.PAE(), sig: e.Sig}
	}
	return out
}

func (c sigCheck) verify() error {
	if !ed25519.Verify(c.key, c.pae, c.sig) {
		return fmt.Errorf("bad signature")
	}
	return nil
}

// (1b) bare Tessera + one Ed25519 verification per leaf.
func BenchmarkTesseraEd25519(b *testing.B) {
	f := loadFixture(b)
	sigs := sigChecks(b, f)
	for b.Loop() {
		b.StopTimer()
		driver, err := posix.New(context.Background(), posix.Config{Path: scratch(b, "tessera-ed")})
		if err != nil {
			b.Fatal(err)
		}
		r := runTessera(b, driver, checkpointInterval, f.envs, func(i int) error { return sigs[i].verify() })
		b.StartTimer()
		r.id = "1b"
		r.name = "bare Tessera POSIX + Ed25519 verify per leaf (real envelopes)"
		record(b, r)
	}
}

// (5f) Ed25519 verification of every envelope on GOMAXPROCS goroutines.
func BenchmarkEd25519Parallel(b *testing.B) {
	f := loadFixture(b)
	sigs := sigChecks(b, f)
	for b.Loop() {
		m := startMeter()
		start := time.Now()
		if err := parallel(0, len(sigs), func(i int) error { return sigs[i].verify() }); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		cores, others := m.cores(elapsed)
		record(b, result{id: "5f", name: fmt.Sprintf("Ed25519 verify on %d goroutines (audit's ceiling)", runtime.GOMAXPROCS(0)),
			entries: len(sigs), elapsed: elapsed, rate: float64(len(sigs)) / elapsed.Seconds(), cores: cores, others: others})
	}
}

// (3t) A minimal Tessera HTTP add server: POST /add with the leaf as body
// answers its index in decimal, with ?wait=true once a published
// checkpoint covers it. Same Tessera settings and client set-up as (3).
func BenchmarkTesseraHTTP(b *testing.B) {
	f := loadFixture(b)
	for _, conc := range []int{256, 1024} {
		for _, wait := range []bool{true, false} {
			b.Run(fmt.Sprintf("clients=%d/wait=%v", conc, wait), func(b *testing.B) {
				for b.Loop() {
					b.StopTimer()
					r := runTesseraHTTP(b, scratch(b, "tessera-http"), f.envs[:min(nHTTPEntries, len(f.envs))], conc, wait)
					b.StartTimer()
					r.id = fmt.Sprintf("3t.%d.%v", conc, wait)
					r.name = fmt.Sprintf("minimal Tessera HTTP add server, %d clients, wait=%v", conc, wait)
					record(b, r)
				}
			})
		}
	}
}

func runTesseraHTTP(b *testing.B, dir string, leaves [][]byte, conc int, wait bool) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		b.Fatal(err)
	}
	skey, _, err := note.GenerateKey(rand.Reader, "bench.example/tessera-http")
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
		WithCheckpointInterval(checkpointInterval).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil))
	if err != nil {
		b.Fatal(err)
	}
	aw := tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, awaitPoll)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add", func(w http.ResponseWriter, r *http.Request) {
		leaf, err := io.ReadAll(io.LimitReader(r.Body, specs.MaxEnvelopeSize+1))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fut := app.Add(r.Context(), tessera.NewEntry(leaf))
		var idx tessera.Index
		if r.URL.Query().Get("wait") == "true" {
			idx, _, err = aw.Await(r.Context(), fut)
		} else {
			idx, err = fut()
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, strconv.FormatUint(idx.Index, 10))
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	defer hs.Close()
	url := fmt.Sprintf("http://%s/add?wait=%v", ln.Addr(), wait)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns, tr.MaxIdleConnsPerHost = conc, conc
	hc := &http.Client{Transport: tr, Timeout: 2 * time.Minute}

	var errs firstErr
	run := runClients(b, conc, len(leaves), &errs, func(i int) error {
		resp, err := hc.Post(url, "application/octet-stream", bytes.NewReader(leaves[i]))
		if err == nil {
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("HTTP %d", resp.StatusCode)
			}
		}
		if err != nil {
			return fmt.Errorf("leaf %d: %w", i, err)
		}
		return nil
	})
	tr.CloseIdleConnections()
	hs.Shutdown(ctx)
	errs.check(b)
	if err := shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	return run.result()
}

// nStarts is how many times each process of (7) is started.
var nStarts = envInt("ACDLEDGER_BENCH_STARTS", 30)

// (7) Process start: (7a) a trivial Go binary, (7b) `acdledger verify
// receipt --json` of one receipt file, each started nStarts times one
// after another; wall time from exec to exit. Both are built (untimed)
// with the same toolchain and flags.
func BenchmarkProcessStart(b *testing.B) {
	bin := scratch(b, "bin")
	for name, pkg := range map[string]string{"trivial": "./trivial", "acdledger": "../cmd/acdledger"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(bin, name), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
	// A small log of its own and one receipt, written to a file.
	ctx := context.Background()
	kit := testkit.New(b)
	dir := scratch(b, "start")
	if _, err := ledger.InitStorage(dir, "bench.example/start", kit.RegJSON, ledger.Storage{Driver: ledger.DriverPOSIX}); err != nil {
		b.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ps, err := l.Append(ctx, kit.Signed(b, "npa"))
	if err != nil {
		b.Fatal(err)
	}
	rec, err := l.Receipt(ctx, ps[0])
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		b.Fatal(err)
	}
	recFile := filepath.Join(dir, "one.tlog-proof")
	if err := os.WriteFile(recFile, rec.Proof, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		id, name string
		args     []string
	}{
		{"7a", "process start: a trivial Go binary", []string{filepath.Join(bin, "trivial")}},
		{"7b", "process start: acdledger verify receipt, one file", []string{filepath.Join(bin, "acdledger"), "verify", "receipt", "--json",
			"--vkey", filepath.Join(dir, ledger.VerifierFile), "--registry", filepath.Join(dir, ledger.RegistryFile), recFile}},
	} {
		b.Run(c.id, func(b *testing.B) {
			for b.Loop() {
				lat := make([]time.Duration, nStarts)
				m := startMeter()
				start := time.Now()
				for i := range lat {
					t0 := time.Now()
					if out, err := exec.Command(c.args[0], c.args[1:]...).CombinedOutput(); err != nil {
						b.Fatalf("%v: %v\n%s", c.args, err, out)
					}
					lat[i] = time.Since(t0)
				}
				elapsed := time.Since(start)
				cores, others := m.cores(elapsed)
				p50, p99, mean := latencies(lat)
				record(b, result{id: c.id, name: c.name, entries: nStarts, elapsed: elapsed, rate: float64(nStarts) / elapsed.Seconds(),
					p50: p50, p99: p99, mean: mean, cores: cores, others: others,
					note: "process start: entries = processes started one after another; p50/p99 are wall time per process, exec to exit"})
			}
		})
	}
}
