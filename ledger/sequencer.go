package ledger

import (
	"context"
	"fmt"
	"sync"

	"github.com/transparency-dev/tessera"
)

// sequencer hands admitted entries to Tessera one round at a time, in
// admission order, and starts a round only once the previous one has its
// indices.
//
// Why: the log's order must be the admission order (each agency's seqs run
// 1, 2, 3 in log order; refs point backwards), but Tessera's batch queue
// (storage/internal/queue.go in v1.0.4) hands a full or timed-out batch to
// its single flush worker *after* releasing its lock, so two batches cut
// at nearly the same time — one by its timer, one by size — can reach the
// worker in either order. Under load that put an agency's seq 26 before
// its seq 22 in the log. With one round in flight at a time, and rounds
// kept below Tessera's size limit so that only the round's own timer cuts
// it, there is never a second batch to overtake the first. Each round still
// carries everything admitted while the previous one was being written, so
// throughput stays with the batch size, not with the number of rounds.
//
// Every round's indices are checked to rise in admission order; if they
// ever did not, the ledger stops admitting (see Ledger.fail) rather than
// grow a log whose order breaks the rules.
type sequencer struct {
	add      func(context.Context, *tessera.Entry) tessera.IndexFuture
	maxRound int
	onError  func(error)

	mu      sync.Mutex
	queue   []*seqItem
	busy    bool          // a round is being sequenced
	wake    chan struct{} // capacity 1: something was queued
	idle    *sync.Cond    // signalled when the queue is empty and no round runs
	stopped error         // set once the sequencer stops; later submissions fail with it
}

type seqItem struct {
	entry *tessera.Entry
	done  chan struct{}
	idx   tessera.Index
	err   error
}

func newSequencer(add func(context.Context, *tessera.Entry) tessera.IndexFuture, maxRound int, onError func(error)) *sequencer {
	s := &sequencer{add: add, maxRound: maxRound, onError: onError, wake: make(chan struct{}, 1)}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// submit queues one leaf. Callers hold the admission lock, so the queue's
// order is the admission order.
func (s *sequencer) submit(leaf []byte) tessera.IndexFuture {
	it := &seqItem{entry: tessera.NewEntry(leaf), done: make(chan struct{})}
	s.mu.Lock()
	if s.stopped != nil {
		it.err = s.stopped
		close(it.done)
	} else {
		s.queue = append(s.queue, it)
	}
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return func() (tessera.Index, error) {
		<-it.done
		return it.idx, it.err
	}
}

// run sequences rounds until ctx ends; what is still queued then fails.
func (s *sequencer) run(ctx context.Context) {
	for {
		if err := ctx.Err(); err != nil {
			s.stop(err)
			return
		}
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.busy = false
			s.idle.Broadcast()
			s.mu.Unlock()
			select {
			case <-ctx.Done():
				s.stop(ctx.Err())
				return
			case <-s.wake:
				continue
			}
		}
		n := min(len(s.queue), s.maxRound)
		round := s.queue[:n:n]
		s.queue = s.queue[n:]
		s.busy = true
		s.mu.Unlock()
		s.sequence(ctx, round)
	}
}

func (s *sequencer) sequence(ctx context.Context, round []*seqItem) {
	futures := make([]tessera.IndexFuture, len(round))
	for i, it := range round {
		futures[i] = s.add(ctx, it.entry)
	}
	var last *uint64
	for i, it := range round {
		it.idx, it.err = futures[i]()
		if it.err == nil && !it.idx.IsDup {
			if last != nil && it.idx.Index <= *last {
				it.err = fmt.Errorf("tessera sequenced an entry at index %d after one at %d: the log's order differs from the admission order", it.idx.Index, *last)
				s.onError(it.err)
			}
			last = &it.idx.Index
		}
		close(it.done)
	}
}

// stop fails everything queued and every later submission with err.
func (s *sequencer) stop(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopped = fmt.Errorf("ledger closed before the entry was sequenced: %w", err)
	for _, it := range s.queue {
		it.err = s.stopped
		close(it.done)
	}
	s.queue = nil
	s.busy = false
	s.idle.Broadcast()
}

// drain waits until everything submitted so far has been handed to
// Tessera and sequenced.
func (s *sequencer) drain() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for (len(s.queue) > 0 || s.busy) && s.stopped == nil {
		s.idle.Wait()
	}
}
