package ledger

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

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
// its seq 22 in the log. The sequencer therefore makes every round exactly
// one Tessera batch, and keeps one round in flight at a time: there is then
// never a second batch to overtake the first.
//
// How a round is one batch (Tessera's batch size is maxRound and
// its timer maxAge; both drivers). Facts of queue.go relied on:
//
//  1. The Add that finds the queue empty starts the batch timer; the timer
//     fires no earlier than maxAge after that Add began (time.AfterFunc never
//     fires early), and only a fired timer cuts a batch from another
//     goroutine.
//  2. The Add that brings the queue to maxSize cuts the batch itself, under
//     the queue's lock, stops the timer, and sends the batch to the worker
//     before it returns.
//  3. A batch's futures resolve only after the worker has written it.
//
// A round starts with Tessera's queue empty (the previous round's futures
// all resolved, and nothing else adds to this appender). The sequencer notes
// the monotonic clock t0 before the round's first Add and adds entries only
// while it can prove, by reading the clock after each Add returns, that the
// Add was done before t0+maxAge: before the timer could have fired, so the
// entry joined the batch that Add started (fact 1). It stops adding at
// t0+maxAge/2 at the latest (the margin keeps a preempted Add from crossing
// the line), or when the round reaches maxRound entries. Then either:
//
//   - the round has maxRound entries: its last Add cut it (fact 2) at a time
//     proven before the timer's earliest firing, so Stop caught the timer: no
//     stale timer is left to cut part of the next round;
//   - it has fewer: nothing can cut it but its own timer, which takes the
//     whole round (every entry was added before it could fire) and nothing
//     else (the next round waits for this one's futures, fact 3).
//
// So a round under load is written as soon as it is full, not when the timer
// fires (rounds cut by size), and a quiet round waits the timer as before,
// taking in whatever is admitted meanwhile until t0+maxAge/2. If an Add is
// ever found to have returned after t0+maxAge (the goroutine was starved for
// maxAge/2 inside one Add), the entry may have started a second batch: the
// round is closed there and counted in slowRounds, and the order check below
// remains the backstop for that one case.
//
// The AWS driver relies on the same three facts, checked in Tessera v1.0.4's
// source: storage/aws/aws.go builds its appender on the same queue
// (newAppender: storage.NewQueue(ctx, BatchMaxAge, BatchMaxSize,
// seq.assignEntries)) and its Add is that queue's Add, so facts 1 and 2 are
// queue.go's own; its flush function, assignEntries, assigns the batch's
// indices in one database transaction (SeqCoord's next, the batch into Seq)
// and the futures resolve only after it returns (fact 3: "written" is then
// sequenced in the database; integration into the tree follows later, which
// the sequencer does not wait for on either driver). Tessera's Add
// decorators (antispam, the entry size limit) may answer an Add without
// queueing it, which only makes a round's batch smaller, as on POSIX.
//
// Every round's indices are checked to rise in admission order; if they
// ever did not, the ledger stops admitting (see Ledger.fail) rather than
// grow a log whose order breaks the rules.
type sequencer struct {
	add      func(context.Context, *tessera.Entry) tessera.IndexFuture
	maxRound int
	maxAge   time.Duration // Tessera's batch timer
	onError  func(error)
	now      func() time.Time // the clock the proof above reads (time.Now)

	// onRound, when set, is given each round once all its indices are
	// known, before any of its futures resolves: the ledger records the
	// whole round's indices in its admission state under one lock (see
	// Ledger.recordRound), so no entry stays "pending" for want of a caller
	// asking its Index, and an Index caller takes no lock.
	onRound func(round []*seqItem)

	roundStart func() // tests only: called as each size-cut round starts

	mu      sync.Mutex
	queue   []*seqItem
	busy    bool          // a round is being sequenced
	wake    chan struct{} // capacity 1: something was queued
	idle    *sync.Cond    // signalled when the queue is empty and no round runs
	stopped error         // set once the sequencer stops; later submissions fail with it

	slowRounds atomic.Uint64 // rounds closed early because an Add returned after t0+maxAge
	fullRounds atomic.Uint64 // rounds cut by size (maxRound entries)
}

type seqItem struct {
	entry *tessera.Entry
	id    string // the entry's id, for onRound ("" when not needed)
	done  chan struct{}
	idx   tessera.Index
	err   error
}

// newSequencer sequences rounds cut by size: Tessera's batching must be
// exactly WithBatching(maxRound, maxAge), and nothing else may add to that
// appender (see sequencer).
func newSequencer(add func(context.Context, *tessera.Entry) tessera.IndexFuture, maxRound int, maxAge time.Duration, onError func(error)) *sequencer {
	s := &sequencer{add: add, maxRound: maxRound, maxAge: maxAge, onError: onError, now: time.Now, wake: make(chan struct{}, 1)}
	s.idle = sync.NewCond(&s.mu)
	return s
}

// submit queues one leaf, the entry with this id. Callers hold the
// admission lock, so the queue's order is the admission order.
func (s *sequencer) submit(leaf []byte, id string) tessera.IndexFuture {
	return s.submitEntry(tessera.NewEntry(leaf), id)
}

// submitEntry is submit of an entry made before: tessera.NewEntry hashes
// the leaf twice, work best done before the admission lock is taken.
func (s *sequencer) submitEntry(e *tessera.Entry, id string) tessera.IndexFuture {
	it := &seqItem{entry: e, id: id, done: make(chan struct{})}
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
		s.busy = true
		s.mu.Unlock()
		s.sizeCutRound(ctx)
	}
}

// take removes up to n items from the head of the queue. s.mu is held.
func (s *sequencer) take(n int) []*seqItem {
	n = min(len(s.queue), n)
	round := s.queue[:n:n]
	s.queue = s.queue[n:]
	return round
}

// sizeCutRound hands one round to Tessera as one batch, as the sequencer's
// comment proves, and resolves it.
func (s *sequencer) sizeCutRound(ctx context.Context) {
	round := make([]*seqItem, 0, s.maxRound)
	futures := make([]tessera.IndexFuture, 0, s.maxRound)
	t0 := s.now()
	safe := t0.Add(s.maxAge)        // an Add returned before this joined the round's batch
	closeAt := t0.Add(s.maxAge / 2) // no Add starts after this
	if s.roundStart != nil {
		s.roundStart()
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
fill:
	for {
		s.mu.Lock()
		batch := s.take(s.maxRound - len(round))
		s.mu.Unlock()
		for i, it := range batch {
			if !s.now().Before(closeAt) {
				s.requeue(batch[i:])
				break fill
			}
			futures = append(futures, s.add(ctx, it.entry))
			round = append(round, it)
			if !s.now().Before(safe) {
				// Starved inside Add: this entry may have started a
				// second batch. Close the round on it (see sequencer).
				s.slowRounds.Add(1)
				s.requeue(batch[i+1:])
				break fill
			}
		}
		if len(round) == s.maxRound {
			s.fullRounds.Add(1)
			break
		}
		// Partial: Tessera's timer will cut it; until closeAt it takes in
		// what is admitted meanwhile.
		wait := closeAt.Sub(s.now())
		if wait <= 0 {
			break
		}
		if timer == nil {
			timer = time.NewTimer(wait)
		} else {
			timer.Reset(wait)
		}
		select {
		case <-s.wake:
		case <-timer.C:
			break fill
		case <-ctx.Done():
			break fill
		}
	}
	s.resolve(round, futures)
}

// requeue puts items taken for a round back at the head of the queue.
func (s *sequencer) requeue(items []*seqItem) {
	if len(items) == 0 {
		return
	}
	s.mu.Lock()
	s.queue = append(items[:len(items):len(items)], s.queue...)
	s.mu.Unlock()
}

// resolve waits for a round's indices and checks that they rise in
// admission order. With onRound the round's futures resolve together, after
// onRound has recorded them (a round is one Tessera batch on POSIX, whose
// futures resolve together anyway); without, each as soon as it is known.
func (s *sequencer) resolve(round []*seqItem, futures []tessera.IndexFuture) {
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
		if s.onRound == nil {
			close(it.done)
		}
	}
	if s.onRound != nil {
		s.onRound(round)
		for _, it := range round {
			close(it.done)
		}
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
