package ledger

import (
	"context"
	"errors"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// AppendInOrder appends one envelope like Append, but tolerates arriving a
// little early: if its seq is ahead of the agency's next one, or it refers
// to an entry not yet in the log, it waits up to maxWait for those entries
// to be admitted before giving the verdict. Clients sending one agency's
// entries concurrently over a network can thus pipeline them, although
// requests overtake each other on the way.
func (l *Ledger) AppendInOrder(ctx context.Context, envelope []byte, maxWait time.Duration) (*Pending, error) {
	admitted, err := l.registry.VerifyBatch([][]byte{envelope})
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(maxWait)
	for {
		l.mu.Lock()
		changed := l.changed
		l.mu.Unlock()
		ps, early, err := l.admit(ctx, admitted)
		if err == nil {
			return ps[0], nil
		}
		left := time.Until(deadline)
		if left <= 0 || !early {
			return nil, err
		}
		t := time.NewTimer(left)
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, err
		}
		t.Stop()
	}
}

// mayBeEarly tells a refusal that the arrival of other entries could turn
// into an admission: a seq ahead of the expected one, or an unknown ref.
// The caller holds l.mu.
func (l *Ledger) mayBeEarly(err error, e *specs.Entry) bool {
	var v *specs.Violation
	if !errors.As(err, &v) {
		return false
	}
	switch v.Rule {
	case specs.RuleRefUnknown:
		return true
	case specs.RuleSeq:
		return e.Seq > l.state.LastSeq(e.Agency)+1
	}
	return false
}
