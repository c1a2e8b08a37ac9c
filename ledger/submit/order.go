package submit

import (
	"context"
	"sync"
)

// order remembers which of a client's entries are still in flight, by the
// order in which they were started. A client that pipelines an agency's
// entries in an admissible order (seqs ascending, refs backward) may see
// one refused as early — its predecessor has not reached the server within
// the server's reorder wait, because the machine or the network is slow —
// although that predecessor is on its way from this very client. Such an
// entry is not wrong, only early: it is sent again once every entry
// started before it has been answered (specs/http-api.md, "Ordering").
type order struct {
	mu      sync.Mutex
	next    uint64
	pending map[uint64]chan struct{}
}

// start registers an entry about to be sent; done must be called once it
// has its answer, whatever the answer.
func (o *order) start() (ticket uint64, done func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == nil {
		o.pending = map[uint64]chan struct{}{}
	}
	ticket = o.next
	o.next++
	ch := make(chan struct{})
	o.pending[ticket] = ch
	return ticket, func() {
		o.mu.Lock()
		delete(o.pending, ticket)
		o.mu.Unlock()
		close(ch)
	}
}

// waitEarlier waits until every entry started before ticket has been
// answered. It reports whether there was any to wait for: if not, a
// refusal is the entry's own.
func (o *order) waitEarlier(ctx context.Context, ticket uint64) (bool, error) {
	o.mu.Lock()
	var earlier []chan struct{}
	for t, ch := range o.pending {
		if t < ticket {
			earlier = append(earlier, ch)
		}
	}
	o.mu.Unlock()
	for _, ch := range earlier {
		select {
		case <-ch:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return len(earlier) > 0, nil
}

// early says whether a refusal may only mean that the entry came before
// entries it follows: a seq ahead of the agency's, or a ref not yet in the
// log.
func early(e *RefusedError) bool {
	return e.Code == "seq.order" || e.Code == "refs.unknown"
}
