package main_test

import (
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// demoBatch makes a ledger and one file of n signed entries for it.
func demoBatch(t *testing.T, n int, seed string) (led, batch, registry string) {
	t.Helper()
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led = filepath.Join(work, "ledger")
	must(t, "demo", "generate", "--out", ag, "--seed", seed, "--entries", strconv.Itoa(n), "--parts", "1")
	registry = filepath.Join(ag, "registry.json")
	must(t, "init", "--dir", led, "--origin", "resume.acdledger.example/log", "--registry", registry)
	return led, filepath.Join(ag, "part-1.dsse.jsonl"), registry
}

type appended struct {
	Index         uint64 `json:"index"`
	EntryID       string `json:"entry_id"`
	Receipt       string `json:"receipt"`
	AlreadyLogged bool   `json:"already_logged"`
}

// A local append of a 2,000-entry batch is killed with SIGKILL at random
// points five times; running the same command again then skips what is
// in the log and appends the rest: every entry is in the log exactly
// once, and every receipt (of the skipped entries too) is written and
// verifies.
func TestCrashAppendResume(t *testing.T) {
	n := 2000
	if raceEnabled {
		n = 300
	}
	led, batch, registry := demoBatch(t, n, "11")
	raw, err := os.ReadFile(batch)
	if err != nil {
		t.Fatal(err)
	}
	n = strings.Count(string(raw), "\n") // the generator's count is approximate
	receipts := filepath.Join(t.TempDir(), "receipts")
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewPCG(uint64(seed), 1))
	t.Logf("kill points from seed %d", seed)
	// Each round is killed once it has written a random number of receipts
	// (those of entries found in the log come first, then the new ones), so
	// the kills land while looking up, appending or writing receipts.
	var earlier []string
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "receipts")
		cmd := exec.Command(bin, "append", "--ledger", led, "--receipts", dir, batch)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		target := rng.IntN(n)
		killed := false
		for !killed {
			select {
			case err := <-done:
				t.Logf("round %d: finished before %d receipts were written (%v)", round+1, target, err)
				killed = true
				continue
			case <-time.After(2 * time.Millisecond):
			}
			if files, _ := filepath.Glob(filepath.Join(dir, "*.tlog-proof")); len(files) >= target {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				t.Logf("round %d: killed after %d receipts", round+1, len(files))
				killed = true
			}
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.tlog-proof"))
		earlier = append(earlier, files...)
	}
	args := []string{"append", "--ledger", led, "--receipts", receipts, "--json", batch}
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("resumed append: exit %d\n%s", r.code, r.stderr)
	}
	var res []appended
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if len(res) != n {
		t.Fatalf("%d results, want %d", len(res), n)
	}
	skipped := 0
	seen := map[uint64]string{}
	for _, e := range res {
		if e.AlreadyLogged {
			skipped++
		}
		if other, ok := seen[e.Index]; ok {
			t.Fatalf("index %d holds %s and %s", e.Index, other, e.EntryID)
		}
		seen[e.Index] = e.EntryID
		if e.Receipt != filepath.Join(receipts, e.EntryID+".tlog-proof") {
			t.Fatalf("entry %s: receipt %q", e.EntryID, e.Receipt)
		}
	}
	t.Logf("the resumed run found %d of %d entries in the log", skipped, n)
	files, _ := filepath.Glob(filepath.Join(receipts, "*.tlog-proof"))
	if len(files) != n {
		t.Fatalf("%d receipt files, want %d", len(files), n)
	}
	vkey := filepath.Join(led, "log.vkey")
	must(t, append([]string{"verify", "receipt", "--vkey", vkey, "--registry", registry}, files...)...)
	if len(earlier) > 0 { // receipts written by killed runs are whole and valid too
		must(t, append([]string{"verify", "receipt", "--vkey", vkey, "--registry", registry}, earlier...)...)
	}
	// Exactly once: the log holds n entries, the audit replays them all.
	out := must(t, "audit", "--log", filepath.Join(led, "log"), "--vkey", vkey, "--registry", registry, "--json")
	var audit struct {
		Size uint64 `json:"tree_size"`
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil || audit.Size != uint64(n) {
		t.Fatalf("audit: size %d, want %d (%v)\n%s", audit.Size, n, err, out)
	}
	// A third run appends nothing and rewrites every receipt.
	again := must(t, args...)
	if strings.Count(again, `"already_logged": true`) != n {
		t.Fatalf("a run over a complete batch appended something:\n%.500s", again)
	}
}

// The receipt of any logged entry can be fetched again, by id or index,
// from the ledger directory or from a served log; an unknown id exits 1.
// Receipts that cannot be written (here: the directory is a file) leave
// the entries in the log, exit 3 and say how to fetch them.
func TestReceiptCommand(t *testing.T) {
	led, batch, registry := demoBatch(t, 40, "12")
	out := must(t, "append", "--ledger", led, "--json", batch)
	var res []appended
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	must(t, "receipt", "--ledger", led, "--out", dir, res[3].EntryID, res[7].EntryID)
	one := must(t, "receipt", "--ledger", led, "--index", "5")
	if err := os.WriteFile(filepath.Join(dir, "five.tlog-proof"), []byte(one), 0o644); err != nil {
		t.Fatal(err)
	}
	vout := must(t, "verify", "receipt", "--vkey", filepath.Join(led, "log.vkey"), "--registry", registry,
		filepath.Join(dir, res[3].EntryID+".tlog-proof"), filepath.Join(dir, res[7].EntryID+".tlog-proof"), filepath.Join(dir, "five.tlog-proof"))
	if !strings.Contains(vout, res[5].EntryID) {
		t.Fatalf("the receipt of --index 5 is not entry %s's:\n%s", res[5].EntryID, vout)
	}
	mustFail(t, 1, "entry 01ZZZZZZZZZZZZZZZZZZZZZZZZ is not in the log", "receipt", "--ledger", led, "01ZZZZZZZZZZZZZZZZZZZZZZZZ")
	mustFail(t, 1, "--index 1000000: the published checkpoint covers indexes 0 to "+strconv.Itoa(len(res)-1), "receipt", "--ledger", led, "--index", "1000000")
	mustFail(t, 2, "several receipts need --out DIR or --json", "receipt", "--ledger", led, "--index", "1", "--index", "2")

	s := startServer(t, led)
	defer func() { s.cmd.Process.Signal(syscall.SIGTERM); s.cmd.Wait() }()
	js := must(t, "receipt", "--log", s.url, "--vkey", filepath.Join(led, "log.vkey"), "--json", res[0].EntryID)
	if !strings.Contains(js, `"proof": "c2sp.org/tlog-proof@v1`) {
		t.Fatalf("receipt --json over HTTP:\n%s", js)
	}

	// Receipts that cannot be written (each receipt's path is taken by a
	// directory, which stops root too): the entries are in the log, exit 3.
	led2, batch2, _ := demoBatch(t, 10, "13")
	var res2 []appended
	if err := json.Unmarshal([]byte(must(t, "append", "--ledger", led2, "--json", batch2)), &res2); err != nil {
		t.Fatal(err)
	}
	blocked := filepath.Join(t.TempDir(), "receipts")
	for _, e := range res2[5:] {
		if err := os.MkdirAll(filepath.Join(blocked, e.EntryID+".tlog-proof"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	r := mustFail(t, 3, "entries are in the log, but "+strconv.Itoa(len(res2)-5)+" receipt(s) could not be written", "append", "--ledger", led2, "--receipts", blocked, batch2)
	if !strings.Contains(r.stderr, "acdledger receipt --ledger "+led2+" --out "+blocked+" "+res2[5].EntryID) {
		t.Fatalf("the message does not say how to fetch the receipts: %s", r.stderr)
	}
}

// A flipped byte in an entry bundle, a hash tile or the checkpoint: the
// ledger refuses to open (append and serve exit 1 naming the file), fsck
// exits 1 naming it; while serve runs, a bundle corrupted under it is not
// served, /healthz says why and appends are refused.
func TestFlippedByteRefused(t *testing.T) {
	led, batch, _ := demoBatch(t, 300, "14")
	must(t, "append", "--ledger", led, batch)
	out := must(t, "fsck", "--ledger", led)
	if !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("fsck of a good log: %s", out)
	}
	for _, c := range []struct{ file, want string }{
		{"tile/entries/000", "tile/entries/000: entry"},
		{"tile/0/000", "tile/0/000: hashes to"},
		{"checkpoint", "checkpoint"},
	} {
		t.Run(strings.ReplaceAll(c.file, "/", "_"), func(t *testing.T) {
			bad := filepath.Join(t.TempDir(), "ledger")
			copyDir(t, led, bad)
			at := 1000
			if c.file == "checkpoint" {
				at = 60 // inside the signature line
			}
			flipByte(t, filepath.Join(bad, "log", filepath.FromSlash(c.file)), at)
			path := filepath.Join(bad, "log", filepath.FromSlash(c.file))
			r := mustFail(t, 1, path, "append", "--ledger", bad, batch)
			if !strings.Contains(r.stderr, "acdledger fsck --ledger "+bad) {
				t.Fatalf("the refusal does not say how to list the bad files: %s", r.stderr)
			}
			cmd := exec.Command(bin, "serve", "--ledger", bad, "--listen", "127.0.0.1:0")
			sout, _ := cmd.CombinedOutput()
			if cmd.ProcessState.ExitCode() != 1 || !strings.Contains(string(sout), path) {
				t.Fatalf("serve on a corrupt log: exit %d\n%s", cmd.ProcessState.ExitCode(), sout)
			}
			f := run(t, "fsck", "--ledger", bad)
			if f.code != 1 || !strings.Contains(f.stdout, "bad "+c.file) {
				t.Fatalf("fsck: exit %d\n%s%s", f.code, f.stdout, f.stderr)
			}
			t.Logf("fsck: %s", f.stdout)
		})
	}

	s := startServer(t, led)
	defer func() { s.cmd.Process.Kill(); s.cmd.Wait() }()
	get := func(p string) (*http.Response, string) {
		resp, err := http.Get(s.url + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 1<<16)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	if resp, _ := get("/tile/entries/000"); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Fatalf("a good bundle: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	flipByte(t, filepath.Join(led, "log", "tile", "entries", "000"), 2000)
	resp, body := get("/tile/entries/000")
	if resp.StatusCode != 500 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "tile/entries/000") || strings.Contains(body, led) {
		t.Fatalf("a corrupted bundle was answered %d %q: %s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	if resp, body := get("/healthz"); resp.StatusCode != 503 || !strings.Contains(body, "tile/entries/000") {
		t.Fatalf("/healthz after a corrupt bundle: %d %s", resp.StatusCode, body)
	}
	if resp, _ := get("/tile/0/000"); resp.StatusCode != 200 {
		t.Fatalf("a good tile beside the bad bundle: %d", resp.StatusCode)
	}
}

// append --server killed with SIGKILL mid-batch and run again: the server
// answers each entry already in the log with its original receipt, so the
// re-run completes the batch, every entry once, every receipt valid.
func TestCrashAppendServerResume(t *testing.T) {
	led, batch, registry := demoBatch(t, 300, "15")
	raw, err := os.ReadFile(batch)
	if err != nil {
		t.Fatal(err)
	}
	n := strings.Count(string(raw), "\n")
	s := startServer(t, led)
	defer func() { s.cmd.Process.Signal(syscall.SIGTERM); s.cmd.Wait() }()
	first := filepath.Join(t.TempDir(), "receipts")
	cmd := exec.Command(bin, "append", "--server", s.url, "--receipts", first, batch)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	target := rand.IntN(n)
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
			continue
		case <-time.After(2 * time.Millisecond):
		}
		if files, _ := filepath.Glob(filepath.Join(first, "*.tlog-proof")); len(files) >= target {
			cmd.Process.Signal(syscall.SIGKILL)
			<-done
			t.Logf("killed after %d of %d receipts", len(files), n)
			stop = true
		}
	}
	receipts := filepath.Join(t.TempDir(), "receipts")
	var res []appended
	if err := json.Unmarshal([]byte(must(t, "append", "--server", s.url, "--receipts", receipts, "--json", batch)), &res); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(receipts, "*.tlog-proof"))
	if len(res) != n || len(files) != n {
		t.Fatalf("%d results and %d receipts, want %d", len(res), len(files), n)
	}
	must(t, append([]string{"verify", "receipt", "--vkey", filepath.Join(led, "log.vkey"), "--registry", registry}, files...)...)
	out := must(t, "audit", "--log", s.url, "--vkey", filepath.Join(led, "log.vkey"), "--registry", registry, "--json")
	var audit struct {
		Size uint64 `json:"tree_size"`
	}
	if err := json.Unmarshal([]byte(out), &audit); err != nil || audit.Size != uint64(n) {
		t.Fatalf("audit: size %d, want %d (every entry once)", audit.Size, n)
	}
}
