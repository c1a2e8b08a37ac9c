package specs

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// LogStateSection is the snapshot section that holds a LogState, and
// LogStateSectionVersion the version of its form (specs/snapshot.md).
const (
	LogStateSection        = "log_state"
	LogStateSectionVersion = 1
)

// MarshalSnapshot writes the state of a log of size entries as a
// log_state section: text, one line per entry in index order (so the
// index is the line's position, and every index below size is there
// exactly once), and the kinds, agencies and cases tables numbered in the
// order the entries first use them. A state has one such form. It fails if
// an entry's index is pending or not below size, or the entries do not
// cover every index: then the state is not the log's and must not be saved.
func (s *LogState) MarshalSnapshot(size uint64) ([]byte, error) {
	if err := s.base.checkAll(); err != nil {
		return nil, err // never write out bytes no check has passed
	}
	if uint64(s.Len()) != size {
		return nil, fmt.Errorf("log state: %d entries for a tree of %d", s.Len(), size)
	}
	byIndex := make([]string, size)
	infos := make([]entryInfo, size)
	var bad error
	s.each(func(id string, info entryInfo) {
		switch {
		case bad != nil:
		case info.index == PendingIndex:
			bad = fmt.Errorf("log state: entry %q has no index yet", id)
		case info.index >= size:
			bad = fmt.Errorf("log state: entry %q at %d, past the tree of %d", id, info.index, size)
		case byIndex[info.index] != "":
			bad = fmt.Errorf("log state: entries %q and %q both at %d", byIndex[info.index], id, info.index)
		default:
			byIndex[info.index], infos[info.index] = id, info
		}
	})
	if bad != nil {
		return nil, bad
	}
	var b bytes.Buffer
	b.Grow(int(size) * 48)
	agencies := make([]string, 0, len(s.lastSeq))
	for a := range s.lastSeq {
		agencies = append(agencies, a)
	}
	slices.Sort(agencies)
	fmt.Fprintf(&b, "last_seq %d\n", len(agencies))
	for _, a := range agencies {
		if !isToken(a) {
			return nil, fmt.Errorf("log state: agency %q is not one token", a)
		}
		fmt.Fprintf(&b, "%s %d\n", a, s.lastSeq[a])
	}
	// Renumber the tables by first use in index order, whatever order
	// this state's interners happen to hold them in.
	var renum [3]map[uint32]uint64
	var tables [3][]string
	src := [3]*interner{s.kinds, s.agencies, s.cases}
	lines := make([][3]uint64, size)
	for i := range byIndex {
		info := infos[i]
		for t, n := range [3]uint32{uint32(info.kind), uint32(info.agency), info.kase} {
			if n == 0 {
				continue
			}
			if renum[t] == nil {
				renum[t] = map[uint32]uint64{}
			}
			m, ok := renum[t][n]
			if !ok {
				tables[t] = append(tables[t], src[t].str(n))
				m = uint64(len(tables[t]))
				renum[t][n] = m
			}
			lines[i][t] = m
		}
	}
	for t, name := range [3]string{"kinds", "agencies", "cases"} {
		fmt.Fprintf(&b, "%s %d\n", name, len(tables[t]))
		for _, str := range tables[t] {
			if !isToken(str) {
				return nil, fmt.Errorf("log state: %s entry %q is not one token", name, str)
			}
			b.WriteString(str)
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "entries %d\n", size)
	var num []byte
	for i, id := range byIndex {
		if !isToken(id) {
			return nil, fmt.Errorf("log state: entry id %q is not one token", id)
		}
		b.WriteString(id)
		for _, n := range lines[i] {
			b.WriteByte(' ')
			num = strconv.AppendUint(num[:0], n, 10)
			b.Write(num)
		}
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// UnmarshalLogStateSnapshot reads a log_state section written for a tree
// of size entries. It is outside input to the extent a file on disk is:
// every line must be exactly as MarshalSnapshot writes it (the one form),
// or it is refused with the line and the rule.
func UnmarshalLogStateSnapshot(data []byte, size uint64) (*LogState, error) {
	r := &lineReader{data: data}
	fail := func(field, format string, args ...any) error {
		return snapErr(LogStateSection+" "+field, format, args...)
	}
	count := func(kw string) (uint64, error) { return readCount(r, kw, fail) }
	s := NewLogState()
	if err := readLastSeqs(r, s, fail); err != nil {
		return nil, err
	}
	var remap [3][]uint32
	for t, tb := range []struct {
		name string
		into *interner
	}{{"kinds", s.kinds}, {"agencies", s.agencies}, {"cases", s.cases}} {
		n, err := count(tb.name)
		if err != nil {
			return nil, err
		}
		remap[t] = []uint32{0}
		seen := map[string]bool{}
		for i := range n {
			str, ok := r.line()
			field := fmt.Sprintf("%s line %d", tb.name, i+1)
			switch {
			case !ok || !isToken(str):
				return nil, fail(field, "want one token of printable characters")
			case seen[str]:
				return nil, fail(field, "%q is listed twice", truncate(str))
			}
			seen[str] = true
			k := tb.into.id(str)
			if k == 0 {
				return nil, fail(field, "%q: not a kind, or more %s than a state holds", truncate(str), tb.name)
			}
			remap[t] = append(remap[t], k)
		}
	}
	n, err := count("entries")
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, fail("entries", "%d entries for a tree of %d", n, size)
	}
	s.ids = make(map[string]entryInfo, n)
	var used [3]uint64 // the highest table number used so far: a new one must be the next
	for i := range n {
		l, ok := r.line()
		field := entryField(i)
		if !ok {
			return nil, fail(field.String(), "missing")
		}
		id, rest, _ := cutSpace(l)
		if !isToken(id) {
			return nil, fail(field.String(), "want \"ID KIND AGENCY CASE\"")
		}
		var nums [3]uint64
		for t := range nums {
			var f string
			var more bool
			f, rest, more = cutSpace(rest)
			v, err := parseDecimal(f)
			if err == nil && more != (t < 2) {
				err = fmt.Errorf("one space between fields, none at the end")
			}
			if err != nil {
				return nil, fail(field.String(), "want \"ID KIND AGENCY CASE\" with decimal numbers: %v", err)
			}
			switch {
			case v >= uint64(len(remap[t])):
				return nil, fail(field.String(), "number %d is past its table", v)
			case v > used[t]+1:
				return nil, fail(field.String(), "number %d used before %d (tables are numbered in order of first use)", v, used[t]+1)
			case v == used[t]+1:
				used[t] = v
			}
			nums[t] = v
		}
		// One map operation per entry: a repeated id leaves the map's
		// length unchanged.
		s.ids[id] = entryInfo{index: i, kind: uint8(remap[0][nums[0]]), agency: uint16(remap[1][nums[1]]), kase: remap[2][nums[2]]}
		if uint64(len(s.ids)) != i+1 {
			return nil, fail(field.String(), "id %q is already at an earlier index", truncate(id))
		}
	}
	for t, name := range [3]string{"kinds", "agencies", "cases"} {
		if used[t] != uint64(len(remap[t])-1) {
			return nil, fail(name, "lists %d, of which entries use %d (every listed one must be used)", len(remap[t])-1, used[t])
		}
	}
	if r.pos != len(data) {
		return nil, fail("end", "bytes follow the last entry")
	}
	return s, nil
}

// cutSpace splits at the first space.
func cutSpace(s string) (before, after string, found bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

// entryField names entry line i in an error; a type, so that the million
// lines that read fine cost no formatting.
type entryField uint64

func (i entryField) String() string { return fmt.Sprintf("entry %d", uint64(i)) }
