package ledger_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs/tlogproof"
)

func TestAppendAndReceipt(t *testing.T) { storagetest.Run(t, testAppendAndReceipt) }

func testAppendAndReceipt(t *testing.T, driver string) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := storagetest.NewLedger(t, driver, "test.example/log", kit.RegJSON)
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	for i := 0; i < 300; i++ {
		envs = append(envs, kit.Signed(t, []string{"nco", "npa", "commission"}[i%3]))
	}
	ps, err := l.Append(ctx, envs...)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		r, err := l.Receipt(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if r.Index != uint64(i) {
			t.Fatalf("entry %d got index %d", i, r.Index)
		}
		tp, err := tlogproof.Parse(r.Proof)
		if err != nil {
			t.Fatal(err)
		}
		if string(tp.Extra) != string(envs[i]) {
			t.Fatal("receipt extra is not the envelope")
		}
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	// Reopen: the state is rebuilt from the log, so seq continues.
	l, err = ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if got := l.LastSeq("nco"); got != 100 {
		t.Fatalf("after reopen nco last seq = %d, want 100", got)
	}
	if _, err := l.Append(ctx, kit.Signed(t, "nco")); err != nil {
		t.Fatal(err)
	}
}

// Agencies append at the same time, each one entry at a time and waiting
// until it is sequenced: every entry gets a distinct index, each agency's
// seq order holds, and every receipt (awaited concurrently) verifies.
func TestConcurrentAgencies(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "test.example/concurrent", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{BatchMaxAge: 5 * time.Millisecond, CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	const per = 150
	agencies := []string{"nco", "npa", "commission"}
	envs := map[string][][]byte{}
	for _, a := range agencies {
		for i := 0; i < per; i++ {
			envs[a] = append(envs[a], kit.Signed(t, a))
		}
	}
	indexes := make(chan uint64, per*len(agencies))
	pending := make(chan *ledger.Pending, per*len(agencies))
	errs := make(chan error, len(agencies))
	for _, a := range agencies {
		go func() {
			for _, env := range envs[a] {
				ps, err := l.Append(ctx, env)
				if err != nil {
					errs <- err
					return
				}
				i, err := l.Index(ps[0])
				if err != nil {
					errs <- err
					return
				}
				indexes <- i
				pending <- ps[0]
			}
			errs <- nil
		}()
	}
	for range agencies {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(indexes)
	close(pending)
	var wg sync.WaitGroup
	for p := range pending {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := l.Receipt(ctx, p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for i := range indexes {
		if seen[i] {
			t.Fatalf("index %d given twice", i)
		}
		seen[i] = true
	}
	if len(seen) != per*len(agencies) || l.Len() != per*len(agencies) {
		t.Fatalf("%d indexes, %d entries", len(seen), l.Len())
	}
	for _, a := range agencies {
		if l.LastSeq(a) != per {
			t.Fatalf("%s last seq %d", a, l.LastSeq(a))
		}
	}
}
