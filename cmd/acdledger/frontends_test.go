package main_test

import (
	"context"
	"hash/fnv"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Two `acdledger serve` processes run on one AWS-driver backend (one
// database, one bucket), the agencies spread across them, appending at
// once. One is killed with SIGKILL mid-run; its agencies carry on against
// the survivor (which settles the dead frontend's unfinished admissions
// once its heartbeat is older than the reservation TTL). In the end every
// entry is acknowledged exactly once, every receipt verifies at its index,
// and the audit over the survivor's URL (which serves the bucket's tiles)
// passes: no id twice, no seq gap or duplicate.
func TestTwoFrontendsOneKilled(t *testing.T) {
	n := 800
	if raceEnabled {
		n = 300
	}
	st := storagetest.AWSStorage(t)
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	fe1, fe2 := filepath.Join(work, "frontend-1"), filepath.Join(work, "frontend-2")
	must(t, "demo", "generate", "--out", ag, "--seed", "5", "--entries", strconv.Itoa(n), "--parts", "1")
	must(t, "init", "--dir", fe1, "--origin", "frontends.acdledger.example/log", "--registry", filepath.Join(ag, "registry.json"),
		"--storage", "aws", "--s3-bucket", st.Bucket, "--s3-endpoint", st.Endpoint, "--mysql-dsn", st.DSN, "--reservation-ttl", "5s")
	copyDir(t, fe1, fe2)
	os.Remove(filepath.Join(fe2, ".acdledger.lock"))
	items, err := os.ReadFile(filepath.Join(ag, "part-1.dsse.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	var byFrontend [2][]int // positions in envs, by the frontend their agency uses
	for i, l := range strings.Split(strings.TrimSpace(string(items)), "\n") {
		envs = append(envs, []byte(l))
		h, err := specs.PeekHeader([]byte(l))
		if err != nil {
			t.Fatal(err)
		}
		f := fnv.New32()
		f.Write([]byte(h.Agency))
		byFrontend[f.Sum32()%2] = append(byFrontend[f.Sum32()%2], i)
	}
	if len(byFrontend[0]) == 0 || len(byFrontend[1]) == 0 {
		t.Fatal("agencies not spread over both frontends")
	}
	pins, err := verifier.LoadPins(filepath.Join(fe1, "log.vkey"), "", filepath.Join(ag, "registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	acks := make([]*ack, len(envs))
	var mu sync.Mutex
	acked := func() int { return countAcked(acks, &mu) }
	// sendSubset sends the given positions of envs (acks shared).
	sendSubset := func(ctx context.Context, url string, pos []int) {
		sub := make([][]byte, len(pos))
		subAcks := make([]*ack, len(pos))
		var subMu sync.Mutex
		for j, i := range pos {
			sub[j] = envs[i]
			mu.Lock()
			subAcks[j] = acks[i]
			mu.Unlock()
		}
		done := make(chan struct{})
		go func() {
			sendAll(ctx, url, sub, subAcks, &subMu)
			close(done)
		}()
		copyAcks := func() {
			subMu.Lock()
			mu.Lock()
			for j, i := range pos {
				if subAcks[j] != nil {
					acks[i] = subAcks[j]
				}
			}
			mu.Unlock()
			subMu.Unlock()
		}
		for {
			select {
			case <-done:
				copyAcks()
				return
			case <-time.After(20 * time.Millisecond):
				copyAcks()
			}
		}
	}

	s1 := startServer(t, fe1, "--reorder-wait", "5s")
	s2 := startServer(t, fe2, "--reorder-wait", "5s")
	defer s2.cmd.Process.Kill()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	// Each sender goes over its agencies' entries again and again: an
	// entry refused because its ref (through the other frontend) was not
	// in yet is sent again.
	for i, url := range []string{s1.url, s2.url} {
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				sendSubset(ctx, url, byFrontend[i])
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for acked() < len(envs)/4 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	s1.cmd.Process.Kill() // SIGKILL: its admissions in flight are left behind in the database
	s1.cmd.Wait()
	t.Logf("frontend 1 killed with %d of %d entries acknowledged", acked(), len(envs))
	// Both senders stop (frontend 2's would otherwise wait for refs to
	// entries of frontend 1's agencies that nobody sends any more).
	cancel()
	wg.Wait()

	// Frontend 1's agencies retry against the survivor until all is in.
	all := make([]int, len(envs))
	for i := range all {
		all[i] = i
	}
	// Bounded by progress, not by the clock: on a busy machine the
	// survivor is slow, but it must keep acknowledging; 90 s without a
	// new acknowledgement is a failure.
	for last, progressed := acked(), time.Now(); acked() < len(envs) && time.Since(progressed) < 90*time.Second; {
		sendSubset(context.Background(), s2.url, all)
		if k := acked(); k > last {
			last, progressed = k, time.Now()
		}
	}
	if k := acked(); k != len(envs) {
		t.Fatalf("only %d of %d entries acknowledged by the survivor", k, len(envs))
	}
	src, err := tlog.Open(s2.url)
	if err != nil {
		t.Fatal(err)
	}
	index := map[string]uint64{}
	var report *verifier.AuditReport
	for end := time.Now().Add(30 * time.Second); ; {
		report, err = pins.Audit(context.Background(), src, verifier.AuditOptions{OnEntry: func(i uint64, a *specs.Admitted) { index[a.Entry.ID] = i }})
		if err == nil && report.OK() && report.Entries == uint64(len(envs)) || time.Now().After(end) {
			break
		}
		time.Sleep(500 * time.Millisecond) // the last checkpoint may not be published yet
	}
	if err != nil || !report.OK() || report.Entries != uint64(len(envs)) {
		t.Fatalf("audit over the survivor: %v, ok %v, %d entries (want %d), failures %v", err, report.OK(), report.Entries, len(envs), report.Failures)
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
	s2.cmd.Process.Signal(syscall.SIGTERM)
	if err := s2.cmd.Wait(); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
}

// migrate moves a POSIX ledger to the AWS driver from the command line; the
// log is then served from the bucket, the second part is appended to it,
// and the audit over HTTP passes with the verifier key of the original.
func TestMigrateCommand(t *testing.T) {
	st := storagetest.AWSStorage(t)
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	fe := filepath.Join(work, "frontend")
	must(t, "demo", "generate", "--out", ag, "--seed", "7", "--entries", "400", "--parts", "2")
	reg := filepath.Join(ag, "registry.json")
	must(t, "init", "--dir", led, "--origin", "migrate.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	mustFail(t, 2, "--from must be posix:DIR", "migrate", "--from", "aws", "--ledger", fe)
	mustFail(t, 2, "password", "migrate", "--from", "posix:"+led, "--ledger", fe, "--s3-bucket", st.Bucket, "--mysql-dsn", "root:secret@tcp(127.0.0.1:1)/x")
	out := must(t, "migrate", "--from", "posix:"+led, "--to", "aws", "--ledger", fe, "--s3-bucket", st.Bucket, "--s3-endpoint", st.Endpoint, "--mysql-dsn", st.DSN)
	if !strings.Contains(out, "equals the source checkpoint's") {
		t.Fatalf("migrate: %s", out)
	}
	must(t, "append", "--ledger", fe, filepath.Join(ag, "part-2.dsse.jsonl"))
	s := startServer(t, fe)
	defer s.cmd.Process.Kill()
	a := must(t, "audit", "--log", s.url, "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg, "--json")
	if !strings.Contains(a, `"failure_count": 0`) {
		t.Fatalf("audit of the migrated log: %s", a)
	}
}
