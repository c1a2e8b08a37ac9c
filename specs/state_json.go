package specs

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// logStateJSON is how a LogState is saved: each agency's last seq and the
// index of every entry id.
type logStateJSON struct {
	LastSeq map[string]uint64 `json:"last_seq"`
	IDs     map[string]uint64 `json:"ids"`
}

// MarshalJSON saves the state, for an auditor that follows a live log
// and must carry on after a restart without replaying it.
func (s *LogState) MarshalJSON() ([]byte, error) {
	return json.Marshal(logStateJSON{LastSeq: s.lastSeq, IDs: s.ids})
}

// UnmarshalJSON restores what MarshalJSON saved. The state is outside
// input: an unknown field, a zero seq or an index still pending is refused.
func (s *LogState) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var j logStateJSON
	if err := dec.Decode(&j); err != nil {
		return fmt.Errorf("log state: %v", err)
	}
	if j.LastSeq == nil {
		j.LastSeq = map[string]uint64{}
	}
	if j.IDs == nil {
		j.IDs = map[string]uint64{}
	}
	for a, seq := range j.LastSeq {
		if seq == 0 {
			return fmt.Errorf("log state: agency %q has last seq 0", a)
		}
	}
	for id, i := range j.IDs {
		if i == PendingIndex {
			return fmt.Errorf("log state: entry %q has no index", id)
		}
	}
	s.lastSeq, s.ids = j.LastSeq, j.IDs
	return nil
}
