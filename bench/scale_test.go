package bench

// (8) and (9): what start-up and polling cost as the log grows, on logs of
// ACDLEDGER_BENCH_SCALE entries (default 10,000, 100,000 and 1,000,000):
//
//	(8a) ledger.Open (what `serve` does before it is ready) replaying the
//	     whole log: no admission snapshot, as before issue 12
//	(8b) ledger.Open with the admission snapshot (specs/snapshot.md)
//	(9)  `watch --once` with nothing new: watch.Open (loading its state
//	     file) and one Poll
//
// The logs are built once, untimed, into ACDLEDGER_BENCH_CACHE (default
// $TMPDIR/acdledger-bench-cache) and kept there between runs: a million
// testkit entries take a few minutes to sign and write. Entries are
// testkit's (valid, signed, in order), written by bare Tessera with the
// ledger's own key, so the ledger and watch read them as their own.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/watch"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

func scaleSizes(b *testing.B) []int {
	spec := os.Getenv("ACDLEDGER_BENCH_SCALE")
	if spec == "" {
		return []int{10_000, 100_000, 1_000_000}
	}
	var out []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			b.Fatalf("ACDLEDGER_BENCH_SCALE: %q is not a positive number", f)
		}
		out = append(out, n)
	}
	return out
}

func cacheDir() string {
	if d := os.Getenv("ACDLEDGER_BENCH_CACHE"); d != "" {
		return d
	}
	return filepath.Join(os.TempDir(), "acdledger-bench-cache")
}

// bigLedger returns a ledger directory whose log holds n entries, building
// it (untimed) if the cache has none.
func bigLedger(b *testing.B, n int) string {
	dir := filepath.Join(cacheDir(), fmt.Sprintf("ledger-%d", n))
	if _, err := os.Stat(filepath.Join(dir, "complete")); err == nil {
		return dir
	}
	os.RemoveAll(dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	kit := testkit.New(b)
	if _, err := ledger.Init(dir, "bench.example/scale", kit.RegJSON); err != nil {
		b.Fatal(err)
	}
	skey, err := os.ReadFile(filepath.Join(dir, ledger.SignerFile))
	if err != nil {
		b.Fatal(err)
	}
	signer, err := note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	driver, err := posix.New(ctx, posix.Config{Path: filepath.Join(dir, ledger.LogDir)})
	if err != nil {
		b.Fatal(err)
	}
	app, shutdown, _, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).WithBatching(batchMaxSize, batchMaxAge).
		WithCheckpointInterval(checkpointInterval).WithPushback(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	// Each round's leaves are signed, then added and their indices awaited,
	// so that the log order is the signing order (each agency's seq
	// ascending) without holding a million envelopes at once.
	agencies := []string{"nco", "npa", "commission"}
	for lo := 0; lo < n; lo += batchMaxSize {
		hi := min(lo+batchMaxSize, n)
		fs := make([]tessera.IndexFuture, 0, hi-lo)
		for i := lo; i < hi; i++ {
			fs = append(fs, app.Add(ctx, tessera.NewEntry(kit.Signed(b, agencies[i%len(agencies)]))))
		}
		for i, f := range fs {
			idx, err := f()
			if err != nil {
				b.Fatal(err)
			}
			if idx.Index != uint64(lo+i) {
				b.Fatalf("leaf %d got index %d", lo+i, idx.Index)
			}
		}
	}
	if err := shutdown(ctx); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("built a log of %d entries in %v (%s)", n, time.Since(start).Round(time.Second), dir)
	return dir
}

// quiet drops the garbage of earlier measurements so that VmHWM, reset
// next, shows what the measured step holds.
func quiet() {
	runtime.GC()
	debug.FreeOSMemory()
	resetPeak()
}

// (8) ledger.Open at each size, without and with the admission snapshot.
func BenchmarkOpen(b *testing.B) {
	for _, n := range scaleSizes(b) {
		for _, withSnap := range []bool{false, true} {
			id, what := "8a", "ledger open, whole log replayed (no snapshot)"
			if withSnap {
				id, what = "8b", "ledger open from the admission snapshot"
			}
			b.Run(fmt.Sprintf("%s/entries=%d", id, n), func(b *testing.B) {
				dir := bigLedger(b, n)
				for b.Loop() {
					b.StopTimer()
					snap := filepath.Join(dir, ledger.SnapshotFile)
					if !withSnap {
						os.Remove(snap)
					} else if _, err := os.Stat(snap); err != nil {
						open1(b, dir) // writes it
					}
					quiet()
					m := startMeter()
					b.StartTimer()
					start := time.Now()
					l, err := ledger.Open(context.Background(), dir, ledger.Options{})
					elapsed := time.Since(start)
					b.StopTimer()
					checked := elapsed // when the background check of the snapshot's table ended (8b)
					if err == nil && l.SnapshotChecked() != nil {
						<-l.SnapshotChecked()
						checked = time.Since(start)
					}
					peak := peakRSS()
					cores, others := m.cores(elapsed)
					if err != nil {
						b.Fatal(err)
					}
					if l.Len() != n {
						b.Fatalf("opened with %d entries, want %d", l.Len(), n)
					}
					if err := l.Close(context.Background()); err != nil {
						b.Fatal(err)
					}
					note := ""
					if fi, err := os.Stat(snap); err == nil {
						note = fmt.Sprintf("snapshot file %.1f MiB", float64(fi.Size())/(1<<20))
					}
					if withSnap {
						note += openNote(n, elapsed, checked)
					}
					b.StartTimer()
					record(b, result{id: fmt.Sprintf("%s.%d", id, n), name: fmt.Sprintf("%s, %d entries", what, n), entries: n, elapsed: elapsed,
						rate: float64(n) / elapsed.Seconds(), peakKiB: peak, cores: cores, others: others, note: note})
				}
			})
		}
	}
}

func open1(b *testing.B, dir string) {
	l, err := ledger.Open(context.Background(), dir, ledger.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := l.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// (9) `watch --once` with nothing new, at each size: its state is caught
// up once (untimed; that is an audit of the whole log), then watch.Open
// and Poll are timed.
func BenchmarkWatchPoll(b *testing.B) {
	for _, n := range scaleSizes(b) {
		b.Run(fmt.Sprintf("entries=%d", n), func(b *testing.B) {
			dir := bigLedger(b, n)
			p, err := verifier.LoadPins(filepath.Join(dir, ledger.VerifierFile), "", filepath.Join(dir, ledger.RegistryFile))
			if err != nil {
				b.Fatal(err)
			}
			state := filepath.Join(dir, "watch.state")
			// The testkit entries are dated at signing time; a fixed clock
			// keeps deadline rules from firing between runs.
			now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
			opts := watch.Options{Trust: p.Trust, Registry: p.Registry, Rules: rules.DefaultConfig(), State: state, Now: func() time.Time { return now }}
			poll := func() {
				src, err := tlog.Open(filepath.Join(dir, ledger.LogDir))
				if err != nil {
					b.Fatal(err)
				}
				w, err := watch.Open(src, opts)
				if err != nil {
					b.Fatal(err)
				}
				if alarm, err := w.Poll(context.Background()); err != nil || alarm {
					b.Fatalf("poll: alarm %v, %v", alarm, err)
				}
			}
			// One untimed poll first: it catches up a new state, or turns
			// an older state file into the current form (specs/watch-state.md).
			b.StopTimer()
			poll()
			b.StartTimer()
			for b.Loop() {
				b.StopTimer()
				quiet()
				m := startMeter()
				b.StartTimer()
				start := time.Now()
				poll()
				elapsed := time.Since(start)
				b.StopTimer()
				peak := peakRSS()
				cores, others := m.cores(elapsed)
				note := ""
				if fi, err := os.Stat(state); err == nil {
					note = fmt.Sprintf("state file %.1f KiB", float64(fi.Size())/(1<<10))
				}
				if bulk, _ := filepath.Glob(state + ".bulk-*"); len(bulk) == 1 {
					if fi, err := os.Stat(bulk[0]); err == nil {
						note += fmt.Sprintf(", bulk %.1f MiB (not read)", float64(fi.Size())/(1<<20))
					}
				}
				b.StartTimer()
				record(b, result{id: fmt.Sprintf("9.%d", n), name: fmt.Sprintf("watch --once, nothing new, %d entries", n), entries: n, elapsed: elapsed,
					rate: float64(n) / elapsed.Seconds(), peakKiB: peak, cores: cores, others: others, note: note})
			}
		})
	}
}
