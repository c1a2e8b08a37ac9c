package rules

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/acdledger/acdledger/internal/jsonmsg"
)

// stateVersion is the version of the MarshalState format.
const stateVersion = 1

type savedState struct {
	Version int    `json:"version"`
	State   *state `json:"state"`
	// IDs is the id set: sorted 8-byte keys, concatenated, base64.
	IDs string `json:"ids"`
}

// MarshalState saves what the engine remembers, so that a watcher can
// continue after a restart exactly where it stopped: no violation is
// reported twice and no deadline is forgotten.
func (e *Engine) MarshalState() ([]byte, error) {
	keys := make([]uint64, 0, len(e.st.ids))
	for k := range e.st.ids {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	raw := make([]byte, 8*len(keys))
	for i, k := range keys {
		binary.BigEndian.PutUint64(raw[8*i:], k)
	}
	return json.Marshal(savedState{Version: stateVersion, State: e.st, IDs: base64.StdEncoding.EncodeToString(raw)})
}

// RestoreEngine returns an engine with the state MarshalState saved. The
// state is outside input (a file on disk): anything malformed is an error.
func RestoreEngine(cfg Config, data []byte) (*Engine, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s savedState
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("rules state: %w", jsonmsg.Describe(err))
	}
	if dec.More() {
		return nil, errors.New("rules state: trailing data")
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("rules state: version %d, want %d", s.Version, stateVersion)
	}
	if s.State == nil {
		return nil, errors.New("rules state: no state")
	}
	raw, err := base64.StdEncoding.DecodeString(s.IDs)
	if err != nil || len(raw)%8 != 0 {
		return nil, errors.New("rules state: ids is not base64 of 8-byte keys")
	}
	st := s.State
	fresh := newState()
	// Absent maps (null in the file) become empty ones; nil records are
	// refused, since the rules would dereference them.
	if st.Requests == nil {
		st.Requests = fresh.Requests
	}
	if st.Decisions == nil {
		st.Decisions = fresh.Decisions
	}
	if st.Agreements == nil {
		st.Agreements = fresh.Agreements
	}
	if st.AgreementOf == nil {
		st.AgreementOf = fresh.AgreementOf
	}
	if st.Acquisitions == nil {
		st.Acquisitions = fresh.Acquisitions
	}
	if st.Consults == nil {
		st.Consults = fresh.Consults
	}
	if st.Orders == nil {
		st.Orders = fresh.Orders
	}
	if st.Obligations == nil {
		st.Obligations = fresh.Obligations
	}
	for k, v := range st.Requests {
		if v == nil {
			return nil, fmt.Errorf("rules state: request %q is null", k)
		}
	}
	for k, v := range st.Decisions {
		if v == nil {
			return nil, fmt.Errorf("rules state: decision %q is null", k)
		}
		if st.Decisions[v.Root] == nil {
			return nil, fmt.Errorf("rules state: decision %q has unknown root %q", k, v.Root)
		}
	}
	for k, v := range st.Agreements {
		if v == nil {
			return nil, fmt.Errorf("rules state: agreement %q is null", k)
		}
	}
	for k, v := range st.Acquisitions {
		if v == nil {
			return nil, fmt.Errorf("rules state: acquisition %q is null", k)
		}
	}
	for k, v := range st.Obligations {
		if v == nil {
			return nil, fmt.Errorf("rules state: obligation %q is null", k)
		}
		if lookup(v.Rule) == nil {
			return nil, fmt.Errorf("rules state: obligation %q has unknown rule %q", k, v.Rule)
		}
	}
	st.ids = make(idSet, len(raw)/8)
	for i := 0; i < len(raw); i += 8 {
		st.ids[binary.BigEndian.Uint64(raw[i:])] = struct{}{}
	}
	return newEngine(cfg, st), nil
}
