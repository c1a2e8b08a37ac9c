package specs

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// LogStateVersion is the version of LogState's saved form. Version 1 (which
// had no version field) kept only each id's index; version 2 also keeps the
// kind, agency and case that rule refs.kind checks references against.
const LogStateVersion = 2

// logStateJSON is how a LogState is saved: each agency's last seq, the
// tables of kinds, agencies and cases, and per entry id the tuple [index,
// kind, agency, case], where kind, agency and case number their table's
// strings from 1 and 0 means not recorded.
type logStateJSON struct {
	Version  int                 `json:"version"`
	LastSeq  map[string]uint64   `json:"last_seq"`
	Kinds    []string            `json:"kinds"`
	Agencies []string            `json:"agencies"`
	Cases    []string            `json:"cases"`
	IDs      map[string][]uint64 `json:"ids"`
}

// MarshalJSON saves the state, for an auditor that follows a live log
// and must carry on after a restart without replaying it.
func (s *LogState) MarshalJSON() ([]byte, error) {
	ids := make(map[string][]uint64, s.Len())
	s.each(func(id string, info entryInfo) {
		ids[id] = []uint64{info.index, uint64(info.kind), uint64(info.agency), uint64(info.kase)}
	})
	return json.Marshal(logStateJSON{Version: LogStateVersion, LastSeq: s.lastSeq,
		Kinds: s.kinds.strs, Agencies: s.agencies.strs, Cases: s.cases.strs, IDs: ids})
}

// UnmarshalJSON restores what MarshalJSON saved. The state is outside
// input: an unknown field, another version, a zero seq, an index still
// pending, a table with an empty or repeated string, or a number past its
// table is refused.
func (s *LogState) UnmarshalJSON(data []byte) error {
	// The version first, so that an older state is named as such rather
	// than as a state of the wrong shape.
	var v struct {
		Version *int `json:"version"`
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return fmt.Errorf("log state: %v", err)
	}
	switch {
	case v.Version == nil:
		return fmt.Errorf("log state: saved by an older acdledger (format 1, which did not record the entry kinds and cases rule %s needs); delete the saved state to replay the log from its start", RuleRefKind)
	case *v.Version != LogStateVersion:
		return fmt.Errorf("log state: version %d, want %d", *v.Version, LogStateVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j logStateJSON
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("log state: %v", err)
	}
	if j.LastSeq == nil {
		j.LastSeq = map[string]uint64{}
	}
	for a, seq := range j.LastSeq {
		if seq == 0 {
			return fmt.Errorf("log state: agency %q has last seq 0", a)
		}
	}
	// The file's numbers are its tables' positions; they are mapped to this
	// state's (the kinds table is fixed by Kinds, the others fill up).
	n := NewLogState()
	var remap [3][]uint32
	for ti, t := range []struct {
		name string
		strs []string
		into *interner
	}{{"kinds", j.Kinds, n.kinds}, {"agencies", j.Agencies, n.agencies}, {"cases", j.Cases, n.cases}} {
		remap[ti] = []uint32{0}
		seen := map[string]bool{}
		for i, str := range t.strs {
			switch {
			case str == "":
				return fmt.Errorf("log state: %s[%d] is empty", t.name, i)
			case seen[str]:
				return fmt.Errorf("log state: %s[%d] %q is listed twice", t.name, i, str)
			}
			seen[str] = true
			k := t.into.id(str)
			if k == 0 {
				return fmt.Errorf("log state: %s[%d] %q: not a kind, or more %s than a state holds", t.name, i, str, t.name)
			}
			remap[ti] = append(remap[ti], k)
		}
	}
	n.ids = make(map[string]entryInfo, len(j.IDs))
	for id, v := range j.IDs {
		switch {
		case len(v) != 4:
			return fmt.Errorf("log state: entry %q: %d numbers, want 4 (index, kind, agency, case)", id, len(v))
		case v[0] == PendingIndex:
			return fmt.Errorf("log state: entry %q has no index", id)
		case v[1] >= uint64(len(remap[0])) || v[2] >= uint64(len(remap[1])) || v[3] >= uint64(len(remap[2])):
			return fmt.Errorf("log state: entry %q: kind, agency or case number past its table", id)
		}
		n.ids[id] = entryInfo{index: v[0], kind: uint8(remap[0][v[1]]), agency: uint16(remap[1][v[2]]), kase: remap[2][v[3]]}
	}
	n.lastSeq = j.LastSeq
	*s = *n
	return nil
}
