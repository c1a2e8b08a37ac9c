package ledger

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// holdQueue holds the single entries that come in over HTTP on the shared
// storage (AppendInOrder), early ones included, and admits them in order,
// many per database transaction, from one goroutine per frontend.
//
// Why: admitting each request on its own costs about ten database round
// trips, serialised per agency by its row lock, and an early entry used
// to look again at the database every few hundred milliseconds; with a
// client's 256 requests in flight per agency, those looks took the
// connections Tessera's own sequencer and integrator need, the log
// stalled, and entries that were only early ran out of their reorder wait
// and were refused. Here an early entry waits in memory for its agency's
// previous seq, exactly as on POSIX; one query per round tells every
// waiting agency's progress (also through other frontends), and each
// round reserves, for every agency, the run of held entries that follows
// its last admitted seq in one transaction (shared.reserve), so the round
// trips are per round, not per entry.
type holdQueue struct {
	l    *Ledger
	wake chan struct{} // capacity 1

	mu      sync.Mutex
	held    map[agencySeq]*holder
	stopped bool

	prev   map[string]uint64 // each agency's last seq at the previous round (admitter goroutine only)
	rounds uint64
}

type holder struct {
	a        *specs.Admitted
	deadline time.Time // refused (with the verdict of that moment) once passed with no progress of its agency
	maxWait  time.Duration
	taken    bool              // the admitter is deciding it; the waiter must wait for res
	refWait  bool              // its last try found a ref not yet in the log (admitter goroutine only)
	res      chan holderResult // capacity 1
}

type holderResult struct {
	p   *Pending
	err error
}

// holdPoll is how often the admitter looks at the shared state while
// entries are held (for predecessors admitted through other frontends).
const holdPoll = 20 * time.Millisecond

// holdGather is the pause between rounds that did not admit everything
// at once: what arrives meanwhile joins the next round.
const holdGather = 5 * time.Millisecond

// holdRoundMax bounds the entries reserved in one transaction.
const holdRoundMax = 512

func newHoldQueue(l *Ledger) *holdQueue {
	return &holdQueue{l: l, wake: make(chan struct{}, 1), held: map[agencySeq]*holder{}, prev: map[string]uint64{}}
}

// admit queues one verified entry and waits for its verdict.
func (q *holdQueue) admit(ctx context.Context, a *specs.Admitted, maxWait time.Duration) (*Pending, error) {
	k := agencySeq{a.Entry.Agency, a.Entry.Seq}
	h := &holder{a: a, deadline: time.Now().Add(maxWait), maxWait: maxWait, res: make(chan holderResult, 1)}
	q.mu.Lock()
	if q.stopped {
		q.mu.Unlock()
		return nil, errors.New("ledger closing")
	}
	if _, dup := q.held[k]; dup {
		// The same seq is already held (a client's retry, or two entries
		// claiming one seq): this one gets its verdict at once, which is
		// that of the state now (in flight, duplicate, or seq.order).
		q.mu.Unlock()
		ps, _, err := q.l.admit(ctx, []*specs.Admitted{a})
		if err != nil {
			return nil, err
		}
		return ps[0], nil
	}
	q.held[k] = h
	q.mu.Unlock()
	q.poke()
	select {
	case r := <-h.res:
		return r.p, r.err
	case <-ctx.Done():
	}
	q.mu.Lock()
	if !h.taken {
		delete(q.held, k)
		q.mu.Unlock()
		return nil, ctx.Err()
	}
	q.mu.Unlock()
	r := <-h.res // being admitted right now: the verdict comes shortly
	return r.p, r.err
}

func (q *holdQueue) poke() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// run admits rounds until ctx ends; what is still held then is answered
// with an error (nothing of it was admitted).
func (q *holdQueue) run(ctx context.Context) {
	t := time.NewTicker(holdPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			q.mu.Lock()
			q.stopped = true
			for k, h := range q.held {
				if !h.taken {
					h.res <- holderResult{err: errors.New("ledger closing: the entry was not admitted; send it again")}
					delete(q.held, k)
				}
			}
			q.mu.Unlock()
			return
		case <-q.wake:
		case <-t.C:
		}
		for q.round(ctx) {
		}
		// Let arrivals gather for a moment: every arriving request wakes
		// the admitter, and a round per arrival would cost a progress read
		// per entry (make bench showed about one round trip per entry
		// from that alone).
		time.Sleep(holdGather)
	}
}

// round runs one admission round; it reports whether it admitted anything
// (another round may then admit more at once).
func (q *holdQueue) round(ctx context.Context) bool {
	q.mu.Lock()
	if len(q.held) == 0 {
		q.mu.Unlock()
		return false
	}
	agencies := map[string]bool{}
	for k := range q.held {
		agencies[k.agency] = true
	}
	q.mu.Unlock()
	names := make([]string, 0, len(agencies))
	for a := range agencies {
		names = append(names, a)
	}
	slices.Sort(names)
	view, err := q.l.shared.progress(ctx, names, q.l.handedOver)
	if err != nil {
		if ctx.Err() == nil {
			q.l.shared.log.Warn("reading admission progress", "err", err)
		}
		return false
	}
	advanced := map[string]bool{}
	for _, a := range names {
		if last, ok := q.prev[a]; ok && view[a].last > last {
			advanced[a] = true
		}
		q.prev[a] = view[a].last
	}
	now := time.Now()
	q.mu.Lock()
	var batch, late, expired []*holder
	q.rounds++
	for _, a := range names {
		v := view[a]
		for s := v.last + 1; len(batch) < holdRoundMax; s++ {
			h := q.held[agencySeq{a, s}]
			if h == nil || v.pendingRemote {
				break
			}
			// An entry that waits for a ref (possibly coming through
			// another frontend, which sends no word) is tried again every
			// fifth round only, so that it does not make every round's
			// batch fail and be admitted one by one.
			if h.refWait && len(advanced) == 0 && q.rounds%5 != 0 {
				break
			}
			batch = append(batch, h)
		}
	}
	for k, h := range q.held {
		v := view[k.agency]
		switch {
		case k.seq <= v.last:
			late = append(late, h) // a seq already admitted: its verdict is the state's
		case advanced[k.agency]:
			h.deadline = now.Add(h.maxWait) // its agency moved on: keep waiting
		case now.After(h.deadline) && !slices.Contains(batch, h):
			expired = append(expired, h)
		}
	}
	for _, h := range batch {
		h.taken = true
	}
	for _, h := range late {
		h.taken = true
	}
	for _, h := range expired {
		h.taken = true
	}
	q.mu.Unlock()

	// One transaction for the whole round; should any entry of it be
	// refused (all or nothing), the round is admitted one by one, each
	// agency stopping at its first refusal, so every entry gets its own
	// verdict and the early ones stay held.
	admitted := false
	if len(batch) > 0 {
		as := make([]*specs.Admitted, len(batch))
		for i, h := range batch {
			as[i] = h.a
		}
		ps, _, err := q.l.admit(ctx, as)
		if err == nil {
			for i, h := range batch {
				q.answer(h, ps[i], nil)
			}
			admitted = true
		} else {
			blocked := map[string]bool{}
			for _, h := range batch {
				if blocked[h.a.Entry.Agency] {
					q.release(h)
					continue
				}
				ps, early, err := q.l.admit(ctx, []*specs.Admitted{h.a})
				switch {
				case err == nil:
					q.answer(h, ps[0], nil)
					admitted = true
				case time.Now().After(h.deadline):
					blocked[h.a.Entry.Agency] = true
					q.answer(h, nil, err)
				case early != notEarly || errors.Is(err, ErrNotYetSequenced) || isTransient(err):
					h.refWait = early == refMissing
					// Early, or the database or Tessera busy for a moment:
					// it keeps its place for the next round.
					blocked[h.a.Entry.Agency] = true
					q.release(h)
				default:
					blocked[h.a.Entry.Agency] = true
					q.answer(h, nil, err)
				}
			}
		}
	}
	for _, h := range append(late, expired...) {
		ps, _, err := q.l.admit(ctx, []*specs.Admitted{h.a})
		if err != nil {
			q.answer(h, nil, err)
		} else {
			q.answer(h, ps[0], nil)
			admitted = true
		}
	}
	return admitted
}

// isTransient says an admission failed for a reason of the moment, not of
// the entry: the request may be admitted by the next round.
func isTransient(err error) bool {
	var v *specs.Violation
	if errors.As(err, &v) {
		return false
	}
	return !strings.HasPrefix(err.Error(), "integrity")
}

func (q *holdQueue) answer(h *holder, p *Pending, err error) {
	q.mu.Lock()
	delete(q.held, agencySeq{h.a.Entry.Agency, h.a.Entry.Seq})
	q.mu.Unlock()
	h.res <- holderResult{p, err}
}

// release puts a taken entry back to wait for a later round.
func (q *holdQueue) release(h *holder) {
	q.mu.Lock()
	h.taken = false
	q.mu.Unlock()
}

// agencyView is what a round needs of an agency: its last admitted seq,
// and whether that entry is still being sequenced by another frontend.
type agencyView struct {
	last          uint64
	pendingRemote bool
}

// progress reads the view of these agencies in one query (an agency not
// yet in the state has last seq 0).
func (s *shared) progress(ctx context.Context, names []string, local func(id string) bool) (map[string]agencyView, error) {
	out := make(map[string]agencyView, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
		out[n] = agencyView{}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT a.agency, a.last_seq, e.idx IS NULL AND e.id IS NOT NULL, COALESCE(e.id, '') FROM acd_agency a
		LEFT JOIN acd_entry e ON e.agency = a.agency AND e.seq = a.last_seq WHERE a.agency IN (`+placeholders(len(names), "?")+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a, id string
		var last uint64
		var pending bool
		if err := rows.Scan(&a, &last, &pending, &id); err != nil {
			return nil, err
		}
		out[a] = agencyView{last: last, pendingRemote: pending && !local(id)}
	}
	return out, rows.Err()
}
