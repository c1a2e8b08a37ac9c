package specs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
)

// LogStateSectionVersion2 is the form of the log_state section whose id
// set is a sorted table of fixed-width records (specs/snapshot.md): read
// in place, it costs a start one checking pass over bytes instead of a map
// insert per entry, which is what made opening a ledger linear in its log.
const LogStateSectionVersion2 = 2

// MarshalSnapshotV2 writes the state of a log of size entries as a
// log_state section of version 2: the last seqs, the kinds, agencies and
// cases tables each in ascending byte order (only the strings some entry
// uses), a line "entries N L", then N records sorted by id and the L bytes
// of the ids. The records of a table this state was read from are copied
// in order and merged with the entries recorded since, sorted: no map is
// built of the whole set. It fails as MarshalSnapshot does when the state
// is not the log's at size.
func (s *LogState) MarshalSnapshotV2(size uint64) ([]byte, error) {
	b, recs, ids, err := s.marshalTable(size)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(b, "entries %d %d\n", size, len(ids))
	b.Write(recs)
	b.Write(ids)
	return b.Bytes(), nil
}

// marshalTable is MarshalSnapshotV2 but for the entries line: the text
// part (last seqs and tables), the records sorted by id and the id area,
// shared by versions 2 and 3.
func (s *LogState) marshalTable(size uint64) (*bytes.Buffer, []byte, []byte, error) {
	if err := s.base.checkAll(); err != nil {
		return nil, nil, nil, err // never write out bytes no check has passed
	}
	if uint64(s.Len()) != size {
		return nil, nil, nil, fmt.Errorf("log state: %d entries for a tree of %d", s.Len(), size)
	}
	type item struct {
		id   string
		info entryInfo
	}
	fresh := make([]item, 0, len(s.ids))
	for id, info := range s.ids {
		fresh = append(fresh, item{id, info})
	}
	slices.SortFunc(fresh, func(a, b item) int { return strings.Compare(a.id, b.id) })
	src := [3]*interner{s.kinds, s.agencies, s.cases}
	var used [3][]bool
	for t := range used {
		used[t] = make([]bool, len(src[t].strs)+1)
	}
	seen := make([]uint64, (size+63)/64) // indices written
	recs := make([]byte, 0, int(size)*tableRecSize)
	var ids []byte
	if s.base != nil {
		ids = make([]byte, 0, len(s.base.ids)+len(fresh)*16)
	}
	var prev []byte
	put := func(id []byte, info entryInfo) error {
		switch {
		case info.index == PendingIndex:
			return fmt.Errorf("log state: entry %q has no index yet", id)
		case info.index >= size:
			return fmt.Errorf("log state: entry %q at %d, past the tree of %d", id, info.index, size)
		case seen[info.index/64]&(1<<(info.index%64)) != 0:
			return fmt.Errorf("log state: two entries at %d (one is %q)", info.index, id)
		case !isToken(id):
			return fmt.Errorf("log state: entry id %q is not one token", id)
		case len(recs) > 0 && string(prev) >= string(id):
			return fmt.Errorf("log state: entry %q out of order", id) // cannot happen: merged from sorted parts
		case len(ids)+len(id) > math.MaxUint32:
			return fmt.Errorf("log state: the ids take more than %d bytes, past a version 2 table's offsets", uint32(math.MaxUint32))
		}
		seen[info.index/64] |= 1 << (info.index % 64)
		nums := [3]uint32{uint32(info.kind), uint32(info.agency), info.kase}
		for t, n := range nums {
			used[t][n] = true
		}
		// The interner's numbers for now; renumbered below once the tables
		// are known.
		var r [tableRecSize]byte
		binary.BigEndian.PutUint64(r[:], info.index)
		binary.BigEndian.PutUint32(r[recOffAt:], uint32(len(ids)))
		binary.BigEndian.PutUint32(r[recCaseAt:], nums[2])
		binary.BigEndian.PutUint16(r[recAgencyAt:], uint16(nums[1]))
		binary.BigEndian.PutUint16(r[recKindAt:], uint16(nums[0]))
		recs = append(recs, r[:]...)
		start := len(ids)
		ids = append(ids, id...)
		prev = ids[start:]
		return nil
	}
	// Merge the table (sorted) with the fresh entries (sorted); an id in
	// both is the fresh one's.
	j := 0
	if t := s.base; t != nil {
		for i := range t.n {
			id := t.id(i)
			for j < len(fresh) && fresh[j].id < string(id) {
				if err := put([]byte(fresh[j].id), fresh[j].info); err != nil {
					return nil, nil, nil, err
				}
				j++
			}
			if j < len(fresh) && fresh[j].id == string(id) {
				continue // shadowed: written from fresh
			}
			if err := put(id, t.info(i)); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	for ; j < len(fresh); j++ {
		if err := put([]byte(fresh[j].id), fresh[j].info); err != nil {
			return nil, nil, nil, err
		}
	}
	// Tables: the used strings in ascending order, numbered from 1.
	var b bytes.Buffer
	b.Grow(len(recs) + len(ids) + 1024)
	agencies := make([]string, 0, len(s.lastSeq))
	for a := range s.lastSeq {
		agencies = append(agencies, a)
	}
	slices.Sort(agencies)
	fmt.Fprintf(&b, "last_seq %d\n", len(agencies))
	for _, a := range agencies {
		if !isToken(a) {
			return nil, nil, nil, fmt.Errorf("log state: agency %q is not one token", a)
		}
		fmt.Fprintf(&b, "%s %d\n", a, s.lastSeq[a])
	}
	var renum [3][]uint32
	for t, name := range [3]string{"kinds", "agencies", "cases"} {
		var strs []string
		for n := 1; n < len(used[t]); n++ {
			if used[t][n] {
				strs = append(strs, src[t].str(uint32(n)))
			}
		}
		slices.Sort(strs)
		renum[t] = make([]uint32, len(used[t]))
		for n := 1; n < len(used[t]); n++ {
			if used[t][n] {
				k, _ := slices.BinarySearch(strs, src[t].str(uint32(n)))
				renum[t][n] = uint32(k + 1)
			}
		}
		fmt.Fprintf(&b, "%s %d\n", name, len(strs))
		for _, str := range strs {
			if !isToken(str) {
				return nil, nil, nil, fmt.Errorf("log state: %s entry %q is not one token", name, str)
			}
			b.WriteString(str)
			b.WriteByte('\n')
		}
	}
	for r := recs; len(r) > 0; r = r[tableRecSize:] {
		binary.BigEndian.PutUint32(r[recCaseAt:], renum[2][binary.BigEndian.Uint32(r[recCaseAt:])])
		binary.BigEndian.PutUint16(r[recAgencyAt:], uint16(renum[1][binary.BigEndian.Uint16(r[recAgencyAt:])]))
		binary.BigEndian.PutUint16(r[recKindAt:], uint16(renum[0][binary.BigEndian.Uint16(r[recKindAt:])]))
	}
	return &b, recs, ids, nil
}

// UnmarshalLogStateSnapshotV2 reads a log_state section of version 2
// written for a tree of size entries, checking every byte against the one
// form MarshalSnapshotV2 writes: tables strictly ascending and each string
// used, N equal to size, records strictly ascending by id, every index
// below N exactly once, offsets that tile the id area, every id a token,
// every number within its table. The state's id set stays in data, which
// must not change while the state is in use. The check is one pass over
// the bytes with a bit per index and no allocation per entry.
func UnmarshalLogStateSnapshotV2(data []byte, size uint64) (*LogState, error) {
	r, s, t, lens, err := readTables(data)
	if err != nil {
		return nil, err
	}
	fail := logStateFail
	l, ok := r.line()
	f := strings.Split(l, " ")
	if !ok || len(f) != 3 || f[0] != "entries" {
		return nil, fail("entries", "want a line %q", "entries N IDBYTES")
	}
	n, err := parseDecimal(f[1])
	if err != nil {
		return nil, fail("entries", "count: %v", err)
	}
	if n != size {
		return nil, fail("entries", "%d entries for a tree of %d", n, size)
	}
	idLen, err := parseDecimal(f[2])
	if err != nil {
		return nil, fail("entries", "id bytes: %v", err)
	}
	rest := uint64(len(data) - r.pos)
	if n > rest/tableRecSize || idLen != rest-n*tableRecSize {
		return nil, fail("entries", "%d records of %d bytes and %d bytes of ids, but the section has %d bytes after this line", n, tableRecSize, idLen, rest)
	}
	if idLen > math.MaxUint32 {
		return nil, fail("entries", "%d bytes of ids: offsets are 4 bytes", idLen)
	}
	if n > 0 && idLen < n || n == 0 && idLen != 0 {
		return nil, fail("entries", "%d bytes of ids for %d ids (each at least a byte)", idLen, n)
	}
	t.n = int(n)
	t.recs = data[r.pos : r.pos+int(n)*tableRecSize]
	t.ids = data[r.pos+int(n)*tableRecSize:]
	seen := make([]uint64, (n+63)/64)
	var used [3][]bool
	for ti := range used {
		used[ti] = make([]bool, lens[ti]+1)
	}
	var prev []byte
	for i := 0; i < t.n; i++ {
		rec := t.recs[i*tableRecSize:]
		off, end := t.off(i), int(idLen)
		if i+1 < t.n {
			end = t.off(i + 1)
		}
		switch {
		case i == 0 && off != 0:
			return nil, fail(entryField(i).String(), "id offset %d; the first id starts at 0", off)
		case end <= off || uint64(end) > idLen:
			return nil, fail(entryField(i).String(), "id from offset %d to %d: offsets ascend strictly within the %d bytes of ids (no id is empty)", off, end, idLen)
		}
		id := t.ids[off:end]
		switch {
		case !isToken(id):
			return nil, fail(entryField(i).String(), "the id is not one token of printable characters")
		case i > 0 && string(prev) >= string(id):
			return nil, fail(entryField(i).String(), "id %q is not after %q (records ascend by id, each id once)", truncate(string(id)), truncate(string(prev)))
		}
		prev = id
		idx := binary.BigEndian.Uint64(rec)
		switch {
		case idx >= n:
			return nil, fail(entryField(i).String(), "index %d past the tree of %d", idx, n)
		case seen[idx/64]&(1<<(idx%64)) != 0:
			return nil, fail(entryField(i).String(), "index %d is another record's (each index once)", idx)
		}
		seen[idx/64] |= 1 << (idx % 64)
		nums := [3]uint64{uint64(binary.BigEndian.Uint16(rec[recKindAt:])), uint64(binary.BigEndian.Uint16(rec[recAgencyAt:])), uint64(binary.BigEndian.Uint32(rec[recCaseAt:]))}
		for ti, v := range nums {
			if v > uint64(lens[ti]) {
				return nil, fail(entryField(i).String(), "%s number %d is past its table of %d", [3]string{"kind", "agency", "case"}[ti], v, lens[ti])
			}
			used[ti][v] = true
		}
	}
	for ti, name := range [3]string{"kinds", "agencies", "cases"} {
		for k := 1; k < len(used[ti]); k++ {
			if !used[ti][k] {
				return nil, fail(name, "%q is listed but no entry uses it (every listed one must be used)", truncate(s.stringOf(ti, t.remap[ti][k])))
			}
		}
	}
	s.base = t
	return s, nil
}

// logStateFail makes the error of a log_state field.
func logStateFail(field, format string, args ...any) error {
	return snapErr(LogStateSection+" "+field, format, args...)
}

// readTables reads the text part versions 2 and 3 share: the last seqs
// and the kinds, agencies and cases tables, up to the entries line.
func readTables(data []byte) (r *lineReader, s *LogState, t *idTable, lens [3]int, err error) {
	r = &lineReader{data: data}
	fail := logStateFail
	s = NewLogState()
	if err := readLastSeqs(r, s, fail); err != nil {
		return nil, nil, nil, lens, err
	}
	t = &idTable{}
	for ti, tb := range []struct {
		name string
		into *interner
	}{{"kinds", s.kinds}, {"agencies", s.agencies}, {"cases", s.cases}} {
		n, err := readCount(r, tb.name, fail)
		if err != nil {
			return nil, nil, nil, lens, err
		}
		limit := uint64(math.MaxUint16)
		if ti == 2 {
			limit = math.MaxUint32
		}
		if n > limit {
			return nil, nil, nil, lens, fail(tb.name, "count %d is more than a record's number holds", n)
		}
		t.remap[ti] = []uint32{0}
		prev := ""
		for i := range n {
			str, ok := r.line()
			// Named only on error: a table may hold a string per case.
			field := func() string { return fmt.Sprintf("%s line %d", tb.name, i+1) }
			switch {
			case !ok || !isToken(str):
				return nil, nil, nil, lens, fail(field(), "want one token of printable characters")
			case i > 0 && str <= prev:
				return nil, nil, nil, lens, fail(field(), "%q out of order or repeated (ascending byte order, each once)", truncate(str))
			}
			prev = str
			k := tb.into.id(str)
			if k == 0 {
				return nil, nil, nil, lens, fail(field(), "%q: not a kind, or more %s than a state holds", truncate(str), tb.name)
			}
			t.remap[ti] = append(t.remap[ti], k)
		}
		lens[ti] = int(n)
	}
	t.lens = lens
	return r, s, t, lens, nil
}

func (s *LogState) stringOf(table int, n uint32) string {
	return [3]*interner{s.kinds, s.agencies, s.cases}[table].str(n)
}

// readCount reads a line "KEYWORD COUNT".
func readCount(r *lineReader, kw string, fail func(string, string, ...any) error) (uint64, error) {
	v, err := r.keyword(kw)
	if err != nil {
		return 0, fail(kw, "want a line %q", kw+" COUNT")
	}
	n, err := parseDecimal(v)
	if err != nil {
		return 0, fail(kw, "count: %v", err)
	}
	if n > uint64(len(r.data)) { // every item takes at least a byte
		return 0, fail(kw, "count %d is more than the section holds", n)
	}
	return n, nil
}

// readLastSeqs reads the last_seq lines, the same in both versions:
// agencies ascending, each once, seqs from 1.
func readLastSeqs(r *lineReader, s *LogState, fail func(string, string, ...any) error) error {
	n, err := readCount(r, "last_seq", fail)
	if err != nil {
		return err
	}
	prev := ""
	for i := range n {
		l, ok := r.line()
		a, seqStr, two := cutSpace(l)
		if !ok || !two || !isToken(a) {
			return fail(fmt.Sprintf("last_seq line %d", i+1), "want \"AGENCY SEQ\"")
		}
		if i > 0 && a <= prev {
			return fail(fmt.Sprintf("last_seq line %d", i+1), "agency %q out of order or repeated (ascending, each once)", truncate(a))
		}
		prev = a
		seq, err := parseDecimal(seqStr)
		if err != nil || seq == 0 {
			return fail(fmt.Sprintf("last_seq line %d", i+1), "seq: a decimal from 1, without leading zeros")
		}
		s.lastSeq[a] = seq
	}
	return nil
}
