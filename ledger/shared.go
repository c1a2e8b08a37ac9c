package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/go-sql-driver/mysql"
	"github.com/transparency-dev/tessera/api/layout"
)

// ErrPushback says the log has more entries sequenced than integrated: the
// append was not admitted and may be retried shortly (HTTP 503).
var ErrPushback = errors.New("the log is integrating a burst of entries; retry shortly")

// ErrNotYetSequenced says an entry this one depends on (its agency's
// previous seq, or a ref) is admitted but not yet sequenced, possibly by
// another frontend: admitting this one now could put it before that one in
// the log. Retry shortly.
var ErrNotYetSequenced = errors.New("an entry this one follows (its agency's previous seq, or a ref) is still being sequenced; retry shortly")

// shared is the admission state of a ledger whose frontends share one
// MySQL-compatible database (the AWS driver). The protocol, and why it
// never acknowledges an entry it could lose nor leaves a seq reserved
// forever, is in docs/deploy.md ("Shared admission").
type shared struct {
	db    *sql.DB
	owner string
	ttl   time.Duration
	log   *slog.Logger

	pushbackLimit uint64
	gateMu        sync.Mutex
	gateAt        time.Time
	gateBusy      bool
	gateNext      uint64

	alarmMu sync.Mutex
	alarm   error // an integrity problem found while settling admissions

	lkMu      sync.Mutex
	lkWaiting map[string][]chan lookupAnswer // lookups gathered for the next round
	lkRunning int                            // goroutines running lookupRounds (at most lookupParallel)

	counter          *dbCounter    // round trips of db
	batches, entries atomic.Uint64 // reservations made (SharedStats)
	claimed          atomic.Uint64 // parked entries of other frontends among them

	peers   atomic.Int64 // other frontends beating (countPeers)
	peersAt atomic.Int64 // when peers was read (unix ns)
	inHand  atomic.Int64 // entries handed to this frontend's Tessera queue, not yet confirmed
}

// Connections per frontend: acdledger's admission state, and Tessera's
// sequencer and integrator.
const (
	sharedMaxConns  = 32
	tesseraMaxConns = 16
)

var sharedSchema = []string{
	// scanned: the log's first scanned entries are all recorded in acd_entry.
	`CREATE TABLE IF NOT EXISTS acd_meta (
		id INT UNSIGNED NOT NULL PRIMARY KEY,
		origin VARBINARY(255) NOT NULL,
		vkey VARBINARY(1024) NOT NULL,
		scanned BIGINT UNSIGNED NOT NULL
	)`,
	`CREATE TABLE IF NOT EXISTS acd_agency (
		agency VARBINARY(255) NOT NULL PRIMARY KEY,
		last_seq BIGINT UNSIGNED NOT NULL
	)`,
	// idx is NULL while the entry is reserved (admitted, not yet
	// sequenced); floor is the log's next index when it was reserved, so
	// its leaf, if there is one, lies at or after floor. kind and case_id
	// are what a reference to the entry is checked against (rule
	// refs.kind).
	`CREATE TABLE IF NOT EXISTS acd_entry (
		id VARBINARY(255) NOT NULL PRIMARY KEY,
		kind VARBINARY(255) NOT NULL,
		agency VARBINARY(255) NOT NULL,
		case_id VARBINARY(255) NOT NULL,
		seq BIGINT UNSIGNED NOT NULL,
		idx BIGINT UNSIGNED NULL,
		hash BINARY(32) NOT NULL,
		owner VARBINARY(255) NOT NULL,
		floor BIGINT UNSIGNED NOT NULL,
		reserved_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		UNIQUE KEY agency_seq (agency, seq),
		KEY pending (idx, reserved_at)
	)`,
	// Each running frontend's heartbeat: only the reservations of a
	// frontend that stopped beating are settled by the others.
	`CREATE TABLE IF NOT EXISTS acd_frontend (
		owner VARBINARY(255) NOT NULL PRIMARY KEY,
		beat DATETIME(6) NOT NULL
	)`,
	parkedSchema,
}

func openShared(ctx context.Context, dsn, owner string, ttl time.Duration, origin, vkey string, logger *slog.Logger) (*shared, error) {
	counter := &dbCounter{}
	db, err := openCountedDB(dsn, counter)
	if err != nil {
		return nil, err
	}
	// Bounded: thousands of appends in flight share these connections
	// rather than each opening its own (the database would refuse them).
	db.SetMaxOpenConns(sharedMaxConns)
	db.SetMaxIdleConns(sharedMaxConns)
	db.SetConnMaxLifetime(10 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connecting to the admission database: %w", err)
	}
	for _, q := range sharedSchema {
		if _, err := db.ExecContext(ctx, q); err != nil {
			db.Close()
			return nil, fmt.Errorf("creating the admission tables: %w", err)
		}
	}
	// CREATE TABLE IF NOT EXISTS leaves a table made by an older acdledger
	// as it was: without the columns rule refs.kind needs, admission
	// could not check references, so refuse it rather than guess.
	if _, err := db.ExecContext(ctx, `SELECT kind, case_id FROM acd_entry LIMIT 0`); err != nil {
		db.Close()
		var me *mysql.MySQLError
		if errors.As(err, &me) && me.Number == 1054 {
			return nil, fmt.Errorf("the admission database's table acd_entry was made by an older acdledger (it has no kind and case_id columns, which rule %s needs): drop the tables acd_meta, acd_agency, acd_entry, acd_frontend and acd_parked while no frontend runs, and they are rebuilt from the log on the next open", specs.RuleRefKind)
		}
		return nil, fmt.Errorf("checking the admission tables: %w", err)
	}
	if _, err := db.ExecContext(ctx, `INSERT IGNORE INTO acd_meta (id, origin, vkey, scanned) VALUES (0, ?, ?, 0)`, origin, vkey); err != nil {
		db.Close()
		return nil, err
	}
	var gotOrigin, gotVkey string
	if err := db.QueryRowContext(ctx, `SELECT origin, vkey FROM acd_meta WHERE id = 0`).Scan(&gotOrigin, &gotVkey); err != nil {
		db.Close()
		return nil, err
	}
	// Every frontend of a log must sign with the same key for the same
	// origin, or auditors would see two logs.
	if gotOrigin != origin || gotVkey != vkey {
		db.Close()
		return nil, fmt.Errorf("the database belongs to log %q (key %s), not to this ledger's %q (key %s)", gotOrigin, gotVkey, origin, vkey)
	}
	return &shared{db: db, owner: owner, ttl: ttl, log: logger, counter: counter}, nil
}

// retryable says a transaction lost a race (deadlock, lock wait, a
// concurrent insert of the same key) and may simply run again.
func retryable(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1205 || me.Number == 1062)
}

func (s *shared) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		var tx *sql.Tx
		// READ COMMITTED, set on each connection (openCountedDB): the
		// agency rows are locked explicitly (FOR UPDATE), and reads need
		// no snapshot older than the lock.
		if tx, err = s.db.BeginTx(ctx, nil); err != nil {
			return err
		}
		if err = f(tx); err == nil {
			if err = tx.Commit(); err == nil {
				return nil
			}
		} else {
			tx.Rollback()
		}
		if !retryable(err) {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
	return err
}

func placeholders(n int, one string) string {
	return strings.TrimSuffix(strings.Repeat(one+",", n), ",")
}

type entryRow struct {
	id, kind, agency, kase string
	seq                    uint64
	idx                    sql.NullInt64
	hash                   []byte
	floor                  uint64
}

// entryColumns are the columns scanEntry reads, in its order.
const entryColumns = `id, kind, agency, case_id, seq, idx, hash, floor`

func scanEntry(rows *sql.Rows) (*entryRow, error) {
	r := &entryRow{}
	return r, rows.Scan(&r.id, &r.kind, &r.agency, &r.kase, &r.seq, &r.idx, &r.hash, &r.floor)
}

// header is what admission remembers of the entry (specs.LogState.Record).
func (r *entryRow) header() specs.Header {
	return specs.Header{ID: r.id, Kind: r.kind, Agency: r.agency, Case: r.kase, Seq: r.seq}
}

// rowsByID reads the rows of these ids (in chunks).
func rowsByID(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, ids []string, lock string) (map[string]*entryRow, error) {
	out := map[string]*entryRow{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), 1000)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		rows, err := q.QueryContext(ctx, `SELECT `+entryColumns+` FROM acd_entry WHERE id IN (`+placeholders(len(chunk), "?")+`)`+lock, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			out[r.id] = r
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// reserve runs the stateful admission rules on a verified batch against the
// shared state and records the batch as reserved (index unknown), all in one
// transaction that holds the batch's agencies' rows: of two frontends
// racing on one agency's seq N, one commits and the other then sees N taken.
// The rules are specs.LogState's own, run on the part of the state the batch
// touches, so verdicts and messages are the POSIX ledger's. On top, every
// entry the batch depends on from outside it (an agency's previous seq, a
// ref) must already be sequenced, so the batch's leaves land after them.
//
// "Sequenced" includes "handed to Tessera by this frontend": Tessera's
// queue keeps this process's entries in order, so an agency pipelining
// through one frontend need not wait for each entry's index (local).
//
// claims are parked entries of the batch (shared_park.go): their rows are
// deleted in the same transaction, which fails with errClaimLost should
// any be gone.
func (s *shared) reserve(ctx context.Context, as []*specs.Admitted, claims []parkedKey, floor uint64, local func(id string) bool) (early earliness, err error) {
	agencies := map[string]bool{}
	var ids []string
	inBatch := map[string]bool{}
	for _, a := range as {
		agencies[a.Entry.Agency] = true
		ids = append(ids, a.Entry.ID)
		inBatch[a.Entry.ID] = true
		for _, r := range a.Entry.Refs {
			ids = append(ids, r)
		}
	}
	names := make([]string, 0, len(agencies))
	for a := range agencies {
		names = append(names, a)
	}
	slices.Sort(names) // one lock order for every frontend: no deadlocks between batches
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
	}
	// A single entry (an early one is retried often) first gets a look
	// without locks: if still early it is refused without taking its
	// agency's lock from the admission it waits for. A batch (the hold
	// queue's rounds, whose entries follow their agencies' last seqs by
	// construction) goes straight to the transaction: one round trip
	// fewer.
	if len(as) == 1 {
		e := as[0].Entry
		view, err := s.progress(ctx, names, local)
		if err != nil {
			return notEarly, err
		}
		if p := view[e.Agency]; e.Seq > p.last+1 {
			st := specs.NewLogState()
			st.SetLastSeq(e.Agency, p.last)
			if err := st.CheckVerified(as[0]); err != nil {
				return earlinessOf(err, e, p.last), err
			}
		} else if e.Seq == p.last+1 && p.pendingRemote {
			return seqAhead, fmt.Errorf("%w: entry %s: %s seq %d is not yet in the log", ErrNotYetSequenced, e.ID, e.Agency, e.Seq-1)
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		early = notEarly
		last := map[string]uint64{}
		lock := func() error {
			rows, err := tx.QueryContext(ctx, `SELECT agency, last_seq FROM acd_agency WHERE agency IN (`+placeholders(len(names), "?")+`) ORDER BY agency FOR UPDATE`, args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var a string
				var n uint64
				if err := rows.Scan(&a, &n); err != nil {
					rows.Close()
					return err
				}
				last[a] = n
			}
			return rows.Close()
		}
		if err := lock(); err != nil {
			return err
		}
		// An agency seen for the first time gets its row (locked by the
		// insert itself; a concurrent insert of the same row makes this
		// transaction retry).
		var missing []any
		for _, a := range names {
			if _, ok := last[a]; !ok {
				missing = append(missing, a)
			}
		}
		if len(missing) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT IGNORE INTO acd_agency (agency, last_seq) VALUES `+placeholders(len(missing), "(?,0)"), missing...); err != nil {
				return err
			}
			if err := lock(); err != nil {
				return err
			}
		}
		if err := claimParked(ctx, tx, claims); err != nil {
			return err
		}
		// In one query: the rows of the batch's ids and refs, and of each
		// agency's last seq (which must be sequenced). UNION ALL so that
		// each part uses its own index.
		var q strings.Builder
		var qargs []any
		part := func(where string, a ...any) {
			if q.Len() > 0 {
				q.WriteString(" UNION ALL ")
			}
			q.WriteString(`SELECT ` + entryColumns + ` FROM acd_entry WHERE ` + where)
			qargs = append(qargs, a...)
		}
		for rest := ids; len(rest) > 0; {
			chunk := rest[:min(len(rest), 1000)]
			rest = rest[len(chunk):]
			a := make([]any, len(chunk))
			for i, id := range chunk {
				a[i] = id
			}
			part(`id IN (`+placeholders(len(chunk), "?")+`)`, a...)
		}
		for _, a := range names {
			if last[a] > 0 {
				part(`agency = ? AND seq = ?`, a, last[a])
			}
		}
		known := map[string]*entryRow{}
		predPending := map[string]bool{}
		wanted := map[string]bool{}
		for _, id := range ids {
			wanted[id] = true
		}
		rows, err := tx.QueryContext(ctx, q.String(), qargs...)
		if err != nil {
			return err
		}
		for rows.Next() {
			r, err := scanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			if wanted[r.id] {
				known[r.id] = r
			}
			if last[r.agency] == r.seq && r.seq > 0 {
				predPending[r.agency] = !r.idx.Valid && !local(r.id)
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		st := specs.NewLogState()
		for _, r := range known {
			idx := specs.PendingIndex
			if r.idx.Valid {
				idx = uint64(r.idx.Int64)
			}
			st.Record(r.header(), idx)
		}
		for _, a := range names {
			st.SetLastSeq(a, last[a])
		}
		if err := st.AdmitBatch(as); err != nil {
			if len(as) == 1 {
				early = earlinessOf(err, as[0].Entry, last[as[0].Entry.Agency])
			}
			return err
		}
		seen := map[string]bool{}
		for _, a := range as {
			e := a.Entry
			if !seen[e.Agency] && predPending[e.Agency] {
				if len(as) == 1 {
					early = seqAhead
				}
				return fmt.Errorf("%w: entry %s: %s seq %d is not yet in the log", ErrNotYetSequenced, e.ID, e.Agency, e.Seq-1)
			}
			seen[e.Agency] = true
			for _, r := range e.Refs {
				if k := known[r]; k != nil && !k.idx.Valid && !inBatch[r] && !local(r) {
					if len(as) == 1 {
						early = refMissing
					}
					return fmt.Errorf("%w: entry %s: ref %s is not yet in the log", ErrNotYetSequenced, e.ID, r)
				}
			}
		}
		for start := 0; start < len(as); start += 500 {
			chunk := as[start:min(len(as), start+500)]
			vals := make([]any, 0, 8*len(chunk))
			for _, a := range chunk {
				h := sha256.Sum256(a.Envelope.Raw)
				e := a.Entry
				vals = append(vals, e.ID, e.Kind, e.Agency, e.Case, e.Seq, h[:], s.owner, floor)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO acd_entry (id, kind, agency, case_id, seq, hash, owner, floor) VALUES `+placeholders(len(chunk), "(?,?,?,?,?,?,?,?)"), vals...); err != nil {
				return err
			}
		}
		// Every agency's new last seq in one statement (the rows exist and
		// are locked: this only updates them).
		var upd []any
		for _, a := range names {
			if n := st.LastSeq(a); n != last[a] {
				upd = append(upd, a, n)
			}
		}
		if len(upd) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO acd_agency (agency, last_seq) VALUES `+placeholders(len(upd)/2, "(?,?)")+` ON DUPLICATE KEY UPDATE last_seq = VALUES(last_seq)`, upd...); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.batches.Add(1)
		s.entries.Add(uint64(len(as)))
		s.claimed.Add(uint64(len(claims)))
	}
	return early, err
}

// earlinessOf tells a refusal that the arrival of other entries could turn
// into an admission, given the agency's last admitted seq (from the local
// or the shared admission state).
func earlinessOf(err error, e *specs.Entry, last uint64) earliness {
	var v *specs.Violation
	if !errors.As(err, &v) {
		return notEarly
	}
	switch {
	case v.Rule == specs.RuleRefUnknown:
		return refMissing
	case v.Rule == specs.RuleSeq && e.Seq > last+1:
		return seqAhead
	}
	return notEarly
}

// confirm records the indexes Tessera assigned. An entry whose reservation
// is gone or carries another index means another frontend settled it as
// lost while this one was sequencing it: an integrity alarm.
func (s *shared) confirm(ctx context.Context, ids []string, idxs []uint64) error {
	for start := 0; start < len(ids); start += 500 {
		end := min(len(ids), start+500)
		var b strings.Builder
		args := make([]any, 0, 3*(end-start))
		b.WriteString(`UPDATE acd_entry SET idx = CASE id`)
		for i := start; i < end; i++ {
			b.WriteString(` WHEN ? THEN ?`)
			args = append(args, ids[i], idxs[i])
		}
		b.WriteString(` END WHERE idx IS NULL AND id IN (` + placeholders(end-start, "?") + `)`)
		for i := start; i < end; i++ {
			args = append(args, ids[i])
		}
		res, err := s.db.ExecContext(ctx, b.String(), args...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == int64(end-start) {
			continue
		}
		// Some were already settled (a scan recorded them first, which is
		// fine if the index is the same).
		got, err := rowsByID(ctx, s.db, ids[start:end], "")
		if err != nil {
			return err
		}
		for i := start; i < end; i++ {
			r := got[ids[i]]
			if r == nil || !r.idx.Valid || uint64(r.idx.Int64) != idxs[i] {
				err := fmt.Errorf("integrity: entry %s was sequenced at index %d but its admission was settled otherwise (reservation TTL %s too short for this deployment?)", ids[i], idxs[i], s.ttl)
				s.raise(err)
				return err
			}
		}
	}
	return nil
}

func (s *shared) raise(err error) {
	s.log.Error("shared admission state", "err", err)
	s.alarmMu.Lock()
	if s.alarm == nil {
		s.alarm = err
	}
	s.alarmMu.Unlock()
}

func (s *shared) alarmed() error {
	s.alarmMu.Lock()
	defer s.alarmMu.Unlock()
	return s.alarm
}

// lookup finds an entry id: its index (PendingIndex while reserved) and the
// hash of its envelope.
//
// Every POST /add asks first (a retry gets its original receipt), so the
// lookups of concurrent requests are gathered: one query answers all that
// came in while the previous one ran (make bench showed one round trip per
// request from this alone). A lookup is answered by a query that started
// after it was asked, so it sees every admission recorded before it.
func (s *shared) lookup(ctx context.Context, id string) (idx uint64, hash []byte, found bool, err error) {
	ch := make(chan lookupAnswer, 1)
	s.lkMu.Lock()
	if s.lkWaiting == nil {
		s.lkWaiting = map[string][]chan lookupAnswer{}
	}
	s.lkWaiting[id] = append(s.lkWaiting[id], ch)
	start := s.lkRunning < lookupParallel
	if start {
		s.lkRunning++
	}
	s.lkMu.Unlock()
	if start {
		go s.lookupRounds()
	}
	select {
	case a := <-ch:
		if a.err != nil || a.row == nil {
			return 0, nil, false, a.err
		}
		if !a.row.idx.Valid {
			return specs.PendingIndex, a.row.hash, true, nil
		}
		return uint64(a.row.idx.Int64), a.row.hash, true, nil
	case <-ctx.Done():
		return 0, nil, false, ctx.Err()
	}
}

// lookupParallel bounds the lookup queries in flight. With one, a request
// arriving while a query ran waited for the rest of it and then for its
// own (a block profile of make bench (6c) had the lookup at 90 ms per
// request on a loaded machine); with a few, a new query starts at once
// while the database has room, still one per batch of arrivals.
const lookupParallel = 4

type lookupAnswer struct {
	row *entryRow // nil: not found
	err error
}

// lookupRounds answers the gathered lookups, round after round, until none
// is waiting.
func (s *shared) lookupRounds() {
	for {
		s.lkMu.Lock()
		waiting := s.lkWaiting
		s.lkWaiting = nil
		if len(waiting) == 0 {
			s.lkRunning--
			s.lkMu.Unlock()
			return
		}
		s.lkMu.Unlock()
		ids := make([]string, 0, len(waiting))
		for id := range waiting {
			ids = append(ids, id)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		rows, err := rowsByID(ctx, s.db, ids, "")
		cancel()
		for id, chs := range waiting {
			a := lookupAnswer{err: err}
			if err == nil {
				a.row = rows[id]
			}
			for _, ch := range chs {
				ch <- a
			}
		}
	}
}

func (s *shared) lastSeq(ctx context.Context, agency string) (uint64, error) {
	var n uint64
	err := s.db.QueryRowContext(ctx, `SELECT last_seq FROM acd_agency WHERE agency = ?`, agency).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

func (s *shared) count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM acd_entry`).Scan(&n)
	return n, err
}

// gate refuses new admissions while Tessera has many entries sequenced but
// not yet integrated, before anything is reserved: Tessera's own pushback
// (set well above this limit) then fails no admitted entry in practice. The
// figure is read at most every 100ms.
//
// It returns the next index it read: a lower bound of the index of any
// leaf added from now on (the floor of a reservation).
func (s *shared) gate(ctx context.Context, l *Ledger) (uint64, error) {
	s.gateMu.Lock()
	defer s.gateMu.Unlock()
	if time.Since(s.gateAt) > 100*time.Millisecond {
		next, err := l.reader.NextIndex(ctx)
		if err != nil {
			return 0, err
		}
		size, err := l.reader.IntegratedSize(ctx)
		if err != nil {
			return 0, err
		}
		s.gateAt, s.gateNext, s.gateBusy = time.Now(), next, next > size && next-size >= s.pushbackLimit
	}
	if s.gateBusy {
		return 0, ErrPushback
	}
	return s.gateNext, nil
}

// adopt records the log's entries [from, to) in the shared state: a
// reservation gets its index, an entry the state does not know (a migrated
// log) is added with its agency's seq. It is how the state is rebuilt from
// the log, which is the only authority.
func (s *shared) adopt(ctx context.Context, l *Ledger, from, to, treeSize uint64) error {
	for start := from; start < to; {
		n := start / layout.EntryBundleWidth
		entries, err := l.bundle(ctx, n, treeSize)
		if err != nil {
			return fmt.Errorf("reading entry bundle %d: %w", n, err)
		}
		var leaves []*entryRow
		end := min(to, (n+1)*layout.EntryBundleWidth)
		for idx := start; idx < end; idx++ {
			i := idx - n*layout.EntryBundleWidth
			if i >= uint64(len(entries)) {
				return fmt.Errorf("entry bundle %d has %d entries, want %d", n, len(entries), end-n*layout.EntryBundleWidth)
			}
			h, err := specs.PeekHeader(entries[i])
			if err != nil {
				return fmt.Errorf("entry %d: %w", idx, err)
			}
			sum := sha256.Sum256(entries[i])
			leaves = append(leaves, &entryRow{id: h.ID, kind: h.Kind, agency: h.Agency, kase: h.Case, seq: h.Seq, idx: sql.NullInt64{Int64: int64(idx), Valid: true}, hash: sum[:]})
		}
		if err := s.inTx(ctx, func(tx *sql.Tx) error { return s.adoptLeaves(ctx, tx, leaves) }); err != nil {
			return err
		}
		start = end
	}
	_, err := s.db.ExecContext(ctx, `UPDATE acd_meta SET scanned = ? WHERE id = 0 AND scanned >= ? AND scanned < ?`, to, from, to)
	return err
}

func (s *shared) adoptLeaves(ctx context.Context, tx *sql.Tx, leaves []*entryRow) error {
	ids := make([]string, len(leaves))
	for i, lf := range leaves {
		ids[i] = lf.id
	}
	known, err := rowsByID(ctx, tx, ids, " FOR UPDATE")
	if err != nil {
		return err
	}
	top := map[string]uint64{}
	var vals []any
	for _, lf := range leaves {
		k := known[lf.id]
		switch {
		case k == nil:
			vals = append(vals, lf.id, lf.kind, lf.agency, lf.kase, lf.seq, lf.idx.Int64, lf.hash, "log", lf.idx.Int64)
			top[lf.agency] = max(top[lf.agency], lf.seq)
		case k.idx.Valid && k.idx.Int64 == lf.idx.Int64:
		case k.idx.Valid:
			return fmt.Errorf("integrity: entry %s is in the log at index %d and at %d", lf.id, k.idx.Int64, lf.idx.Int64)
		case !bytes.Equal(k.hash, lf.hash):
			return fmt.Errorf("integrity: entry %s at index %d is not the envelope admitted under that id", lf.id, lf.idx.Int64)
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE acd_entry SET idx = ? WHERE id = ?`, lf.idx.Int64, lf.id); err != nil {
				return err
			}
		}
	}
	if len(vals) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO acd_entry (id, kind, agency, case_id, seq, idx, hash, owner, floor) VALUES `+placeholders(len(vals)/9, "(?,?,?,?,?,?,?,?,?)"), vals...); err != nil {
			return fmt.Errorf("recording entries found in the log: %w", err)
		}
		for a, seq := range top {
			if _, err := tx.ExecContext(ctx, `INSERT INTO acd_agency (agency, last_seq) VALUES (?, ?) ON DUPLICATE KEY UPDATE last_seq = GREATEST(last_seq, VALUES(last_seq))`, a, seq); err != nil {
				return err
			}
		}
	}
	return nil
}

// catchUp records what the log holds beyond the last scan: on open, so a
// migrated log, or entries written while the state was behind, are known.
func (s *shared) catchUp(ctx context.Context, l *Ledger) error {
	var scanned uint64
	if err := s.db.QueryRowContext(ctx, `SELECT scanned FROM acd_meta WHERE id = 0`).Scan(&scanned); err != nil {
		return err
	}
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	if size <= scanned {
		return nil
	}
	return s.adopt(ctx, l, scanned, size, size)
}

// settle resolves reservations that may never be sequenced: this
// frontend's own from before a restart (own), those whose Add failed
// (ids), and those older than the TTL of a frontend whose heartbeat is
// older than the TTL (it died). It reads the next index, waits
// until the tree is integrated that far, so that any of them that was
// sequenced is now a leaf, records those, and releases the rest: their
// agencies' seq goes back, and since none was acknowledged, the agency's
// retry is admitted afresh.
func (s *shared) settle(ctx context.Context, l *Ledger, own bool, ids []string) error {
	q := `SELECT ` + entryColumns + ` FROM acd_entry WHERE idx IS NULL AND (
		(reserved_at < NOW(6) - INTERVAL ? MICROSECOND AND owner NOT IN (SELECT owner FROM acd_frontend WHERE beat >= NOW(6) - INTERVAL ? MICROSECOND))`
	args := []any{s.ttl.Microseconds(), s.ttl.Microseconds()}
	if own {
		q += ` OR owner = ?`
		args = append(args, s.owner)
	}
	if len(ids) > 0 {
		q += ` OR id IN (` + placeholders(len(ids), "?") + `)`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	rows, err := s.db.QueryContext(ctx, q+`)`, args...)
	if err != nil {
		return err
	}
	var stale []*entryRow
	for rows.Next() {
		r, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return err
		}
		stale = append(stale, r)
	}
	if err := rows.Close(); err != nil || len(stale) == 0 {
		return err
	}
	next, err := l.reader.NextIndex(ctx)
	if err != nil {
		return err
	}
	var size uint64
	for {
		if size, err = l.reader.IntegratedSize(ctx); err != nil {
			return err
		}
		if size >= next {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	floor := next
	for _, r := range stale {
		floor = min(floor, r.floor)
	}
	if err := s.adopt(ctx, l, floor, next, size); err != nil {
		return err
	}
	// Release the rest, each agency's highest seq first.
	slices.SortFunc(stale, func(a, b *entryRow) int {
		if c := strings.Compare(a.agency, b.agency); c != 0 {
			return c
		}
		return -cmpU(a.seq, b.seq)
	})
	released := 0
	for _, r := range stale {
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			var last uint64
			if err := tx.QueryRowContext(ctx, `SELECT last_seq FROM acd_agency WHERE agency = ? FOR UPDATE`, r.agency).Scan(&last); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, `DELETE FROM acd_entry WHERE id = ? AND idx IS NULL`, r.id)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return nil // sequenced after all (recorded by the scan)
			}
			if last != r.seq {
				return fmt.Errorf("integrity: cannot release %s seq %d (entry %s): a later seq %d is admitted", r.agency, r.seq, r.id, last)
			}
			released++
			_, err = tx.ExecContext(ctx, `UPDATE acd_agency SET last_seq = ? WHERE agency = ?`, r.seq-1, r.agency)
			return err
		})
		if err != nil {
			if strings.HasPrefix(err.Error(), "integrity") {
				s.raise(err)
			}
			return err
		}
	}
	if released > 0 {
		s.log.Warn("released admissions that were never sequenced (their agencies may retry them)", "count", released, "checked", len(stale))
	}
	return nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// beat records that this frontend is alive.
func (s *shared) beat(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO acd_frontend (owner, beat) VALUES (?, NOW(6)) ON DUPLICATE KEY UPDATE beat = NOW(6)`, s.owner)
	return err
}

// settleLoop beats, and settles the reservations of frontends that
// stopped beating, until ctx ends.
func (s *shared) settleLoop(ctx context.Context, l *Ledger) {
	every := max(s.ttl/5, 200*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.beat(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("frontend heartbeat", "err", err)
		}
		if err := s.countPeers(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("counting the other frontends", "err", err)
		}
		if n%2 == 1 {
			continue
		}
		if err := s.settle(ctx, l, false, nil); err != nil && ctx.Err() == nil {
			s.log.Warn("settling stale admissions", "err", err)
		}
		if err := s.dropDeadParked(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("dropping stopped frontends' parked entries", "err", err)
		}
	}
}

// setNextIndex moves Tessera's sequencer (its SeqCoord table) past a
// migrated tree, if it is behind it; see Migrate.
func setNextIndex(ctx context.Context, dsn string, next uint64) error {
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `UPDATE SeqCoord SET next = ? WHERE id = 0 AND next < ?`, next, next); err != nil {
		return fmt.Errorf("moving Tessera's next index past the migrated entries: %w", err)
	}
	return nil
}
