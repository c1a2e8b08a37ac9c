package main_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// server is an `acdledger serve` child process.
type server struct {
	cmd *exec.Cmd
	url string
}

func startServer(t *testing.T, ledgerDir string, extra ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--ledger", ledgerDir, "--listen", "127.0.0.1:0", "--reorder-wait", "3s"}, extra...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
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

type ack struct {
	index   uint64
	receipt []byte
}

// countAcked is how many entries have been acknowledged so far.
func countAcked(acks []*ack, mu *sync.Mutex) int {
	mu.Lock()
	defer mu.Unlock()
	k := 0
	for _, a := range acks {
		if a != nil {
			k++
		}
	}
	return k
}

// sendAll posts every envelope not yet acknowledged, in order, 64 at a time,
// until ctx ends; acknowledgements (receipts) are recorded in acks.
func sendAll(ctx context.Context, url string, envs [][]byte, acks []*ack, mu *sync.Mutex) {
	c, _ := submit.New(url)
	c.Attempts, c.Backoff = 3, 50*time.Millisecond
	window := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i, env := range envs {
		mu.Lock()
		done := acks[i] != nil
		mu.Unlock()
		if done {
			continue
		}
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Add(1)
		go func() {
			defer func() { <-window; wg.Done() }()
			res, err := c.Add(ctx, env, true)
			if err != nil {
				return // the server died or refused: not acknowledged
			}
			mu.Lock()
			acks[i] = &ack{res.Index, []byte(res.Receipt)}
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// The server is killed with SIGKILL mid-run, three times at different
// points, and restarted on the same directory. Every entry that was ever
// acknowledged (every receipt returned) is in the final log at its index
// and its receipt verifies; the final log is consistent with every
// checkpoint seen before any crash; a last SIGTERM shuts down cleanly.
func TestCrashRecovery(t *testing.T) {
	n := 3000
	if raceEnabled {
		n = 600
	}
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	must(t, "demo", "generate", "--out", ag, "--seed", "3", "--entries", strconv.Itoa(n), "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "crash.acdledger.example/log", "--registry", filepath.Join(ag, "registry.json"))
	items, err := os.ReadFile(filepath.Join(ag, "part-1.dsse.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	for _, l := range strings.Split(strings.TrimSpace(string(items)), "\n") {
		envs = append(envs, []byte(l))
	}
	pins, err := verifier.LoadPins(filepath.Join(led, "log.vkey"), "", filepath.Join(ag, "registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]*ack, len(envs))
	var mu sync.Mutex
	acked := func() int { return countAcked(acks, &mu) }
	var seen []*tlog.Checkpoint // checkpoints observed before the crashes
	for round, killAt := range []float64{0.2, 0.45, 0.7} {
		s := startServer(t, led)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { defer wg.Done(); sendAll(ctx, s.url, envs, acks, &mu) }()
		deadline := time.Now().Add(60 * time.Second)
		for acked() < int(killAt*float64(len(envs))) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if src, err := tlog.Open(s.url); err == nil {
			if cp, err := src.Checkpoint(context.Background(), pins.Trust); err == nil {
				seen = append(seen, cp)
			}
		}
		s.cmd.Process.Kill() // SIGKILL: no shutdown, no final checkpoint
		s.cmd.Wait()
		cancel()
		wg.Wait()
		t.Logf("round %d: killed with %d of %d entries acknowledged", round+1, acked(), len(envs))
	}

	// The last run appends the rest, then stops gracefully.
	s := startServer(t, led)
	sendAll(context.Background(), s.url, envs, acks, &mu)
	if k := acked(); k != len(envs) {
		t.Fatalf("after restart only %d of %d entries acknowledged", k, len(envs))
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}

	src, err := tlog.Open(filepath.Join(led, "log"))
	if err != nil {
		t.Fatal(err)
	}
	final, err := src.Checkpoint(context.Background(), pins.Trust)
	if err != nil {
		t.Fatal(err)
	}
	if final.Size != uint64(len(envs)) {
		t.Fatalf("final tree has %d entries, want %d (each exactly once)", final.Size, len(envs))
	}
	for _, cp := range seen {
		if _, err := src.CheckConsistency(context.Background(), pins.Trust, cp); err != nil {
			t.Fatalf("final log inconsistent with checkpoint %d seen before a crash: %v", cp.Size, err)
		}
	}
	index := map[string]uint64{}
	report, err := pins.Audit(context.Background(), src, verifier.AuditOptions{OnEntry: func(i uint64, a *specs.Admitted) { index[a.Entry.ID] = i }})
	if err != nil || !report.OK() {
		t.Fatalf("audit after crashes: %v %+v", err, report)
	}
	for i, a := range acks {
		r, err := pins.VerifyReceipt(a.receipt, nil)
		if err != nil {
			t.Fatalf("receipt of entry %d: %v", i, err)
		}
		if got, ok := index[r.EntryID]; !ok || got != a.index || r.Index != a.index {
			t.Fatalf("acknowledged entry %s at index %d is at %d (present %v)", r.EntryID, a.index, got, ok)
		}
	}
}
