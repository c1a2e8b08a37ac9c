package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
)

// On the shared storage, AppendInOrder holds early entries and admits them
// in order, also when their predecessors come through the other frontend:
// one agency's entries, alternating between two frontends, all started at
// once in reverse order. None is refused, the agency's seqs are in log
// order. Then a genuinely missing predecessor: the entry is refused, after
// the reorder wait, with rule seq.order and the seq it waits for.
func TestHeldAcrossFrontends(t *testing.T) {
	ctx := context.Background()
	kit := testkit.Many(t, 2)
	dir1 := storagetest.NewLedger(t, ledger.DriverAWS, "hold.test.example/log", kit.RegJSON)
	dir2 := storagetest.Frontend(t, dir1)
	l1, err := ledger.Open(ctx, dir1, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close(ctx)
	l2, err := ledger.Open(ctx, dir2, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close(ctx)
	const n = 40
	var envs [][]byte
	for range n {
		envs = append(envs, kit.Signed(t, "a00"))
	}
	errs := make([]error, n)
	idxs := make([]uint64, n)
	var wg sync.WaitGroup
	for i := n - 1; i >= 0; i-- {
		l := []*ledger.Ledger{l1, l2}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			p, err := l.AppendInOrder(ctx, envs[i], 10*time.Second)
			if err == nil {
				idxs[i], err = l.Index(p)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("entry seq %d refused although every predecessor was in flight: %v", i+1, err)
		}
		if i > 0 && idxs[i] <= idxs[i-1] {
			t.Fatalf("seq %d at index %d, before seq %d at %d", i+1, idxs[i], i, idxs[i-1])
		}
	}

	// The lookups of concurrent retries are gathered into shared queries:
	// each still gets its own entry's receipt (once published).
	for l2.PublishedSize(ctx) < n {
		time.Sleep(50 * time.Millisecond)
	}
	var lwg sync.WaitGroup
	lerrs := make([]error, n)
	for i := range n {
		lwg.Go(func() {
			rec, ok, err := l2.Existing(ctx, envs[i])
			switch {
			case err != nil:
				lerrs[i] = err
			case !ok || rec.Index != idxs[i]:
				lerrs[i] = fmt.Errorf("seq %d: found %v at %v, want index %d", i+1, ok, rec, idxs[i])
			}
		})
	}
	lwg.Wait()
	for _, err := range lerrs {
		if err != nil {
			t.Fatalf("a retry's lookup: %v", err)
		}
	}

	// a01's seq 1 never comes: its seq 2 is refused, naming seq 1.
	kit.Signed(t, "a01")
	_, err = l1.AppendInOrder(ctx, kit.Signed(t, "a01"), 300*time.Millisecond)
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleSeq || !strings.Contains(v.Message, "expected 1") {
		t.Fatalf("a seq whose predecessor never comes: %v", err)
	}
}
