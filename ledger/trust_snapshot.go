package ledger

import (
	"bytes"
	"context"
	"fmt"
	"strconv"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/transparency-dev/tessera/api/layout"
)

// The admission snapshot's trust section (specs/snapshot.md) locates the
// log's registry entries: the index of the genesis and of every registry
// change, so that opening from a snapshot rebuilds the trust history from
// those leaves of the log (a handful) instead of from every leaf. It holds
// no registry content: what a key may sign is always read from the log.
const (
	trustSection        = "trust_history"
	trustSectionVersion = 1
)

// trustSectionData is one decimal index a line, ascending; empty for a log
// standing on its registry file (no genesis). l.hist is current.
func (l *Ledger) trustSectionData() []byte {
	var b []byte
	if l.hist == nil || l.hist.IsImplicit() {
		return b
	}
	for _, v := range l.hist.Versions() {
		b = strconv.AppendUint(b, v.Index, 10)
		b = append(b, '\n')
	}
	return b
}

// parseTrustSection reads the indices strictly: decimal without leading
// zeros, strictly ascending, below the snapshot's size, 0 first if any.
func parseTrustSection(data []byte, size uint64) ([]uint64, error) {
	var out []uint64
	for len(data) > 0 {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			return nil, fmt.Errorf("%s: the last line has no newline", trustSection)
		}
		data = rest
		n, err := strconv.ParseUint(string(line), 10, 64)
		if err != nil || strconv.FormatUint(n, 10) != string(line) {
			return nil, fmt.Errorf("%s: %q is not a decimal index", trustSection, line)
		}
		switch {
		case n >= size:
			return nil, fmt.Errorf("%s: index %d is beyond the snapshot's tree size %d", trustSection, n, size)
		case len(out) == 0 && n != 0:
			return nil, fmt.Errorf("%s: the first index is %d, not the genesis's 0", trustSection, n)
		case len(out) > 0 && n <= out[len(out)-1]:
			return nil, fmt.Errorf("%s: index %d does not follow %d", trustSection, n, out[len(out)-1])
		}
		out = append(out, n)
	}
	return out, nil
}

// restoreTrustAt rebuilds the trust history from the leaves at the given
// indices of the tree of the given size. A leaf there that is not a
// registry entry means the snapshot is not this log's: the caller then
// replays the whole log.
func (l *Ledger) restoreTrustAt(ctx context.Context, idxs []uint64, size uint64) error {
	l.hist = nil
	if len(idxs) == 0 {
		l.hist = registrylog.Implicit(l.registry)
		return nil
	}
	for _, idx := range idxs {
		entries, err := l.bundle(ctx, idx/layout.EntryBundleWidth, size)
		if err != nil {
			// %v: a missing bundle here is a wrong snapshot, not a
			// missing snapshot file.
			return fmt.Errorf("%s: reading the leaf at index %d: %v", trustSection, idx, err)
		}
		i := idx % layout.EntryBundleWidth
		if i >= uint64(len(entries)) {
			return fmt.Errorf("%s: no leaf at index %d", trustSection, idx)
		}
		leaf := entries[i]
		h, err := specs.PeekHeader(leaf)
		if err != nil {
			return fmt.Errorf("%s: the leaf at index %d: %v", trustSection, idx, err)
		}
		if (idx == 0) != (h.Kind == specs.KindGenesis) || !specs.RootKinds[h.Kind] {
			return fmt.Errorf("%s: the leaf at index %d is a %s entry, not a registry entry", trustSection, idx, h.Kind)
		}
		if err := l.restoreTrust(idx, leaf, h); err != nil {
			return fmt.Errorf("%s: %v", trustSection, err)
		}
	}
	return nil
}
