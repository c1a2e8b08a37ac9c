package submit

import (
	"context"
	"encoding/base64"
	"slices"
	"sync"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/acdledger/acdledger/specs"
)

// order remembers which of a client's entries are still in flight, by the
// order in which they were started. A client that pipelines an agency's
// entries in an admissible order (seqs ascending, refs backward) may see
// one refused as early — its predecessor has not reached the server within
// the server's reorder wait, because the machine or the network is slow —
// although that predecessor is on its way from this very client. Such an
// entry is not wrong, only early: it is sent again once the entries it
// follows that this client started before it (its agency's, and those it
// refers to) have been answered (specs/http-api.md, "Ordering"). Waiting on
// those alone, not on every earlier entry, keeps one slow agency from
// holding up the others.
//
// An agency's own entries are ordered by their seqs, not by the order in
// which Add was called: a caller that pipelines seqs 5 and 6 from two
// goroutines may have 6 start first. If 5, refused as early, then waited
// for 6 (started before it) while the server held 6 for 5, neither would
// ever be answered. Seqs are a strict order, so waiting on lower seqs only
// can form no cycle. Refs keep the order of starting, for the same reason:
// an entry waits only for a named entry started before it.
type order struct {
	mu      sync.Mutex
	next    uint64
	pending map[uint64]*inFlight
}

type inFlight struct {
	agency, id string
	seq        uint64
	done       chan struct{}
}

// follows is what an entry may wait for: its agency and the ids it names.
type follows struct {
	agency string
	id     string
	seq    uint64
	refs   []string
}

// followsOf reads what an envelope's entry follows; an envelope it cannot
// read follows nothing (the server will say what is wrong with it).
//
// It reads only the payload's base64 and, in it, the four members it needs
// (go-json-experiment: names matched exactly, duplicate names refused, as
// the strict reader does), with no strict reading: specs.ReadEnvelope
// builds the whole document's tree, 39 µs an entry in a profile of append
// --server. The result is only the client's hint of whom to wait for
// before sending again, never a verdict: for an envelope the server admits
// it is what the strict reader gives (FuzzFollowsOf); one the strict reader
// refuses may still yield a hint, and the server then refuses it with the
// rule it breaks, as before.
func followsOf(envelope []byte) follows {
	payload, ok := peekPayload(envelope)
	if !ok {
		return follows{}
	}
	var h struct {
		ID     string   `json:"id"`
		Agency string   `json:"agency"`
		Seq    uint64   `json:"seq"`
		Refs   []string `json:"refs"`
	}
	if jsonv2.Unmarshal(payload, &h) != nil {
		return follows{}
	}
	return follows{agency: h.Agency, id: h.ID, seq: h.Seq, refs: h.Refs}
}

// peekPayload is the envelope's payload, base64-decoded (canonical
// padding, as the strict reader requires), without reading the rest.
func peekPayload(envelope []byte) ([]byte, bool) {
	var env struct {
		Payload string `json:"payload"`
	}
	if jsonv2.Unmarshal(envelope, &env) != nil {
		return nil, false
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(env.Payload)
	return payload, err == nil
}

// start registers an entry about to be sent; done must be called once it
// has its answer, whatever the answer.
func (o *order) start(f follows) (ticket uint64, done func()) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == nil {
		o.pending = map[uint64]*inFlight{}
	}
	ticket = o.next
	o.next++
	e := &inFlight{agency: f.agency, id: f.id, seq: f.seq, done: make(chan struct{})}
	o.pending[ticket] = e
	return ticket, func() {
		o.mu.Lock()
		delete(o.pending, ticket)
		o.mu.Unlock()
		close(e.done)
	}
}

// waitEarlier waits until every entry started before ticket that the
// entry follows (same agency, or named in its refs) has been answered. It
// reports whether there was any to wait for: if not, a refusal is the
// entry's own.
func (o *order) waitEarlier(ctx context.Context, ticket uint64, f follows) (bool, error) {
	if f.agency == "" {
		return false, nil
	}
	o.mu.Lock()
	var earlier []chan struct{}
	for t, e := range o.pending {
		if f.follows(t, ticket, e) {
			earlier = append(earlier, e.done)
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

// anyEarlier says whether an entry started before ticket that this one
// follows is still unanswered. Asked before each send: if one was, a
// refusal as early may be because of it even when it is answered by the
// time the refusal arrives (it got in just after the server gave up
// waiting), so the entry is sent once more.
func (o *order) anyEarlier(ticket uint64, f follows) bool {
	if f.agency == "" {
		return false
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for t, e := range o.pending {
		if f.follows(t, ticket, e) {
			return true
		}
	}
	return false
}

// follows says whether the entry with this ticket may have to wait for e,
// started with ticket t: e is its agency's with a lower seq (seq 0, from an
// entry whose seq could not be read, falls back to the order of starting),
// or e is named in its refs and was started before it.
func (f follows) follows(t, ticket uint64, e *inFlight) bool {
	if t == ticket {
		return false
	}
	if e.agency == f.agency {
		if e.seq != 0 && f.seq != 0 {
			return e.seq < f.seq
		}
		return t < ticket
	}
	return t < ticket && slices.Contains(f.refs, e.id)
}

// early says whether a refusal may only mean that the entry came before
// entries it follows: a seq ahead of the agency's, or a ref not yet in the
// log.
func early(e *RefusedError) bool {
	return e.Code == specs.RuleSeq || e.Code == specs.RuleRefUnknown
}
