package ledger

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
)

// realTessera is a Tessera POSIX log in a temporary directory with the
// batching a size-cut sequencer needs (batch size = round size).
type realTessera struct {
	add    func(context.Context, *tessera.Entry) tessera.IndexFuture
	reader tessera.LogReader
}

func newRealTessera(t *testing.T, batch uint, maxAge time.Duration) *realTessera {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	skey, _, err := note.GenerateKey(rand.Reader, "test.example/seq")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	driver, err := posix.New(ctx, posix.Config{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(batch, maxAge).
		WithCheckpointInterval(100*time.Millisecond).
		WithAntispam(tessera.DefaultAntispamInMemorySize, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { shutdown(context.Background()) })
	return &realTessera{add: app.Add, reader: reader}
}

// leaves reads the first n leaves back from the log's entry bundles.
func (r *realTessera) leaves(t *testing.T, n uint64) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for b := uint64(0); uint64(len(out)) < n; b++ {
		raw, err := r.reader.ReadEntryBundle(ctx, b, layout.PartialTileSize(0, b, n))
		if err != nil {
			t.Fatalf("bundle %d: %v", b, err)
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			t.Fatal(err)
		}
		for _, e := range eb.Entries {
			out = append(out, string(e))
		}
	}
	return out[:n]
}

// submitAll submits n leaves from several goroutines, each submission
// under one lock as admission's (so the queue's order is the order the
// leaves were "admitted" in), and returns them in that order with their
// futures.
func submitAll(s *sequencer, n, goroutines int) ([]string, []tessera.IndexFuture) {
	var mu sync.Mutex
	order := make([]string, 0, n)
	futures := make([]tessera.IndexFuture, 0, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				leaf := fmt.Sprintf("leaf-%05d", i)
				mu.Lock()
				order = append(order, leaf)
				futures = append(futures, s.submit([]byte(leaf), ""))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return order, futures
}

// checkLogOrder resolves the futures and checks that the log holds the
// leaves in submission order at the indices the futures gave.
func checkLogOrder(t *testing.T, tl *realTessera, order []string, futures []tessera.IndexFuture) {
	t.Helper()
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			t.Fatalf("leaf %d (%s): %v", i, order[i], err)
		}
		if idx.Index != uint64(i) {
			t.Fatalf("leaf %d (%s) sequenced at index %d: log order differs from submission order", i, order[i], idx.Index)
		}
	}
	got := tl.leaves(t, uint64(len(order)))
	for i := range order {
		if got[i] != order[i] {
			t.Fatalf("log index %d holds %s, submitted %d-th was %s", i, got[i], i, order[i])
		}
	}
}

// Full rounds are written when full, not when Tessera's timer fires: with
// a one-hour timer, 12 rounds of 8 could not finish within the test's
// timeout otherwise. The log holds the leaves in submission order.
func TestSizeCutRoundsDoNotWaitTheTimer(t *testing.T) {
	const round, rounds = 8, 12
	tl := newRealTessera(t, round, time.Hour)
	var failed atomic.Pointer[error]
	s := newSequencer(tl.add, round, time.Hour, func(err error) { failed.Store(&err) })
	order, futures := submitAll(s, round*rounds, 4) // all queued before the first round
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	checkLogOrder(t, tl, order, futures)
	if got := s.fullRounds.Load(); got != rounds {
		t.Errorf("%d rounds cut by size, want %d", got, rounds)
	}
	if p := failed.Load(); p != nil {
		t.Fatal(*p)
	}
	s.drain()
}

// slowAdd deliberately starves the hand-off: every slowEvery-th Add is
// made to return after Tessera's batch timer has fired (it waits until the
// round's first entry has been written by that timer), which is what a
// preempted sequencer on a busy machine would see. The sequencer must
// notice, close the round on that entry, and add nothing more to it: any
// further entry could land in a batch that races the timer's batch.
type slowAdd struct {
	tl        *realTessera
	slowEvery int

	mu         sync.Mutex
	n          int
	firstOfRnd tessera.IndexFuture // the round's first Add
	afterSlow  int                 // Adds made in a round after its slowed Add
	slowed     int
	inRound    bool
}

func (a *slowAdd) add(ctx context.Context, e *tessera.Entry) tessera.IndexFuture {
	a.mu.Lock()
	a.n++
	slow := a.n%a.slowEvery == 0
	first := a.firstOfRnd
	if a.inRound {
		a.afterSlow++
	}
	a.mu.Unlock()
	if slow && first != nil {
		// The round's first entry resolves only once a batch holding
		// it was written: by the timer, since the round is not full.
		first()
	}
	f := a.tl.add(ctx, e)
	a.mu.Lock()
	if a.firstOfRnd == nil {
		a.firstOfRnd = f
	}
	if slow && first != nil {
		a.slowed++
		a.inRound = true
	}
	a.mu.Unlock()
	return f
}

// newRound is called by the sequencer as each round starts.
func (a *slowAdd) newRound() {
	a.mu.Lock()
	a.firstOfRnd, a.inRound = nil, false
	a.mu.Unlock()
}

// The slowed path: rounds are closed on the starved Add (counted in
// slowRounds), never added to after it, and the log order is still the
// submission order.
func TestSizeCutRoundClosedWhenAddIsStarved(t *testing.T) {
	const round, maxAge = 16, 20 * time.Millisecond
	tl := newRealTessera(t, round, maxAge)
	sa := &slowAdd{tl: tl, slowEvery: 5}
	var failed atomic.Pointer[error]
	s := newSequencer(sa.add, round, maxAge, func(err error) { failed.Store(&err) })
	s.roundStart = sa.newRound
	order, futures := submitAll(s, 200, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	checkLogOrder(t, tl, order, futures)
	sa.mu.Lock()
	defer sa.mu.Unlock()
	if sa.slowed == 0 {
		t.Fatal("the slowed path never ran")
	}
	if got := s.slowRounds.Load(); got < uint64(sa.slowed) {
		t.Errorf("%d Adds returned after the timer fired, but only %d rounds were closed for it", sa.slowed, got)
	}
	if sa.afterSlow != 0 {
		t.Errorf("%d entries were added to a round after its starved Add", sa.afterSlow)
	}
	if p := failed.Load(); p != nil {
		t.Fatal(*p)
	}
	s.drain()
}
