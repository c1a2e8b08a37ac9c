package specs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
)

// LogStateSectionVersion3 is version 2's table cut into blocks of
// blockRecords records, each with its SHA-256 and first id in a small
// index (specs/snapshot.md). The index is under the file's checksum; the
// blocks are not (container version 2) and are checked one at a time, on
// first use or by a background pass: opening a ledger no longer reads
// every byte of its id set, which is what kept it linear in the log.
const LogStateSectionVersion3 = 3

// blockRecords is the number of records of a block (the last block holds
// the rest): a block check hashes about 130 KB of a typical table, tens of
// microseconds, so an admission that lands in an unchecked block waits
// that long once; and the index of ten million entries is about 2,400
// lines.
const blockRecords = 4096

// ErrTableFault is wrapped by every error of a block or of the whole-table
// check of a version 3 table: the snapshot is damaged, and the ledger must
// stop using the state read from it and rebuild from the log.
var ErrTableFault = errors.New("the admission snapshot's id table failed its check")

// tableBlock is one block of a version 3 table, as its index line says.
type tableBlock struct {
	first string // its first id
	off   int    // where its ids start in the id area
	sum   [sha256.Size]byte
	once  chan struct{} // holds one token until the first checker takes it; closed once checked
	err   error
	done  atomic.Bool // checked (with err its verdict)
}

// MarshalSnapshotV3 writes the state as a log_state section of version 3:
// version 2's text part, a line "entries N L B", B index lines "SHA256
// OFFSET FIRSTID", then the records and ids as version 2 has them. It
// returns the section's data and how many bytes at its end (the records
// and ids) the file's checksum leaves to the blocks' own hashes.
func (s *LogState) MarshalSnapshotV3(size uint64) ([]byte, int, error) {
	b, recs, ids, err := s.marshalTable(size)
	if err != nil {
		return nil, 0, err
	}
	n := int(size)
	nb := (n + blockRecords - 1) / blockRecords
	fmt.Fprintf(b, "entries %d %d %d\n", n, len(ids), nb)
	for k := range nb {
		from, to := k*blockRecords, min(n, (k+1)*blockRecords)
		off := int(binary.BigEndian.Uint32(recs[from*tableRecSize+recOffAt:]))
		end := len(ids)
		if to < n {
			end = int(binary.BigEndian.Uint32(recs[to*tableRecSize+recOffAt:]))
		}
		h := sha256.New()
		h.Write(recs[from*tableRecSize : to*tableRecSize])
		h.Write(ids[off:end])
		fmt.Fprintf(b, "%s %d %s\n", hex.EncodeToString(h.Sum(nil)), off, ids[off:end][:idLenAt(recs, from, to, off, end)])
	}
	b.Write(recs)
	b.Write(ids)
	return b.Bytes(), len(recs) + len(ids), nil
}

// idLenAt is the length of record from's id, in a block [from, to) whose
// ids are ids[off:end].
func idLenAt(recs []byte, from, to, off, end int) int {
	if from+1 < to {
		return int(binary.BigEndian.Uint32(recs[(from+1)*tableRecSize+recOffAt:])) - off
	}
	return end - off
}

// UnmarshalLogStateSnapshotV3 reads a log_state section of version 3
// whose last unhashed bytes the file's checksum leaves out: those must be
// exactly the records and ids. It checks the text part and the block index
// (offsets from 0 ascending by at least their blocks' record counts within
// the id area, first ids tokens strictly ascending), none of the blocks:
// each is checked the first time a lookup lands in it (checkBlock), and
// CheckTable checks them all and the rules that need the whole table.
// Until CheckTable has passed, the state's lookups use only blocks that
// passed their check, and a failed one is reported by TableFault.
func UnmarshalLogStateSnapshotV3(data []byte, unhashed int, size uint64) (*LogState, error) {
	r, s, t, _, err := readTables(data)
	if err != nil {
		return nil, err
	}
	fail := logStateFail
	l, ok := r.line()
	f := strings.Split(l, " ")
	if !ok || len(f) != 4 || f[0] != "entries" {
		return nil, fail("entries", "want a line %q", "entries N IDBYTES BLOCKS")
	}
	var nums [3]uint64
	for i, what := range [3]string{"count", "id bytes", "blocks"} {
		if nums[i], err = parseDecimal(f[i+1]); err != nil {
			return nil, fail("entries", "%s: %v", what, err)
		}
	}
	n, idLen, nb := nums[0], nums[1], nums[2]
	switch {
	case n != size:
		return nil, fail("entries", "%d entries for a tree of %d", n, size)
	case idLen > math.MaxUint32:
		return nil, fail("entries", "%d bytes of ids: offsets are 4 bytes", idLen)
	case n > 0 && idLen < n || n == 0 && idLen != 0:
		return nil, fail("entries", "%d bytes of ids for %d ids (each at least a byte)", idLen, n)
	case nb != (n+blockRecords-1)/blockRecords:
		return nil, fail("entries", "%d blocks for %d records (blocks of %d)", nb, n, blockRecords)
	}
	t.n = int(n)
	t.blocks = make([]tableBlock, nb)
	for k := range t.blocks {
		bl := &t.blocks[k]
		l, ok := r.line()
		field := fmt.Sprintf("block %d", k)
		sum, rest, two := cutSpace(l)
		offStr, first, three := cutSpace(rest)
		if !ok || !two || !three {
			return nil, fail(field, "want a line \"SHA256 OFFSET FIRSTID\"")
		}
		if len(sum) != 2*sha256.Size || hex.EncodeToString(must(hex.DecodeString(sum))) != sum {
			return nil, fail(field, "sha256: want %d lower-case hex digits", 2*sha256.Size)
		}
		hex.Decode(bl.sum[:], []byte(sum))
		off, err := parseDecimal(offStr)
		if err != nil {
			return nil, fail(field, "offset: %v", err)
		}
		recsIn := uint64(min(int(n)-k*blockRecords, blockRecords))
		switch {
		case k == 0 && off != 0:
			return nil, fail(field, "offset %d; the first block's ids start at 0", off)
		case k > 0 && off < uint64(t.blocks[k-1].off)+blockRecords:
			return nil, fail(field, "offset %d: not after the previous block's %d ids (each at least a byte)", off, blockRecords)
		case off+recsIn > idLen:
			return nil, fail(field, "offset %d: its %d ids do not fit in the %d bytes of ids", off, recsIn, idLen)
		case !isToken(first):
			return nil, fail(field, "first id: not one token of printable characters")
		case k > 0 && first <= t.blocks[k-1].first:
			return nil, fail(field, "first id %q is not after the previous block's %q (blocks ascend by id)", truncate(first), truncate(t.blocks[k-1].first))
		}
		bl.off, bl.first, bl.once = int(off), first, make(chan struct{}, 1)
		bl.once <- struct{}{}
	}
	rest := uint64(len(data) - r.pos)
	if n > rest/tableRecSize || idLen != rest-n*tableRecSize {
		return nil, fail("entries", "%d records of %d bytes and %d bytes of ids, but the section has %d bytes after the block index", n, tableRecSize, idLen, rest)
	}
	if uint64(unhashed) != rest {
		return nil, fail("entries", "%d bytes are outside the file's checksum; exactly the %d bytes of records and ids must be", unhashed, rest)
	}
	t.recs = data[r.pos : r.pos+int(n)*tableRecSize]
	t.ids = data[r.pos+int(n)*tableRecSize:]
	s.base = t
	return s, nil
}

func must[T any](v T, _ error) T { return v }

// checkBlock checks block k once (whoever asks first does it, the others
// wait for its verdict): its SHA-256; its first record's offset and id are
// the index's; offsets ascend strictly to the next block's offset (or the
// end of the area); each id a token, ascending, the last before the next
// block's first id; indices below N; numbers within their tables. After
// it, every byte of the block has one reading and is what the writer
// wrote; no other block's byte was read.
func (t *idTable) checkBlock(k int) error {
	bl := &t.blocks[k]
	if _, first := <-bl.once; first {
		bl.err = t.checkBlockBytes(k)
		if bl.err != nil {
			t.setFault(bl.err)
		}
		bl.done.Store(true)
		close(bl.once)
	}
	return bl.err
}

func (t *idTable) checkBlockBytes(k int) error {
	bl := &t.blocks[k]
	from, to := k*blockRecords, min(t.n, (k+1)*blockRecords)
	end := len(t.ids)
	if k+1 < len(t.blocks) {
		end = t.blocks[k+1].off
	}
	fail := func(field, format string, args ...any) error {
		return fmt.Errorf("%w: %w", ErrTableFault, logStateFail(field, format, args...))
	}
	h := sha256.New()
	h.Write(t.recs[from*tableRecSize : to*tableRecSize])
	h.Write(t.ids[bl.off:end])
	if !bytes.Equal(h.Sum(nil), bl.sum[:]) {
		return fail(fmt.Sprintf("block %d", k), "its records and ids do not match its SHA-256 in the index")
	}
	var prev []byte
	for i := from; i < to; i++ {
		off, e := t.off(i), t.end(i)
		switch {
		case i == from && off != bl.off:
			return fail(entryField(i).String(), "id offset %d; its block's ids start at %d", off, bl.off)
		case e <= off || e > end:
			return fail(entryField(i).String(), "id from offset %d to %d: offsets ascend strictly within the block's ids, %d to %d (no id is empty)", off, e, bl.off, end)
		}
		id := t.ids[off:e]
		switch {
		case !isToken(id):
			return fail(entryField(i).String(), "the id is not one token of printable characters")
		case i == from && string(id) != bl.first:
			return fail(entryField(i).String(), "id %q, but the index says its block starts with %q", truncate(string(id)), truncate(bl.first))
		case i > from && string(prev) >= string(id):
			return fail(entryField(i).String(), "id %q is not after %q (records ascend by id, each id once)", truncate(string(id)), truncate(string(prev)))
		case i == to-1 && k+1 < len(t.blocks) && string(id) >= t.blocks[k+1].first:
			return fail(entryField(i).String(), "id %q is not before the next block's first id %q", truncate(string(id)), truncate(t.blocks[k+1].first))
		}
		prev = id
		rec := t.recs[i*tableRecSize:]
		if idx := binary.BigEndian.Uint64(rec); idx >= uint64(t.n) {
			return fail(entryField(i).String(), "index %d past the tree of %d", idx, t.n)
		}
		nums := [3]uint64{uint64(binary.BigEndian.Uint16(rec[recKindAt:])), uint64(binary.BigEndian.Uint16(rec[recAgencyAt:])), uint64(binary.BigEndian.Uint32(rec[recCaseAt:]))}
		for ti, v := range nums {
			if v > uint64(t.lens[ti]) {
				return fail(entryField(i).String(), "%s number %d is past its table of %d", [3]string{"kind", "agency", "case"}[ti], v, t.lens[ti])
			}
		}
	}
	return nil
}

func (t *idTable) setFault(err error) { t.fault.CompareAndSwap(nil, &err) }

// checkAll checks every block and then the rules only the whole table
// shows: every index below N in exactly one record, every string of the
// tables used by some record. Once (a later call returns the verdict); nil for a version 2 table (its reader
// checked it whole) or no table.
func (t *idTable) checkAll() error {
	return t.checkAllCtx(context.Background())
}

func (t *idTable) checkAllCtx(ctx context.Context) error {
	if t == nil || t.blocks == nil {
		return nil
	}
	t.allMu.Lock()
	defer t.allMu.Unlock()
	if t.allDone {
		return t.allErr
	}
	// The blocks are checked on every core (each is hashed and read on
	// its own, and checkBlock already lets lookups race this pass), each
	// worker taking the next unchecked one. A fault does not stop the
	// others: the verdict is the first failing block's, as one pass in
	// order would give, whichever worker found it first.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(t.blocks)) {
		wg.Go(func() {
			for ctx.Err() == nil {
				k := int(next.Add(1) - 1)
				if k >= len(t.blocks) {
					return
				}
				t.checkBlock(k)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err // not a verdict: stopped (the ledger closed); a later call starts again
	}
	for k := range t.blocks {
		if err := t.checkBlock(k); err != nil { // each checked already: its verdict
			t.allDone, t.allErr = true, err
			return err
		}
	}
	t.allDone = true
	{
		seen := make([]uint64, (t.n+63)/64)
		var used [3][]bool
		for ti := range used {
			used[ti] = make([]bool, t.lens[ti]+1)
		}
		for i := range t.n {
			rec := t.recs[i*tableRecSize:]
			idx := binary.BigEndian.Uint64(rec)
			if seen[idx/64]&(1<<(idx%64)) != 0 {
				t.allErr = fmt.Errorf("%w: %w", ErrTableFault, logStateFail(entryField(i).String(), "index %d is another record's (each index once)", idx))
				break
			}
			seen[idx/64] |= 1 << (idx % 64)
			used[0][binary.BigEndian.Uint16(rec[recKindAt:])] = true
			used[1][binary.BigEndian.Uint16(rec[recAgencyAt:])] = true
			used[2][binary.BigEndian.Uint32(rec[recCaseAt:])] = true
		}
		for ti, name := range [3]string{"kinds", "agencies", "cases"} {
			for k := 1; k < len(used[ti]) && t.allErr == nil; k++ {
				if !used[ti][k] {
					t.allErr = fmt.Errorf("%w: %w", ErrTableFault, logStateFail(fmt.Sprintf("%s line %d", name, k), "listed but no entry uses it (every listed one must be used)"))
				}
			}
		}
		if t.allErr != nil {
			t.setFault(t.allErr)
		}
	}
	return t.allErr
}

// CheckTable checks the whole id table read from a version 3 snapshot
// (every block, then the rules that need all of them): the ledger runs it
// in the background once open. An error wrapping ErrTableFault means the
// state must not be used any longer; ctx's error, that it was stopped.
// Nil at once for a state not read from a version 3 snapshot.
func (s *LogState) CheckTable(ctx context.Context) error { return s.base.checkAllCtx(ctx) }

// TableFault is the first fault any check of the state's version 3 table
// found, or nil. A lookup that lands in a failed block finds nothing
// there; CheckVerified then returns this fault instead of its verdict.
func (s *LogState) TableFault() error {
	if s.base == nil {
		return nil
	}
	if p := s.base.fault.Load(); p != nil {
		return *p
	}
	return nil
}
