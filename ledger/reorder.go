package ledger

import (
	"context"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// earliness says why a refused entry might yet be admitted.
type earliness int

const (
	notEarly   earliness = iota
	seqAhead             // its seq is ahead of its agency's next one
	refMissing           // it refers to an entry not yet in the log
)

// AppendInOrder appends one envelope like Append, but tolerates arriving a
// little early: if its seq is ahead of the agency's next one, or it refers
// to an entry not yet in the log, it waits up to maxWait for those entries
// to be admitted before giving the verdict. Clients sending one agency's
// entries concurrently over a network can thus pipeline them, although
// requests overtake each other on the way.
func (l *Ledger) AppendInOrder(ctx context.Context, envelope []byte, maxWait time.Duration) (*Pending, error) {
	admitted, err := l.currentRegistry().VerifyBatch([][]byte{envelope})
	if err != nil {
		return nil, err
	}
	e := admitted[0].Entry
	deadline := time.Now().Add(maxWait)
	pollEvery := sharedPoll / 10
	for {
		// Take the channels before the check, so an admission between the
		// check and the wait still wakes this one.
		l.mu.Lock()
		anyAdmitted, predecessor := l.changed, l.seqChan(e.Agency, e.Seq-1)
		l.mu.Unlock()
		ps, early, err := l.admit(ctx, admitted)
		if err == nil {
			return ps[0], nil
		}
		left := time.Until(deadline)
		if left <= 0 || early == notEarly {
			return nil, err
		}
		// Wait only for what can help: an early seq for the admission of
		// the seq just before it (so a thousand pipelined entries do not all
		// wake at every admission), a missing ref for any admission.
		wake := anyAdmitted
		if early == seqAhead {
			wake = predecessor
		}
		// With shared admission state the entry waited for may come through
		// another frontend, which sends no wake-up here: look again soon.
		var poll <-chan time.Time
		if l.shared != nil {
			poll = time.After(pollEvery)
			pollEvery = min(pollEvery*3/2, sharedPoll)
		}
		t := time.NewTimer(left)
		select {
		case <-wake:
		case <-poll:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		t.Stop()
	}
}

type agencySeq struct {
	agency string
	seq    uint64
}

// seqChan is closed when the agency's entry with that seq is admitted.
// l.mu is held.
func (l *Ledger) seqChan(agency string, seq uint64) chan struct{} {
	k := agencySeq{agency, seq}
	ch := l.advanced[k]
	if ch == nil {
		ch = make(chan struct{})
		l.advanced[k] = ch
	}
	return ch
}

// signalAdmitted wakes the waiters that an admission of these entries can
// help. l.mu is held.
func (l *Ledger) signalAdmitted(admitted []*specs.Admitted) {
	close(l.changed)
	l.changed = make(chan struct{})
	for _, a := range admitted {
		k := agencySeq{a.Entry.Agency, a.Entry.Seq}
		if ch := l.advanced[k]; ch != nil {
			close(ch)
			delete(l.advanced, k)
		}
	}
}

// mayBeEarly tells a refusal that the arrival of other entries could turn
// into an admission. l.mu is held, so the verdict and this judgement see
// the same state.
func (l *Ledger) mayBeEarly(err error, e *specs.Entry) earliness {
	return earlinessOf(err, e, l.state.LastSeq(e.Agency))
}
