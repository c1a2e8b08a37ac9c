package ledger

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
)

// scriptedTessera stands in for Tessera's Add in these unit tests of the
// sequencer alone: it records which entries were added while a round was
// still open, and resolves a round only when the test says so, with the
// indices the test chooses.
type scriptedTessera struct {
	mu      sync.Mutex
	added   []string
	release chan []uint64 // one message per round: the indices to give, in Add order
	pending []func(uint64)
}

func (s *scriptedTessera) add(_ context.Context, e *tessera.Entry) tessera.IndexFuture {
	done := make(chan uint64, 1)
	s.mu.Lock()
	s.added = append(s.added, string(e.Data()))
	s.pending = append(s.pending, func(i uint64) { done <- i })
	s.mu.Unlock()
	return func() (tessera.Index, error) { return tessera.Index{Index: <-done}, nil }
}

// resolve gives the added-but-unresolved entries these indices.
func (s *scriptedTessera) resolve(idx ...uint64) {
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	for i, f := range p {
		f(idx[i])
	}
}

func (s *scriptedTessera) addedCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.added)
}

// newTestSequencer is a sequencer for a scripted Tessera, whose Adds are
// instant: its clock stands still, so that no round is ever taken for
// starved (slowRounds) on a busy machine, and a partial round closes after
// the real half-timer (10 ms).
func newTestSequencer(add func(context.Context, *tessera.Entry) tessera.IndexFuture, maxRound int, onError func(error)) *sequencer {
	s := newSequencer(add, maxRound, 20*time.Millisecond, onError)
	t0 := time.Now()
	s.now = func() time.Time { return t0 }
	return s
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// A second round is not handed to Tessera before the first has its
// indices, whatever is submitted meanwhile, and rounds keep the order.
func TestSequencerOneRoundInFlight(t *testing.T) {
	st := &scriptedTessera{}
	var failed error
	s := newTestSequencer(st.add, 3, func(err error) { failed = err })
	// All five are queued before the sequencer starts, so its first round
	// is exactly maxRound entries (a round takes what is queued).
	var futures []tessera.IndexFuture
	for i := range 5 {
		futures = append(futures, s.submit([]byte(fmt.Sprint("e", i)), ""))
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.run(ctx)
	waitFor(t, func() bool { return st.addedCount() == 3 }) // the first round: maxRound entries
	time.Sleep(20 * time.Millisecond)
	if n := st.addedCount(); n != 3 {
		t.Fatalf("%d entries handed to Tessera while the first round of 3 was unsequenced", n)
	}
	st.resolve(0, 1, 2)
	waitFor(t, func() bool { return st.addedCount() == 5 })
	st.resolve(3, 4)
	for i, f := range futures {
		idx, err := f()
		if err != nil || idx.Index != uint64(i) {
			t.Fatalf("entry %d: index %d, %v", i, idx.Index, err)
		}
	}
	if want := []string{"e0", "e1", "e2", "e3", "e4"}; fmt.Sprint(st.added) != fmt.Sprint(want) {
		t.Fatalf("added %v, want %v", st.added, want)
	}
	if failed != nil {
		t.Fatal(failed)
	}
	s.drain()
}

// If Tessera ever gave a round's entries indices out of admission order,
// the entry is failed and the ledger told to stop admitting.
func TestSequencerDetectsReordering(t *testing.T) {
	st := &scriptedTessera{}
	reported := make(chan error, 2)
	s := newTestSequencer(st.add, 8, func(err error) { reported <- err })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a, b := s.submit([]byte("a"), ""), s.submit([]byte("b"), "") // queued first: one round of two
	go s.run(ctx)
	waitFor(t, func() bool { return st.addedCount() == 2 })
	st.resolve(7, 6)
	if _, err := a(); err != nil {
		t.Fatalf("first entry: %v", err)
	}
	if _, err := b(); err == nil {
		t.Fatal("an entry sequenced before its predecessor was not failed")
	}
	select {
	case err := <-reported:
		if err == nil {
			t.Fatal("nil report")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reordering not reported")
	}
}

// Closing fails what was never handed to Tessera, and later submissions.
func TestSequencerStop(t *testing.T) {
	st := &scriptedTessera{}
	s := newTestSequencer(st.add, 1, func(error) {})
	ctx, cancel := context.WithCancel(context.Background())
	first, second := s.submit([]byte("a"), ""), s.submit([]byte("b"), "")
	go s.run(ctx)
	waitFor(t, func() bool { return st.addedCount() == 1 })
	cancel()
	st.resolve(0)
	if _, err := first(); err != nil {
		t.Fatalf("the round in flight: %v", err)
	}
	if _, err := second(); err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("queued entry after close: %v", err)
	}
	if _, err := s.submit([]byte("c"), "")(); err == nil {
		t.Fatal("a submission after close succeeded")
	}
}
