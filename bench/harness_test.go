package bench

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/ledger/seal"
	"github.com/acdledger/acdledger/specs"
	"k8s.io/klog/v2"
)

// Sizes of the runs; the environment can change them (e.g. for a quick
// look: ACDLEDGER_BENCH_ENTRIES=5000).
var (
	nEntries     = envInt("ACDLEDGER_BENCH_ENTRIES", 50_000)      // (1), (2), (4)
	nHTTPEntries = envInt("ACDLEDGER_BENCH_HTTP_ENTRIES", 20_000) // (3), per concurrency level
	nReceipts    = envInt("ACDLEDGER_BENCH_RECEIPTS", 5_000)      // (4) receipts verified
)

// Targets for the 2-core reference machine (BENCHMARKS.md). They are
// printed beside the figures, never asserted: the machine is shared and
// noisy, so only ratios within one run mean much.
const (
	targetRatio      = 0.8    // in-process signed appends vs bare Tessera
	targetAppendRate = 20_000 // in-process signed appends, entries/s
	targetAuditRate  = 30_000 // audit replay, entries/s
	targetReceipt    = 5 * time.Millisecond
)

// root is the run's scratch directory (ACDLEDGER_BENCH_DIR picks the
// filesystem); TestMain removes it.
var root string

func TestMain(m *testing.M) {
	// Tessera logs through klog at info level (directory initialised,
	// awaiter exiting…): keep warnings and errors only, so the figures
	// stay readable.
	klog.SetSlogLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	code := m.Run()
	if len(results) > 0 {
		printSummary(os.Stdout)
	}
	if root != "" {
		os.RemoveAll(root)
	}
	os.Exit(code)
}

var rootOnce sync.Once

// scratch returns a fresh directory under root.
func scratch(b *testing.B, name string) string {
	rootOnce.Do(func() {
		var err error
		if root, err = os.MkdirTemp(os.Getenv("ACDLEDGER_BENCH_DIR"), "acdledger-bench-"); err != nil {
			panic(err)
		}
	})
	dir, err := os.MkdirTemp(root, name+"-")
	if err != nil {
		b.Fatal(err)
	}
	return dir
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// fixture is the pre-signed workload: realistic activity from
// internal/activity, in log order (each agency's seq ascending, refs
// backward), signed with Ed25519 keys made from fixed seeds.
type fixture struct {
	regJSON []byte
	envs    [][]byte
	keys    map[string]ed25519.PublicKey // by key id
	avgSize int
	maxSize int
	took    time.Duration
}

var (
	fxOnce sync.Once
	fx     *fixture
	fxErr  error
)

func loadFixture(b *testing.B) *fixture {
	b.Helper()
	fxOnce.Do(func() { fx, fxErr = makeFixture(nEntries) })
	if fxErr != nil {
		b.Fatal(fxErr)
	}
	return fx
}

func makeFixture(n int) (*fixture, error) {
	start := time.Now()
	reg := &specs.Registry{}
	signers := map[string]*agencykey.Signer{}
	keys := map[string]ed25519.PublicKey{}
	for i, a := range activity.Agencies() {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[31] = byte(i+1), 0xbe
		s, err := agencykey.FromPrivateKey(ed25519.NewKeyFromSeed(seed))
		if err != nil {
			return nil, err
		}
		signers[a.ID] = s
		keys[s.KeyID()] = s.PublicKey().(ed25519.PublicKey)
		if _, err := reg.Add(a.ID, a.Name, a.Role, a.Kinds, s.PublicKey()); err != nil {
			return nil, err
		}
	}
	// Three commission members, as in the demo: sealed fields are sealed
	// to them, so the figures include sealing's larger envelopes.
	for i := 1; i <= 3; i++ {
		id, err := age.GenerateX25519Identity()
		if err != nil {
			return nil, err
		}
		if err := reg.AddRecipient(fmt.Sprintf("member-%d", i), "Bench member", id.Recipient().String(), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			return nil, err
		}
	}
	regJSON, err := reg.Marshal()
	if err != nil {
		return nil, err
	}
	cfg := activity.DefaultConfig()
	cfg.Entries = n
	cfg.End = cfg.Start.AddDate(1, 0, 0).Add(-time.Second) // a year of activity
	entries, err := activity.Generate(cfg)
	if err != nil {
		return nil, err
	}
	entries = entries[:min(n, len(entries))]
	envs := make([][]byte, len(entries))
	errs := make([]error, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			for i := w; i < len(entries); i += len(errs) {
				payload, err := seal.Seal(entries[i].Payload, reg)
				if err != nil {
					errs[w] = err
					return
				}
				env, err := signers[entries[i].Agency].Sign(payload)
				if err != nil {
					errs[w] = err
					return
				}
				envs[i] = env
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	total, largest := 0, 0
	for _, e := range envs {
		total += len(e)
		largest = max(largest, len(e))
	}
	return &fixture{regJSON: regJSON, envs: envs, keys: keys, avgSize: total / len(envs), maxSize: largest, took: time.Since(start)}, nil
}

// result is one measurement of the summary table.
type result struct {
	id      string // "1", "2", "2b", "3", "4a", "4b"
	name    string
	entries int
	elapsed time.Duration
	rate    float64       // entries (or receipts) per second
	p50     time.Duration // 0: not meaningful
	p99     time.Duration
	mean    time.Duration
	cores   float64 // process CPU time during the measurement / its wall time
	others  float64 // CPU time of the rest of the machine / wall time
	peakKiB int64   // VmHWM during the measurement (0: unknown)
	maxKiB  int64   // getrusage Maxrss after it: cumulative for the process
	note    string
}

var (
	resMu   sync.Mutex
	results []result
)

func record(b *testing.B, r result) {
	r.maxKiB = maxRSS()
	b.ReportMetric(r.rate, "entries/s")
	if r.p50 > 0 {
		b.ReportMetric(ms(r.p50), "p50-ms")
		b.ReportMetric(ms(r.p99), "p99-ms")
	}
	if r.mean > 0 {
		b.ReportMetric(ms(r.mean), "mean-ms")
	}
	if r.peakKiB > 0 {
		b.ReportMetric(float64(r.peakKiB)/1024, "peakRSS-MiB")
	}
	resMu.Lock()
	defer resMu.Unlock()
	// With -benchtime above 1x a benchmark runs several times: keep the
	// last run of each measurement.
	for i := range results {
		if results[i].id == r.id {
			results[i] = r
			return
		}
	}
	results = append(results, r)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// resetPeak collects garbage, hands free memory back to the OS and resets
// the kernel's peak-RSS mark (VmHWM) of this process, so that peakRSS
// measures one run. It needs Linux ≥ 4.0; elsewhere peakRSS reports 0.
func resetPeak() {
	runtime.GC()
	debug.FreeOSMemory()
	os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// meter measures the CPU use over one measurement: this process's, and
// the whole machine's (to see whether other work shared the cores).
type meter struct{ cpu0, busy0 time.Duration }

// startMeter resets the peak-RSS mark and starts counting CPU time.
func startMeter() meter {
	resetPeak()
	return meter{cpuTime(), machineBusy()}
}

// cores is the CPU time used since startMeter divided by elapsed: how
// many cores the measurement kept busy on average. others is the same
// for everything else on the machine (0 where /proc/stat is missing).
func (m meter) cores(elapsed time.Duration) (cores, others float64) {
	own := cpuTime() - m.cpu0
	cores = float64(own) / float64(elapsed)
	if b := machineBusy(); b > 0 && m.busy0 > 0 {
		others = max(0, float64(b-m.busy0-own)/float64(elapsed))
	}
	return cores, others
}

// machineBusy is the non-idle CPU time of the whole machine from the
// first line of /proc/stat (user nice system idle iowait irq softirq
// steal, in USER_HZ ticks, 100 per second on Linux).
func machineBusy() time.Duration {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// peakRSS is VmHWM from /proc/self/status, in KiB.
func peakRSS() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// latencies summarises per-entry latencies (zeros, for entries that
// failed, are left out).
func latencies(ls []time.Duration) (p50, p99, mean time.Duration) {
	s := make([]time.Duration, 0, len(ls))
	var sum time.Duration
	for _, l := range ls {
		if l > 0 {
			s = append(s, l)
			sum += l
		}
	}
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50), at(0.99), sum / time.Duration(len(s))
}

// clientRun is one run of concurrent clients (runClients).
type clientRun struct {
	n             int
	lat           []time.Duration // per request; 0 where it failed
	elapsed       time.Duration
	peakKiB       int64
	cores, others float64
}

// runClients has conc goroutines send requests 0…n-1, each with send(i),
// the way HTTP clients share a server: each takes the next request as soon
// as its last one is answered. Only the sends are timed. An error from
// send is kept in errs and stops the run; the caller checks errs after its
// own teardown.
func runClients(b *testing.B, conc, n int, errs *firstErr, send func(i int) error) clientRun {
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	var next atomic.Int64
	m := startMeter()
	b.StartTimer()
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for !errs.any() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := send(i); err != nil {
					errs.set(err)
					continue
				}
				lat[i] = time.Since(t0)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	peak := peakRSS()
	cores, others := m.cores(elapsed)
	return clientRun{n: n, lat: lat, elapsed: elapsed, peakKiB: peak, cores: cores, others: others}
}

// result is the run's row: rate, latencies, peak RSS and CPU use.
func (c clientRun) result() result {
	p50, p99, mean := latencies(c.lat)
	return result{entries: c.n, elapsed: c.elapsed, rate: float64(c.n) / c.elapsed.Seconds(),
		p50: p50, p99: p99, mean: mean, peakKiB: c.peakKiB, cores: c.cores, others: c.others}
}

// firstErr keeps the first error reported by any goroutine.
type firstErr struct {
	mu     sync.Mutex
	err    error
	n      int
	failed atomic.Bool
}

func (f *firstErr) set(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	if f.err == nil {
		f.err = err
	}
	f.failed.Store(true)
}

// any reports whether an error was set; goroutines use it to stop early.
func (f *firstErr) any() bool { return f.failed.Load() }

func (f *firstErr) check(b *testing.B) {
	if f.err != nil {
		b.Fatalf("%d failures, the first: %v", f.n, f.err)
	}
}

// machine describes where the run happens, for the summary's header.
func machine() string {
	cpu := "?"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(raw)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := "?"
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(raw))
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				mem = fmt.Sprintf("%.1f GiB", kb/(1<<20))
			}
		}
	}
	return fmt.Sprintf("%d CPUs (GOMAXPROCS %d), %s, %s RAM, %s %s/%s, scratch %s (%s)",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpu, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH, root, fsType(root))
}

// fsType finds the filesystem holding dir in /proc/self/mounts.
func fsType(dir string) string {
	raw, err := os.ReadFile("/proc/self/mounts")
	if err != nil || dir == "" {
		return "?"
	}
	dir, _ = filepath.EvalSymlinks(dir)
	best, typ := "", "?"
	for line := range strings.Lines(string(raw)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		mp := f[1]
		if (dir == mp || strings.HasPrefix(dir, strings.TrimSuffix(mp, "/")+"/")) && len(mp) > len(best) {
			best, typ = mp, f[2]
		}
	}
	return typ
}

func find(id string) *result {
	for i := range results {
		if results[i].id == id {
			return &results[i]
		}
	}
	return nil
}

func printSummary(w io.Writer) {
	resMu.Lock()
	defer resMu.Unlock()
	fmt.Fprintf(w, "\n=== acdledger benchmark summary ===\n%s\n", machine())
	if fx != nil {
		fmt.Fprintf(w, "workload: %d pre-signed entries from internal/activity (DSSE/Ed25519), envelope avg %d B, max %d B; generated and signed in %v (untimed)\n",
			len(fx.envs), fx.avgSize, fx.maxSize, fx.took.Round(time.Millisecond))
	}
	fmt.Fprintln(w, "latency = from Add/Append/POST to a published checkpoint covering the entry (receipt in hand for acdledger)")
	fmt.Fprintln(w, "peak RSS = VmHWM of the process during that measurement (reset before it; includes the in-memory workload);")
	fmt.Fprintln(w, "Maxrss = getrusage peak since the process started (cumulative, only grows)")
	fmt.Fprintln(w, "CPU = process CPU time (user+sys) during the measurement / its wall time, in cores;")
	fmt.Fprintln(w, "others = the same for the rest of the machine (other processes sharing the cores: noise);")
	fmt.Fprintln(w, "CPU/entry = CPU × time / entries: what one entry costs this process, all goroutines included")
	fmt.Fprintln(w)
	base := find("1")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tentries\ttime\tCPU\tothers\tCPU/entry\tentries/s\tmean\tp50\tp99\tpeak RSS\tMaxrss\t×(1) rate\t×(1) p50\t×(1) p99\t")
	for _, r := range results {
		rate, p50, p99 := "", "", ""
		if base != nil && r.id != "1" && (strings.HasPrefix(r.id, "2") || strings.HasPrefix(r.id, "3")) {
			rate = fmt.Sprintf("%.2f", r.rate/base.rate)
			if r.p50 > 0 && base.p50 > 0 {
				p50 = fmt.Sprintf("%.2f", float64(r.p50)/float64(base.p50))
				p99 = fmt.Sprintf("%.2f", float64(r.p99)/float64(base.p99))
			}
		}
		fmt.Fprintf(tw, "(%s) %s\t%d\t%s\t%s\t%s\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", r.id, r.name, r.entries,
			r.elapsed.Round(time.Millisecond), coresStr(r.cores), coresStr(r.others), perEntry(r), r.rate, dur(r.mean), dur(r.p50), dur(r.p99), mib(r.peakKiB), mib(r.maxKiB), rate, p50, p99)
	}
	tw.Flush()
	for _, r := range results {
		if r.note != "" {
			fmt.Fprintf(w, "(%s) %s\n", r.id, r.note)
		}
	}

	fmt.Fprintln(w, "\ntargets (2-core reference machine; informative, never asserted):")
	check := func(ok bool) string {
		if ok {
			return "✔"
		}
		return "✘"
	}
	for _, id := range []string{"2", "2b", "2c", "2d"} {
		r := find(id)
		if r == nil {
			continue
		}
		if base != nil {
			fmt.Fprintf(w, "  %s (%s) in-process signed appends ≥ %.1f× bare Tessera: %.2f×\n", check(r.rate >= targetRatio*base.rate), id, targetRatio, r.rate/base.rate)
		}
		fmt.Fprintf(w, "  %s (%s) in-process signed appends ≥ %d entries/s: %.0f/s\n", check(r.rate >= targetAppendRate), id, targetAppendRate, r.rate)
	}
	awsSummary(w, check)
	if r := find("4a"); r != nil {
		fmt.Fprintf(w, "  %s (4a) audit replay ≥ %d entries/s: %.0f/s\n", check(r.rate >= targetAuditRate), targetAuditRate, r.rate)
	}
	if r := find("4b"); r != nil {
		fmt.Fprintf(w, "  %s (4b) verify receipt < %v: mean %s, p99 %s\n", check(r.mean < targetReceipt && r.p99 < targetReceipt), targetReceipt, dur(r.mean), dur(r.p99))
	}
	printIssueTable(w)
	if r := find("5a"); r != nil {
		n := float64(runtime.GOMAXPROCS(0))
		fmt.Fprintf(w, "\nceilings from (5), if %d cores did nothing else: admission's stateless checks %.0f entries/s", int(n), n*r.rate)
		if e := find("5e"); e != nil {
			fmt.Fprintf(w, ", Ed25519 verification alone %.0f entries/s", n*e.rate)
		}
		fmt.Fprintln(w)
	}
}

func dur(d time.Duration) string {
	switch {
	case d <= 0:
		return "–"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fms", ms(d))
	default:
		return d.Round(100 * time.Millisecond).String()
	}
}

// perEntry is the process CPU time per entry: cores × time / entries.
func perEntry(r result) string {
	if r.cores <= 0 || r.entries == 0 {
		return "–"
	}
	return dur(time.Duration(r.cores * float64(r.elapsed) / float64(r.entries)))
}

func coresStr(c float64) string {
	if c <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", c)
}

func mib(kib int64) string {
	if kib <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.0f MiB", float64(kib)/1024)
}

// printIssueTable prints issue 12's table: each figure beside the anchor
// it is read against, both from this run, with the ratio and the target.
// Rows whose measurements did not run are left out.
func printIssueTable(w io.Writer) {
	type row struct {
		figure, id, anchor, anchorID string
		target                       float64 // minimum ratio figure/anchor (0: none)
	}
	rows := []row{
		{"in-process signed append, receipts (2)", "2", "bare Tessera + Ed25519 per leaf (1b)", "1b", 0.8},
		{"in-process signed append, no receipts (2c)", "2c", "bare Tessera + Ed25519 per leaf (1b)", "1b", 0.9},
		{"bare Tessera + Ed25519 per leaf (1b)", "1b", "bare Tessera POSIX (1)", "1", 0},
		{"in-process signed append, receipts (2)", "2", "bare Tessera POSIX (1)", "1", 0},
		{"audit replay (4a)", "4a", "Ed25519 verify on GOMAXPROCS goroutines (5f)", "5f", 0.65},
	}
	for _, conc := range []int{256, 1024} {
		for _, wait := range []bool{true, false} {
			rows = append(rows, row{fmt.Sprintf("HTTP %d clients wait=%v (3)", conc, wait), fmt.Sprintf("3.%d.%v", conc, wait),
				fmt.Sprintf("minimal Tessera HTTP add server (3t)"), fmt.Sprintf("3t.%d.%v", conc, wait), 0.8})
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	header := false
	hdr := func() {
		if !header {
			fmt.Fprintln(w, "\nissue 12's table (figure and anchor from this run; rates in entries/s):")
			fmt.Fprintln(tw, "figure\tnow\tanchor\tanchor now\tratio\ttarget\t")
			header = true
		}
	}
	for _, r := range rows {
		f, a := find(r.id), find(r.anchorID)
		if f == nil || a == nil {
			continue
		}
		hdr()
		ratio := f.rate / a.rate
		target := ""
		if r.target > 0 {
			target = fmt.Sprintf("%s ≥ %.2f×", mark(ratio >= r.target), r.target)
		}
		fmt.Fprintf(tw, "%s\t%.0f/s\t%s\t%.0f/s\t%.2f×\t%s\t\n", r.figure, f.rate, r.anchor, a.rate, ratio, target)
	}
	if f, a := find("7b"), find("7a"); f != nil && a != nil {
		hdr()
		fmt.Fprintf(tw, "verify receipt, one file, wall incl. start (7b p50)\t%s\ta trivial Go binary (7a p50)\t%s\t%.1f×\t%s < 10ms\t\n",
			dur(f.p50), dur(a.p50), float64(f.p50)/float64(a.p50), mark(f.p50 < 10*time.Millisecond))
	}
	// Start and poll against log size: flat means within 2× from the
	// smallest size measured to the largest.
	for _, s := range []struct{ prefix, name string }{{"8a.", "ledger open, whole replay (8a)"}, {"8b.", "ledger open from snapshot (8b)"}, {"9.", "watch --once, nothing new (9)"}} {
		var rs []result
		for _, r := range results {
			if strings.HasPrefix(r.id, s.prefix) {
				rs = append(rs, r)
			}
		}
		if len(rs) == 0 {
			continue
		}
		slices.SortFunc(rs, func(x, y result) int { return x.entries - y.entries })
		hdr()
		var parts []string
		for _, r := range rs {
			parts = append(parts, fmt.Sprintf("%s at %d (%s)", dur(r.elapsed), r.entries, mib(r.peakKiB)))
		}
		growth := float64(rs[len(rs)-1].elapsed) / float64(rs[0].elapsed)
		fmt.Fprintf(tw, "%s\t%s\tsmallest size\t\t%.1f× over %d×\t%s flat (≤ 2×)\t\n", s.name, strings.Join(parts, ", "), growth,
			rs[len(rs)-1].entries/rs[0].entries, mark(growth <= 2))
	}
	tw.Flush()
}

func mark(ok bool) string {
	if ok {
		return "✔"
	}
	return "✘"
}
