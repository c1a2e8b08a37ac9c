package specs

import (
	"encoding/binary"
	"sort"
	"sync"
	"sync/atomic"
)

// idTable is the id set of a log_state version 2 section (specs/snapshot.md),
// used where it lies in the snapshot's bytes: n fixed-width records sorted
// by id, then the ids themselves, concatenated in record order. Opening a
// ledger then costs one pass that checks the table (no map insert, no
// allocation per entry), and a lookup is a binary search. A LogState
// keeps entries recorded after the snapshot in its map, beside the table;
// the table is never written to.
type idTable struct {
	recs []byte // n × tableRecSize
	ids  []byte
	n    int
	// remap turns a section's table number (kinds, agencies, cases) into
	// the number the LogState's interner gave that string.
	remap [3][]uint32
	lens  [3]int // the tables' lengths, what a record's numbers are checked against

	// blocks, for a version 3 table, are its parts checked on first use
	// (see state_snapshot_v3.go); nil for a version 2 table, which its
	// reader checked whole.
	blocks  []tableBlock
	allMu   sync.Mutex // the whole-table check (checkAll), once it has a verdict
	allDone bool
	allErr  error
	fault   atomic.Pointer[error] // the first fault any check found
}

// A record, big-endian: the entry's log index (8 bytes), the offset of its
// id in the id area (4), its case number (4), agency number (2) and kind
// number (2). An id runs to the next record's offset (the last one to the
// end of the area).
const (
	tableRecSize = 20
	recOffAt     = 8
	recCaseAt    = 12
	recAgencyAt  = 16
	recKindAt    = 18
)

func (t *idTable) off(i int) int {
	return int(binary.BigEndian.Uint32(t.recs[i*tableRecSize+recOffAt:]))
}

// end is where record i's id ends: the next record's offset, or, for a
// block's last record, the next block's offset from the index (so that
// reading a block never touches a byte of the next one, which may not be
// checked yet), or the end of the area.
func (t *idTable) end(i int) int {
	switch {
	case i+1 >= t.n:
		return len(t.ids)
	case t.blocks != nil && (i+1)%blockRecords == 0:
		return t.blocks[(i+1)/blockRecords].off
	}
	return t.off(i + 1)
}

// id returns the bytes of record i's id.
func (t *idTable) id(i int) []byte {
	return t.ids[t.off(i):t.end(i)]
}

// info returns what record i says of its entry, in the state's numbers.
func (t *idTable) info(i int) entryInfo {
	r := t.recs[i*tableRecSize:]
	return entryInfo{
		index:  binary.BigEndian.Uint64(r),
		kase:   t.remap[2][binary.BigEndian.Uint32(r[recCaseAt:])],
		agency: uint16(t.remap[1][binary.BigEndian.Uint16(r[recAgencyAt:])]),
		kind:   uint8(t.remap[0][binary.BigEndian.Uint16(r[recKindAt:])]),
	}
}

// find looks an id up by binary search: about log2(n) comparisons of ids,
// a few microseconds at ten million entries, against the hundreds an
// admission's signature check costs. (Sorting by a hash of the id would
// allow an interpolation search, but then the reader would have to hash
// every id to check the order; ordering by the id itself is checked with
// one comparison per entry.)
func (t *idTable) find(id string) (entryInfo, bool) {
	if t == nil {
		return entryInfo{}, false
	}
	lo, hi := 0, t.n
	var limit int
	if t.blocks != nil {
		// The block whose first id is the last at or before id, checked
		// before any of its bytes is used.
		b := sort.Search(len(t.blocks), func(k int) bool { return t.blocks[k].first > id }) - 1
		if b < 0 {
			return entryInfo{}, false
		}
		if t.checkBlock(b) != nil {
			// Not found; the caller sees the fault (LogState.TableFault)
			// and refuses rather than trusts a "not found".
			return entryInfo{}, false
		}
		lo, hi = b*blockRecords, min(t.n, (b+1)*blockRecords)
	}
	limit = hi
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		// string(b) in a comparison does not allocate.
		if string(t.id(m)) < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < limit && string(t.id(lo)) == id {
		return t.info(lo), true
	}
	return entryInfo{}, false
}
