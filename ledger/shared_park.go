package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Parking: one agency through several frontends (a plain load balancer).
//
// An entry may only be handed to a frontend's Tessera queue once its
// agency's previous seq is sequenced, or is in that same frontend's queue
// (Tessera keeps one process's queue in order). So when frontend B holds
// seq N+1 while seq N is reserved by frontend A and not yet sequenced, B
// cannot admit it: before parking it waited for A's sequencing round trip,
// one entry per round trip for an agency alternating between frontends
// (about 10 entries/s, make bench (6f)).
//
// Instead B parks the entry in the shared table acd_parked: its envelope,
// with B as its owner. Any frontend whose own queue holds the agency's
// last seq (A here), or any frontend at all once that seq is sequenced,
// claims the contiguous run of parked and locally held entries that follows
// the agency's last seq, in the same transaction that reserves them
// (shared.reserve deletes the parked rows it claims, so exactly one
// frontend claims each), re-verifies their envelopes and hands them to its
// own queue after its own. B, which still holds the client's request,
// sees its parked row gone, waits for the entry's index in acd_entry, and
// answers with the receipt as for an entry of its own: any frontend can
// prove any leaf of the shared log.
//
// Nothing changes for the verdicts: a claim is all or nothing with the
// batch it joins; should the batch be refused, the claimer leaves the
// parked entries alone and its owner gets their verdict itself (it unparks
// them once it may admit them, or at its reorder wait).

// errClaimLost says a parked entry the batch claimed was claimed or
// unparked meanwhile: the round is simply run again.
var errClaimLost = errors.New("a parked entry was taken by another frontend meanwhile")

// parkedKey names one parked row exactly (agency, seq and the envelope's
// hash), so a claim never takes a different envelope parked in its place.
type parkedKey struct {
	agency string
	seq    uint64
	id     string
	hash   []byte
}

// parkedRow is a parked entry as a round sees it, with its agency's
// progress read in the same statement.
type parkedRow struct {
	parkedKey
	owner string
	view  agencyView
}

// parkedSchema is the table of parked entries; see above. The primary key
// lets at most one envelope wait per seq (a second one claiming the same
// seq stays held in its frontend's memory, as before parking).
const parkedSchema = `CREATE TABLE IF NOT EXISTS acd_parked (
		agency VARBINARY(255) NOT NULL,
		seq BIGINT UNSIGNED NOT NULL,
		id VARBINARY(255) NOT NULL,
		hash BINARY(32) NOT NULL,
		envelope MEDIUMBLOB NOT NULL,
		owner VARBINARY(255) NOT NULL,
		parked_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
		PRIMARY KEY (agency, seq)
	)`

// park records held entries in acd_parked as this frontend's. It returns
// the keys it parked: an entry whose seq another envelope already waits
// for is not parked.
func (s *shared) park(ctx context.Context, hs []*holder) (map[agencySeq]bool, error) {
	out := map[agencySeq]bool{}
	if len(hs) == 0 {
		return out, nil
	}
	vals := make([]any, 0, 6*len(hs))
	for _, h := range hs {
		e := h.a.Entry
		sum := sha256.Sum256(h.a.Envelope.Raw)
		vals = append(vals, e.Agency, e.Seq, e.ID, sum[:], h.a.Envelope.Raw, s.owner)
	}
	res, err := s.db.ExecContext(ctx, `INSERT IGNORE INTO acd_parked (agency, seq, id, hash, envelope, owner) VALUES `+placeholders(len(hs), "(?,?,?,?,?,?)"), vals...)
	if err != nil {
		return nil, err
	}
	if n, _ := res.RowsAffected(); n == int64(len(hs)) {
		for _, h := range hs {
			out[agencySeq{h.a.Entry.Agency, h.a.Entry.Seq}] = true
		}
		return out, nil
	}
	// Some seqs were taken by other envelopes: read which rows are ours.
	rows, err := s.db.QueryContext(ctx, `SELECT agency, seq, id FROM acd_parked WHERE owner = ?`, s.owner)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	ids := map[agencySeq]string{}
	for rows.Next() {
		var k agencySeq
		var id string
		if err := rows.Scan(&k.agency, &k.seq, &id); err != nil {
			return nil, err
		}
		ids[k] = id
	}
	for _, h := range hs {
		k := agencySeq{h.a.Entry.Agency, h.a.Entry.Seq}
		if ids[k] == h.a.Entry.ID {
			out[k] = true
		}
	}
	return out, rows.Err()
}

// unpark takes this frontend's parked entry back; false means another
// frontend claimed it first.
func (s *shared) unpark(ctx context.Context, h *holder) (bool, error) {
	e := h.a.Entry
	res, err := s.db.ExecContext(ctx, `DELETE FROM acd_parked WHERE agency = ? AND seq = ? AND id = ? AND owner = ?`, e.Agency, e.Seq, e.ID, s.owner)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// unparkAll drops this frontend's parked entries: on open (a previous
// process's, whose clients are gone and will retry) and on close.
func (s *shared) unparkAll(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM acd_parked WHERE owner = ?`, s.owner)
	return err
}

// pool reads every parked entry with its agency's progress, in one
// statement (so a row and the progress it is judged by are of one moment).
func (s *shared) pool(ctx context.Context, local func(id string) bool) (map[string]map[uint64]*parkedRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT p.agency, p.seq, p.id, p.hash, p.owner, COALESCE(a.last_seq, 0),
		COALESCE(e.idx IS NULL AND e.id IS NOT NULL, 0), COALESCE(e.id, '')
		FROM acd_parked p LEFT JOIN acd_agency a ON a.agency = p.agency
		LEFT JOIN acd_entry e ON e.agency = a.agency AND e.seq = a.last_seq`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]map[uint64]*parkedRow{}
	for rows.Next() {
		r := &parkedRow{}
		var pending bool
		var lastID string
		if err := rows.Scan(&r.agency, &r.seq, &r.id, &r.hash, &r.owner, &r.view.last, &pending, &lastID); err != nil {
			return nil, err
		}
		r.view.pendingRemote = pending && !local(lastID)
		if out[r.agency] == nil {
			out[r.agency] = map[uint64]*parkedRow{}
		}
		out[r.agency][r.seq] = r
	}
	return out, rows.Err()
}

// parkedEnvelopes reads the envelopes of parked entries another frontend
// parked, keyed by agency and seq; a row gone or replaced meanwhile is
// left out.
func (s *shared) parkedEnvelopes(ctx context.Context, keys []parkedKey) (map[agencySeq][]byte, error) {
	out := map[agencySeq][]byte{}
	if len(keys) == 0 {
		return out, nil
	}
	var where []string
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		where = append(where, `(agency = ? AND seq = ?)`)
		args = append(args, k.agency, k.seq)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT agency, seq, hash, envelope FROM acd_parked WHERE `+strings.Join(where, " OR "), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	want := map[agencySeq][]byte{}
	for _, k := range keys {
		want[agencySeq{k.agency, k.seq}] = k.hash
	}
	for rows.Next() {
		var k agencySeq
		var hash, env []byte
		if err := rows.Scan(&k.agency, &k.seq, &hash, &env); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(env)
		if bytes.Equal(hash, want[k]) && bytes.Equal(sum[:], hash) {
			out[k] = env
		}
	}
	return out, rows.Err()
}

// claimParked deletes the claimed rows inside a reservation's
// transaction (the agencies' rows are locked already); all or none.
func claimParked(ctx context.Context, tx *sql.Tx, claims []parkedKey) error {
	if len(claims) == 0 {
		return nil
	}
	var where []string
	args := make([]any, 0, 4*len(claims))
	for _, k := range claims {
		where = append(where, `(agency = ? AND seq = ? AND id = ? AND hash = ?)`)
		args = append(args, k.agency, k.seq, k.id, k.hash)
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM acd_parked WHERE `+strings.Join(where, " OR "), args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != int64(len(claims)) {
		return errClaimLost
	}
	return nil
}

// countPeers reads how many other frontends beat within the TTL: parked
// entries are looked for only when there are some.
func (s *shared) countPeers(ctx context.Context) error {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM acd_frontend WHERE owner <> ? AND beat >= NOW(6) - INTERVAL ? MICROSECOND`, s.owner, s.ttl.Microseconds()).Scan(&n)
	if err == nil {
		s.peers.Store(n)
		s.peersAt.Store(time.Now().UnixNano())
	}
	return err
}

// dropDeadParked removes the parked entries of frontends that stopped
// beating: their clients lost the connection and send them again.
func (s *shared) dropDeadParked(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM acd_parked WHERE owner <> ? AND owner NOT IN (SELECT owner FROM acd_frontend WHERE beat >= NOW(6) - INTERVAL ? MICROSECOND)`, s.owner, s.ttl.Microseconds())
	return err
}

// remoteOutcome is what became of a parked entry another frontend claimed.
func remoteOutcome(r *entryRow, h *holder) (idx uint64, done bool, err error) {
	if r == nil {
		return 0, true, fmt.Errorf("entry %s was claimed by another frontend, which stopped before sequencing it: it is not in the log; send it again", h.a.Entry.ID)
	}
	sum := sha256.Sum256(h.a.Envelope.Raw)
	if !bytes.Equal(r.hash, sum[:]) {
		return 0, true, fmt.Errorf("integrity: parked entry %s was claimed, but the entry admitted under its id is another envelope", h.a.Entry.ID)
	}
	if !r.idx.Valid {
		return 0, false, nil
	}
	return uint64(r.idx.Int64), true, nil
}
