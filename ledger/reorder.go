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
// to an entry not yet in the log, it waits for those entries to be
// admitted before giving the verdict: up to maxWait for a ref, and for a
// seq as long as its agency makes progress (maxWait without any). Clients sending one agency's
// entries concurrently over a network can thus pipeline them, although
// requests overtake each other on the way.
func (l *Ledger) AppendInOrder(ctx context.Context, envelope []byte, maxWait time.Duration) (*Pending, error) {
	a, err := l.verifyOne(envelope)
	if err != nil {
		return nil, err
	}
	return l.admitInOrder(ctx, a, maxWait)
}

// verifyOne runs the stateless rules (signature, schema, content) on one
// submission in the caller's goroutine: VerifyBatch would hand a single
// envelope to a goroutine of its own, a hand-off (and a fresh stack grown
// for the schema validator) per HTTP request. The error is VerifyBatch's.
func (l *Ledger) verifyOne(raw []byte) (*specs.Admitted, error) {
	a, err := l.currentRegistry().VerifySubmitted(raw)
	if err != nil {
		return nil, &specs.BatchError{Position: 0, Err: err}
	}
	return a, nil
}

// Submission is what Submit did with one envelope: admitted it now
// (Pending), or found it already in the log (Existing: a retry, at Index).
type Submission struct {
	Pending  *Pending // nil for a retry
	Existing bool
	Index    uint64 // a retry's index
	EntryID  string
	leaf     []byte // a retry's leaf as logged
}

// Submit is one agency submission as the HTTP server takes it, with the
// envelope read and verified once: verify → a retry of an entry the log
// already holds? (its place; see Existing for what counts as the same
// entry) → admit in order (AppendInOrder) → sequence. A submission that
// fails verification may still be a retry of a logged entry (its key
// since retired): it is then looked up by its exact bytes, as Existing
// does, before the verdict is given.
func (l *Ledger) Submit(ctx context.Context, raw []byte, maxWait time.Duration) (*Submission, error) {
	a, verr := l.verifyOne(raw)
	if verr != nil {
		env, id, ok := readSubmission(raw)
		if !ok {
			return nil, verr
		}
		idx, leaf, found, err := l.logged(ctx, id, env.Raw, func([]byte) bool { return false })
		switch {
		case err != nil:
			return nil, err
		case found:
			return &Submission{Existing: true, Index: idx, EntryID: id, leaf: leaf}, nil
		}
		return nil, verr
	}
	id := a.Entry.ID
	idx, leaf, found, err := l.logged(ctx, id, a.Envelope.Raw, func(leaf []byte) bool { return sameVerified(leaf, a) })
	switch {
	case err != nil:
		return nil, err
	case found:
		return &Submission{Existing: true, Index: idx, EntryID: id, leaf: leaf}, nil
	}
	p, err := l.admitInOrder(ctx, a, maxWait)
	if err != nil {
		return nil, err
	}
	return &Submission{Pending: p, EntryID: id}, nil
}

// ExistingReceipt is the receipt of a retry that Submit found in the log,
// once a published checkpoint covers it.
func (l *Ledger) ExistingReceipt(ctx context.Context, s *Submission) (*Receipt, error) {
	r, _, err := l.existingReceipt(ctx, s.Index, s.leaf, s.EntryID)
	return r, err
}

// admitInOrder is AppendInOrder after verification.
func (l *Ledger) admitInOrder(ctx context.Context, a *specs.Admitted, maxWait time.Duration) (*Pending, error) {
	admitted := []*specs.Admitted{a}
	if l.shared != nil {
		// Held in memory and admitted in order, in rounds (holdQueue).
		return l.hold.admit(ctx, a, maxWait)
	}
	e := admitted[0].Entry
	deadline := time.Now().Add(maxWait)
	// The wait is bounded by progress, not by the clock: an entry whose
	// agency's seq keeps advancing (its predecessors are being admitted)
	// keeps waiting; it is refused only
	// once maxWait passes with no admission of that agency. A client with
	// hundreds of an agency's entries in flight on a slow storage is thus
	// never refused for being far ahead (specs/http-api.md, "Ordering").
	var lastSeen uint64
	seenOK := false
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
		if early == notEarly {
			return nil, err
		}
		if early == seqAhead && !seenOK {
			// Where the agency stood when this entry was first found early.
			if now, lerr := l.agencyProgress(ctx, e.Agency); lerr == nil {
				lastSeen, seenOK = now, true
			}
		}
		left := time.Until(deadline)
		if left <= 0 && early == seqAhead && seenOK {
			if now, lerr := l.agencyProgress(ctx, e.Agency); lerr == nil && now > lastSeen && now < e.Seq {
				lastSeen = now
				deadline = time.Now().Add(maxWait)
				left = maxWait
			}
		}
		if left <= 0 {
			return nil, err
		}
		// Wait only for what can help: an early seq for the admission of
		// the seq just before it (so a thousand pipelined entries do not all
		// wake at every admission), a missing ref for any admission.
		wake := anyAdmitted
		if early == seqAhead {
			wake = predecessor
		}
		t := time.NewTimer(left)
		select {
		case <-wake:
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

// agencyProgress is the agency's last admitted seq, in whichever state
// admission uses (local, or the shared database).
func (l *Ledger) agencyProgress(ctx context.Context, agency string) (uint64, error) {
	if l.shared != nil {
		return l.shared.lastSeq(ctx, agency)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.state.LastSeq(agency), nil
}
