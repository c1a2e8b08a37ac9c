package specs

import "encoding/binary"

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

// id returns the bytes of record i's id.
func (t *idTable) id(i int) []byte {
	end := len(t.ids)
	if i+1 < t.n {
		end = t.off(i + 1)
	}
	return t.ids[t.off(i):end]
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
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		// string(b) in a comparison does not allocate.
		if string(t.id(m)) < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < t.n && string(t.id(lo)) == id {
		return t.info(lo), true
	}
	return entryInfo{}, false
}
