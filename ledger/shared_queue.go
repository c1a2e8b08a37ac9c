package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/transparency-dev/tessera"
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

	// Admitter goroutine only (shared_park.go):
	remote  map[string]*holder // entries parked here and claimed by another frontend, by id: waiting for their index
	noClaim map[string]uint64  // parked entries of others that were in a refused batch: left alone until that round
}

type holder struct {
	a        *specs.Admitted
	deadline time.Time // refused (with the verdict of that moment) once passed with no progress of its agency
	maxWait  time.Duration
	taken    bool              // the admitter is deciding it; the waiter must wait for res
	parked   bool              // in acd_parked, for the frontend holding its predecessor to claim (shared_park.go)
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
	return &holdQueue{l: l, wake: make(chan struct{}, 1), held: map[agencySeq]*holder{}, prev: map[string]uint64{},
		remote: map[string]*holder{}, noClaim: map[string]uint64{}}
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
		parked := h.parked
		q.mu.Unlock()
		if parked {
			// Best effort: should another frontend claim it first, it is
			// admitted, and the client's retry finds it.
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			q.l.shared.unpark(uctx, h)
			cancel()
		}
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
			for id, h := range q.remote {
				// Claimed by another frontend: it may be in the log, and
				// a retry (safe) gets its receipt.
				h.res <- holderResult{err: errors.New("ledger closing: the entry was taken by another frontend; send it again for its receipt")}
				delete(q.remote, id)
			}
			uctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// Best effort (the database may be closing too): what is left
			// is dropped on the next open, or by the other frontends once
			// this one stops beating.
			if err := q.l.shared.unparkAll(uctx); err != nil {
				q.l.shared.log.Debug("dropping this frontend's parked entries", "err", err)
			}
			cancel()
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

// item is one entry of a round's run for an agency: held here (h), held
// here and parked (h and row), or parked by another frontend (row only).
type item struct {
	h   *holder
	row *parkedRow
}

// noClaimRounds is how long (in rounds, about a second) a frontend leaves
// alone a parked entry that was in a refused batch: its owner gets its
// verdict itself.
const noClaimRounds = 50

// round runs one admission round; it reports whether it admitted anything
// (another round may then admit more at once).
func (q *holdQueue) round(ctx context.Context) bool {
	sh := q.l.shared
	q.mu.Lock()
	agencies := map[string]bool{}
	parkedHere := false
	for k, h := range q.held {
		agencies[k.agency] = true
		parkedHere = parkedHere || h.parked
	}
	nHeld := len(q.held)
	q.mu.Unlock()
	busy := nHeld > 0 || sh.inHand.Load() > 0
	if busy && time.Since(time.Unix(0, sh.peersAt.Load())) > time.Second {
		if err := sh.countPeers(ctx); err != nil && ctx.Err() == nil {
			sh.log.Warn("counting the other frontends", "err", err)
		}
	}
	// The parked entries are looked at while this frontend has some, or
	// while another frontend runs and this one holds or sequences entries
	// (it may then claim what follows them).
	lookPool := parkedHere || (sh.peers.Load() > 0 && busy)
	if nHeld == 0 && !lookPool && len(q.remote) == 0 {
		return false
	}
	if len(q.remote) > 0 {
		q.resolveRemote(ctx)
	}
	if nHeld == 0 && !lookPool {
		return false
	}
	view := map[string]agencyView{}
	var pool map[string]map[uint64]*parkedRow
	if lookPool {
		var err error
		if pool, err = sh.pool(ctx, q.l.handedOver); err != nil {
			if ctx.Err() == nil {
				sh.log.Warn("reading the parked entries", "err", err)
			}
			return false
		}
		for a, rs := range pool {
			for _, r := range rs {
				view[a] = r.view
				break
			}
		}
	}
	var rest []string
	for a := range agencies {
		if _, ok := view[a]; !ok {
			rest = append(rest, a)
		}
	}
	if len(rest) > 0 {
		slices.Sort(rest)
		v, err := sh.progress(ctx, rest, q.l.handedOver)
		if err != nil {
			if ctx.Err() == nil {
				sh.log.Warn("reading admission progress", "err", err)
			}
			return false
		}
		for a, x := range v {
			view[a] = x
		}
	}
	names := make([]string, 0, len(view))
	for a := range view {
		names = append(names, a)
	}
	slices.Sort(names)
	advanced := map[string]bool{}
	for _, a := range names {
		if last, ok := q.prev[a]; ok && view[a].last > last {
			advanced[a] = true
		}
		q.prev[a] = view[a].last
	}
	if q.rounds%1024 == 0 {
		for id, until := range q.noClaim {
			if until <= q.rounds {
				delete(q.noClaim, id)
			}
		}
	}
	now := time.Now()
	q.mu.Lock()
	q.rounds++
	byAgency := map[string][]*holder{}
	var claimedAway []*holder
	for k, h := range q.held {
		if h.taken {
			continue
		}
		if h.parked && pool != nil {
			if r := pool[k.agency][k.seq]; r == nil || r.owner != sh.owner || r.id != h.a.Entry.ID {
				// Claimed by another frontend: wait for its index.
				h.taken = true
				delete(q.held, k)
				claimedAway = append(claimedAway, h)
				continue
			}
		}
		byAgency[k.agency] = append(byAgency[k.agency], h)
	}
	var chains [][]item
	var toPark []*holder
	count := 0
	for _, a := range names {
		v := view[a]
		if v.pendingRemote {
			// Its last seq is in another frontend's queue: park what is
			// held here, for that frontend to claim.
			for _, h := range byAgency[a] {
				if !h.parked && h.a.Entry.Seq > v.last {
					toPark = append(toPark, h)
				}
			}
			continue
		}
		var chain []item
	run:
		for s := v.last + 1; count < holdRoundMax; s++ {
			h := q.held[agencySeq{a, s}]
			if h != nil && h.taken {
				h = nil
			}
			var r *parkedRow
			if pool != nil {
				r = pool[a][s]
			}
			switch {
			case h != nil && !h.parked:
				// An entry that waits for a ref (possibly coming through
				// another frontend, which sends no word) is tried again
				// every fifth round only, so that it does not make every
				// round's batch fail and be admitted one by one.
				if h.refWait && len(advanced) == 0 && q.rounds%5 != 0 {
					break run
				}
				chain = append(chain, item{h: h})
			case h != nil && r != nil:
				chain = append(chain, item{h: h, row: r}) // parked here, claimed back
			case h == nil && r != nil && r.owner != sh.owner && q.noClaim[r.id] <= q.rounds:
				chain = append(chain, item{row: r})
			default:
				break run
			}
			count++
		}
		if len(chain) > 0 {
			chains = append(chains, chain)
		}
	}
	var late, expired []*holder
	inChain := map[*holder]bool{}
	for _, c := range chains {
		for _, it := range c {
			if it.h != nil {
				inChain[it.h] = true
			}
		}
	}
	for k, h := range q.held {
		if h.taken || inChain[h] {
			continue
		}
		v := view[k.agency]
		switch {
		case k.seq <= v.last:
			late = append(late, h) // a seq already admitted: its verdict is the state's
		case advanced[k.agency]:
			h.deadline = now.Add(h.maxWait) // its agency moved on: keep waiting
		case now.After(h.deadline):
			expired = append(expired, h)
		}
	}
	for h := range inChain {
		h.taken = true
	}
	for _, h := range append(late, expired...) {
		h.taken = true
	}
	for _, h := range toPark {
		h.taken = true
	}
	q.mu.Unlock()

	for _, h := range claimedAway {
		q.toRemote(h)
	}
	if len(toPark) > 0 {
		got, err := sh.park(ctx, toPark)
		if err != nil && ctx.Err() == nil {
			sh.log.Warn("parking held entries", "err", err)
		}
		q.mu.Lock()
		for _, h := range toPark {
			h.parked = got[agencySeq{h.a.Entry.Agency, h.a.Entry.Seq}]
			h.taken = false
		}
		q.mu.Unlock()
	}

	admitted := false
	if len(chains) > 0 {
		admitted = q.admitChains(ctx, chains)
	}
	for _, h := range append(late, expired...) {
		if h.parked {
			if !q.takeBack(ctx, h) {
				continue
			}
		}
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

// takeBack unparks a parked entry this frontend is about to judge itself.
// false: it is not this frontend's to judge (claimed by another, now
// watched in q.remote, or the database failed: it waits for a later round).
func (q *holdQueue) takeBack(ctx context.Context, h *holder) bool {
	ok, err := q.l.shared.unpark(ctx, h)
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case err != nil:
		h.taken = false
		return false
	case !ok:
		delete(q.held, agencySeq{h.a.Entry.Agency, h.a.Entry.Seq})
		q.toRemote(h)
		return false
	}
	h.parked = false
	return true
}

// admitChains admits a round's runs in one transaction, claiming the
// parked entries among them. Should the batch be refused (all or nothing),
// the parked entries of others are left alone and this frontend's own are
// admitted one by one, each agency stopping at its first refusal, so every
// entry gets its own verdict and the early ones stay held.
func (q *holdQueue) admitChains(ctx context.Context, chains [][]item) bool {
	sh := q.l.shared
	var foreign []parkedKey
	for _, c := range chains {
		for _, it := range c {
			if it.h == nil {
				foreign = append(foreign, it.row.parkedKey)
			}
		}
	}
	envs, err := sh.parkedEnvelopes(ctx, foreign)
	if err != nil {
		if ctx.Err() == nil {
			sh.log.Warn("reading parked envelopes", "err", err)
		}
		envs = nil
	}
	var as []*specs.Admitted
	var hs []*holder // parallel to as; nil for another frontend's entry
	var claims []parkedKey
	reg := q.l.currentRegistry()
	var after []*holder // this frontend's entries behind a parked one that cannot be claimed
	for _, c := range chains {
		cut := false
		for _, it := range c {
			if cut {
				if it.h != nil {
					after = append(after, it.h)
				}
				continue
			}
			if it.h != nil {
				as, hs = append(as, it.h.a), append(hs, it.h)
				if it.row != nil {
					claims = append(claims, it.row.parkedKey)
				}
				continue
			}
			env := envs[agencySeq{it.row.agency, it.row.seq}]
			if env == nil {
				// Claimed or unparked meanwhile, or its row does not hold
				// the envelope its hash names.
				q.noClaim[it.row.id] = q.rounds + noClaimRounds
				cut = true
				continue
			}
			// The envelope comes from the database: checked again, as any
			// submission, by this frontend's registry.
			a, err := reg.VerifySubmitted(env)
			if err != nil || a.Entry.ID != it.row.id || a.Entry.Agency != it.row.agency || a.Entry.Seq != it.row.seq {
				q.noClaim[it.row.id] = q.rounds + noClaimRounds
				cut = true
				continue
			}
			as, hs = append(as, a), append(hs, nil)
			claims = append(claims, it.row.parkedKey)
		}
	}
	admitted := false
	for _, h := range after {
		// Past its wait, it gets the verdict of the moment (seq.order,
		// naming the seq it waits for); else it waits for a later round.
		if !time.Now().After(h.deadline) {
			q.release(h)
			continue
		}
		if h.parked && !q.takeBack(ctx, h) {
			continue
		}
		ps, _, err := q.l.admit(ctx, []*specs.Admitted{h.a})
		if err != nil {
			q.answer(h, nil, err)
		} else {
			q.answer(h, ps[0], nil)
			admitted = true
		}
	}
	if len(as) == 0 {
		return admitted
	}
	ps, _, err := q.l.admitClaimed(ctx, as, claims)
	if err == nil {
		for i, h := range hs {
			if h != nil {
				q.answer(h, ps[i], nil)
			}
		}
		return true
	}
	if errors.Is(err, errClaimLost) {
		for _, h := range hs {
			if h != nil {
				q.release(h)
			}
		}
		return admitted
	}
	for i, h := range hs {
		if h == nil {
			q.noClaim[as[i].Entry.ID] = q.rounds + noClaimRounds
		}
	}
	blocked := map[string]bool{}
	for i, h := range hs {
		agency := as[i].Entry.Agency
		if h == nil {
			blocked[agency] = true // what follows another frontend's entry must wait for it
			continue
		}
		if blocked[agency] {
			q.release(h)
			continue
		}
		if h.parked && !q.takeBack(ctx, h) {
			blocked[agency] = true
			continue
		}
		ps, early, err := q.l.admit(ctx, []*specs.Admitted{h.a})
		switch {
		case err == nil:
			q.answer(h, ps[0], nil)
			admitted = true
		case time.Now().After(h.deadline):
			blocked[agency] = true
			q.answer(h, nil, err)
		case early != notEarly || errors.Is(err, ErrNotYetSequenced) || isTransient(err):
			h.refWait = early == refMissing
			// Early, or the database or Tessera busy for a moment:
			// it keeps its place for the next round.
			blocked[agency] = true
			q.release(h)
		default:
			blocked[agency] = true
			q.answer(h, nil, err)
		}
	}
	return admitted
}

// toRemote watches a parked entry another frontend claimed. Its wait is
// bounded: should its index not be recorded within the reservation TTL
// past its own wait (the claimer failed to record it and lives on), the
// client is told to send it again, which finds it wherever it is.
func (q *holdQueue) toRemote(h *holder) {
	h.deadline = time.Now().Add(h.maxWait + q.l.shared.ttl)
	q.remote[h.a.Entry.ID] = h
}

// resolveRemote answers the parked entries other frontends claimed once
// their index is recorded (or their claim was released).
func (q *holdQueue) resolveRemote(ctx context.Context) {
	ids := make([]string, 0, len(q.remote))
	for id := range q.remote {
		ids = append(ids, id)
	}
	rows, err := rowsByID(ctx, q.l.shared.db, ids, "")
	if err != nil {
		if ctx.Err() == nil {
			q.l.shared.log.Warn("reading claimed entries", "err", err)
		}
		return
	}
	for id, h := range q.remote {
		idx, done, err := remoteOutcome(rows[id], h)
		if !done && time.Now().After(h.deadline) {
			done, err = true, fmt.Errorf("%w: entry %s was admitted by another frontend, which has not recorded its index", ErrNotYetSequenced, id)
		}
		if !done {
			continue
		}
		delete(q.remote, id)
		if err != nil {
			if strings.HasPrefix(err.Error(), "integrity") {
				q.l.shared.raise(err)
			}
			h.res <- holderResult{err: err}
			continue
		}
		p := &Pending{Admitted: h.a, confirmed: make(chan struct{}), idx: idx,
			future: func() (tessera.Index, error) { return tessera.Index{Index: idx}, nil }}
		close(p.confirmed)
		h.res <- holderResult{p: p}
	}
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
	if k := (agencySeq{h.a.Entry.Agency, h.a.Entry.Seq}); q.held[k] == h {
		delete(q.held, k)
	}
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
