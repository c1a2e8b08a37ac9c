package main_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// The operator's run of issue 16, as a test: two `serve` frontends on one
// AWS-driver backend (MariaDB + versitygw), four agencies, two per
// frontend, each sending its entries with `acdledger append --server` and
// the client's defaults (--parallel 256, the server's default
// --reorder-wait). Frontend 1 is SIGKILLed once a quarter of its agencies'
// entries have their receipts, restarted on the same directory, and its
// agencies run the same command again against it. Nothing may be refused:
// every append ends with exit 0 (the killed frontend's two end with exit 2,
// "unreachable", which refuses nothing), every entry is in the log once,
// every receipt verifies at its index, and the audit is clean.
//
// Bounded by progress, not by the clock: a run fails only when no new
// receipt appears for two minutes.
func TestTwoFrontendsClientDefaults(t *testing.T) {
	per := 500
	if raceEnabled {
		per = 120
	}
	const agencies = 4
	st := storagetest.AWSStorage(t)
	work := t.TempDir()
	kit := testkit.Many(t, agencies)
	reg := filepath.Join(work, "registry.json")
	if err := os.WriteFile(reg, kit.RegJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	files := make([]string, agencies)
	for a := range agencies {
		name := fmt.Sprintf("a%02d", a)
		var b bytes.Buffer
		for range per {
			b.Write(kit.Signed(t, name))
			b.WriteByte('\n')
		}
		files[a] = filepath.Join(work, name+".dsse.jsonl")
		if err := os.WriteFile(files[a], b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fe1, fe2 := filepath.Join(work, "frontend-1"), filepath.Join(work, "frontend-2")
	must(t, "init", "--dir", fe1, "--origin", "defaults.acdledger.example/log", "--registry", reg,
		"--storage", "aws", "--s3-bucket", st.Bucket, "--s3-endpoint", st.Endpoint, "--mysql-dsn", st.DSN, "--reservation-ttl", "5s")
	copyDir(t, fe1, fe2)
	os.Remove(filepath.Join(fe2, ".acdledger.lock"))
	receipts := filepath.Join(work, "receipts")

	// The server's own default reorder wait; the servers' logs are shown
	// when the test fails.
	logs := filepath.Join(work, "logs")
	os.MkdirAll(logs, 0o755)
	starts := 0
	start := func(dir string) *server {
		starts++
		f, err := os.Create(filepath.Join(logs, fmt.Sprintf("%d-%s.log", starts, filepath.Base(dir))))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "serve", "--ledger", dir, "--listen", "127.0.0.1:0")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "listening on ") {
			cmd.Process.Kill()
			t.Fatalf("server did not start: %q %v", line, err)
		}
		return &server{cmd: cmd, url: strings.TrimSpace(strings.TrimPrefix(line, "listening on "))}
	}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		m, _ := filepath.Glob(filepath.Join(logs, "*.log"))
		for _, f := range m {
			b, _ := os.ReadFile(f)
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			t.Logf("%s (its end):\n%s", filepath.Base(f), b)
		}
	})
	s1 := start(fe1)
	s2 := start(fe2)
	defer func() { s1.cmd.Process.Kill(); s2.cmd.Process.Kill() }()

	type run struct {
		code           int
		stdout, stderr string
	}
	appendTo := func(url, file string) (*exec.Cmd, <-chan run) {
		cmd := exec.Command(bin, "append", "--server", url, "--receipts", receipts, "--json", file)
		cmd.Env = append(os.Environ(), "ACDLEDGER_KEY_PASSPHRASE=test-passphrase")
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		ch := make(chan run, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			err := cmd.Wait()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				code = -1
			}
			ch <- run{code, out.String(), errb.String()}
		}()
		return cmd, ch
	}
	count := func(prefix string) int {
		m, _ := filepath.Glob(filepath.Join(receipts, prefix+"*.tlog-proof"))
		return len(m)
	}
	total := func() int { return count("") }
	// progress fails the test when no receipt was written for two minutes.
	last, lastAt := 0, time.Now()
	progress := func(what string) {
		t.Helper()
		if n := total(); n > last {
			last, lastAt = n, time.Now()
		} else if time.Since(lastAt) > 2*time.Minute {
			t.Fatalf("%s: no new receipt for 2 minutes (%d of %d)", what, n, agencies*per)
		}
	}
	os.MkdirAll(receipts, 0o755)

	results := make([]<-chan run, agencies)
	for a := range agencies {
		url := s1.url
		if a >= 2 {
			url = s2.url
		}
		_, results[a] = appendTo(url, files[a])
	}
	// Kill frontend 1 once a quarter of its agencies' entries have receipts
	// (receipts are named after the entry id, "E" + agency + number).
	firstHalf := func() int { return count("Ea00") + count("Ea01") }
	for firstHalf() < per/2 {
		progress("before the kill")
		time.Sleep(20 * time.Millisecond)
	}
	s1.cmd.Process.Kill()
	s1.cmd.Wait()
	t.Logf("frontend 1 killed with %d of its %d entries acknowledged", firstHalf(), 2*per)
	for a := range 2 {
		r := <-results[a]
		// Exit 2: the server is unreachable, nothing refused. (A client
		// that had every answer before the kill exits 0.)
		if r.code != 2 && r.code != 0 {
			t.Fatalf("append of a%02d to the killed frontend: exit %d\n%s", a, r.code, r.stderr)
		}
		if strings.Contains(r.stderr, "seq.order") || strings.Contains(r.stderr, "refs.unknown") {
			t.Fatalf("append of a%02d refused entries:\n%s", a, r.stderr)
		}
	}
	s1 = start(fe1)
	for a := range 2 {
		_, results[a] = appendTo(s1.url, files[a])
	}
	for a := range agencies {
		var r run
		for got := false; !got; {
			select {
			case r = <-results[a]:
				got = true
			case <-time.After(100 * time.Millisecond):
				progress("after the restart")
			}
		}
		if r.code != 0 {
			t.Fatalf("append of a%02d: exit %d (a refusal of an honest in-order stream?)\n%s", a, r.code, r.stderr)
		}
	}
	if n := total(); n != agencies*per {
		t.Fatalf("%d receipts, want %d", n, agencies*per)
	}

	pins, err := verifier.LoadPins(filepath.Join(fe1, "log.vkey"), "", reg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlog.Open(s2.url)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]uint64{}
	var report *verifier.AuditReport
	for {
		clear(index)
		report, err = pins.Audit(context.Background(), src, verifier.AuditOptions{OnEntry: func(i uint64, a *specs.Admitted) { index[a.Entry.ID] = i }})
		if err != nil || !report.OK() || report.Entries >= uint64(agencies*per) {
			break
		}
		time.Sleep(200 * time.Millisecond) // the last checkpoint may not be published yet; the receipts say it will be
	}
	if err != nil || !report.OK() || report.Entries != uint64(agencies*per) {
		t.Fatalf("audit: %v, ok %v, %d entries (want %d), failures %v", err, report != nil && report.OK(), report.Entries, agencies*per, report.Failures)
	}
	rcs, _ := filepath.Glob(filepath.Join(receipts, "*.tlog-proof"))
	for _, f := range rcs {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		r, err := pins.VerifyReceipt(raw, nil)
		if err != nil {
			t.Fatalf("receipt %s: %v", f, err)
		}
		if got, ok := index[r.EntryID]; !ok || got != r.Index {
			t.Fatalf("receipt of %s says index %d, the log has it at %d (present %v)", r.EntryID, r.Index, got, ok)
		}
	}
	s2.cmd.Process.Signal(syscall.SIGTERM)
	if err := s2.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}
