package registrylog

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// Version is one registry of a log's trust history: the one its genesis
// started, or the one a registry.change entry made.
type Version struct {
	Index      uint64          `json:"index"`       // the log index of the entry that made it
	EntryID    string          `json:"entry_id"`    // "" for an implicit genesis
	OccurredAt string          `json:"occurred_at"` // the entry's occurred_at ("" for an implicit genesis)
	Change     string          `json:"change"`      // "genesis", "implicit-genesis" or the change's kind
	Registry   *specs.Registry `json:"-"`
}

// History is a log's trust history, in log order: the registry in force
// at every index and time. Its JSON form (MarshalJSON) lets a writer or an
// auditor save it beside its LogState and carry on without a replay.
type History struct {
	versions []*Version
}

// NewHistory starts the history of a log whose leaf 0 is the genesis
// (reg as ReadGenesis returned it, a its admitted entry).
func NewHistory(reg *specs.Registry, genesis *specs.Admitted) *History {
	return &History{versions: []*Version{{Index: 0, EntryID: genesis.Entry.ID, OccurredAt: genesis.Entry.OccurredAt, Change: "genesis", Registry: reg}}}
}

// Implicit is the history of a log made before trust history was in the
// log (no genesis): its registry file stands for a genesis in force from
// index 0, and there is no root key, so it never changes.
func Implicit(reg *specs.Registry) *History {
	return &History{versions: []*Version{{Change: "implicit-genesis", Registry: reg}}}
}

// IsImplicit reports whether the history stands on a registry file, not a
// genesis entry.
func (h *History) IsImplicit() bool { return h.versions[0].Change == "implicit-genesis" }

// Current is the registry in force for the next entry.
func (h *History) Current() *specs.Registry { return h.versions[len(h.versions)-1].Registry }

// Versions are the registries of the history, oldest first.
func (h *History) Versions() []*Version { return h.versions }

// Add applies an admitted entry at its index: a registry change makes a
// new version (and true); any other entry changes nothing. The error is a
// *specs.Violation (rule registry.change): the entry does not apply.
func (h *History) Add(index uint64, a *specs.Admitted) (bool, error) {
	if !specs.RootKinds[a.Entry.Kind] {
		return false, nil
	}
	last := h.versions[len(h.versions)-1]
	if index <= last.Index && !(last.Change == "implicit-genesis" && index == 0) {
		return false, fmt.Errorf("registry history: entry at index %d, after the version of index %d", index, last.Index)
	}
	next, err := Apply(last.Registry, a.Entry)
	if err != nil {
		return false, err
	}
	var c Change
	json.Unmarshal(a.Entry.Body, &c)
	h.versions = append(h.versions, &Version{Index: index, EntryID: a.Entry.ID, OccurredAt: a.Entry.OccurredAt, Change: c.Change, Registry: next})
	return true, nil
}

// AtIndex is the version in force for the entry at index i: the last one
// made by an entry before it (the genesis is in force for itself).
func (h *History) AtIndex(i uint64) *Version {
	v := h.versions[0]
	for _, x := range h.versions[1:] {
		if x.Index >= i {
			break
		}
		v = x
	}
	return v
}

// AtTime is the version in force at time t: the changes in log order up
// to the first whose occurred_at is after t. (A registry entry's
// occurred_at is when the commission made the change; its effect on
// admission starts at its position in the log.)
func (h *History) AtTime(t time.Time) *Version {
	v := h.versions[0]
	for _, x := range h.versions[1:] {
		at, err := time.Parse(time.RFC3339Nano, x.OccurredAt)
		if err != nil || at.After(t) {
			break
		}
		v = x
	}
	return v
}

type versionJSON struct {
	Version
	Registry json.RawMessage `json:"registry"`
}

// MarshalJSON saves the history: every version with its registry.
func (h *History) MarshalJSON() ([]byte, error) {
	out := struct {
		History  int           `json:"registry_history"`
		Versions []versionJSON `json:"versions"`
	}{History: 1}
	for _, v := range h.versions {
		raw, err := json.Marshal(v.Registry)
		if err != nil {
			return nil, err
		}
		out.Versions = append(out.Versions, versionJSON{*v, raw})
	}
	return json.Marshal(out)
}

// UnmarshalJSON restores a saved history, checking every registry as
// ParseRegistry does and the versions' order.
func (h *History) UnmarshalJSON(data []byte) error {
	var in struct {
		History  int           `json:"registry_history"`
		Versions []versionJSON `json:"versions"`
	}
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("registry history: %v", err)
	}
	if in.History != 1 || len(in.Versions) == 0 {
		return fmt.Errorf("registry history: version %d with %d registries; want version 1 with at least one", in.History, len(in.Versions))
	}
	var vs []*Version
	for i, v := range in.Versions {
		reg, err := specs.ParseRegistry(v.Registry)
		if err != nil {
			return fmt.Errorf("registry history: version %d: %v", i, err)
		}
		if i > 0 && v.Index <= vs[i-1].Index {
			return fmt.Errorf("registry history: version %d: index %d not after %d", i, v.Index, vs[i-1].Index)
		}
		ver := v.Version
		ver.Registry = reg
		vs = append(vs, &ver)
	}
	h.versions = vs
	return nil
}

// Diff names where registry b differs from a (an auditor's registry file
// and the registry replayed from the log): agencies, their role, kinds,
// keys and recipient, and the commission members' recipients.
func Diff(a, b *specs.Registry) []string {
	var out []string
	for _, x := range a.Agencies {
		y := b.Agency(x.ID)
		if y == nil {
			out = append(out, fmt.Sprintf("agency %s: in the file, not in the log's registry", x.ID))
			continue
		}
		if x.Role != y.Role {
			out = append(out, fmt.Sprintf("agency %s: role %s in the file, %s in the log", x.ID, x.Role, y.Role))
		}
		if !slices.Equal(slices.Sorted(slices.Values(x.Kinds)), slices.Sorted(slices.Values(y.Kinds))) {
			out = append(out, fmt.Sprintf("agency %s: kinds differ (file %v, log %v)", x.ID, x.Kinds, y.Kinds))
		}
		if x.Recipient != y.Recipient {
			out = append(out, fmt.Sprintf("agency %s: recipient %q in the file, %q in the log", x.ID, x.Recipient, y.Recipient))
		}
		for _, k := range x.Keys {
			switch yk := y.Key(k.ID); {
			case yk == nil:
				out = append(out, fmt.Sprintf("agency %s: key %s in the file, not in the log", x.ID, k.ID))
			case yk.RevokedBy != "" && k.RevokedBy == "":
				out = append(out, fmt.Sprintf("agency %s: key %s is in the file, but the log revoked it (registry entry %s)", x.ID, k.ID, yk.RevokedBy))
			}
		}
		for _, k := range y.Keys {
			if x.Key(k.ID) == nil && k.RevokedBy == "" {
				out = append(out, fmt.Sprintf("agency %s: key %s in the log, not in the file", x.ID, k.ID))
			}
		}
	}
	for _, y := range b.Agencies {
		if a.Agency(y.ID) == nil && y.RetiredBy == "" {
			out = append(out, fmt.Sprintf("agency %s: in the log's registry, not in the file", y.ID))
		}
	}
	type rk struct{ id, r string }
	have := map[rk]bool{}
	for _, r := range a.Recipients {
		have[rk{r.ID, r.Recipient}] = true
	}
	for _, r := range b.Recipients {
		if !have[rk{r.ID, r.Recipient}] {
			out = append(out, fmt.Sprintf("member %s: recipient %s (from %s) in the log, not in the file", r.ID, r.Recipient, r.ValidFrom))
		}
		delete(have, rk{r.ID, r.Recipient})
	}
	for k := range have {
		out = append(out, fmt.Sprintf("member %s: recipient %s in the file, not in the log", k.id, k.r))
	}
	slices.Sort(out)
	return out
}
