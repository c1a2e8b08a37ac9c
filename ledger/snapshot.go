package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

// SnapshotFile is the admission snapshot in a POSIX ledger directory
// (specs/snapshot.md): the admission state at a published tree, so that
// opening the ledger replays only the leaves after it instead of the whole
// log. It is a cache of what the log says; the log stays the only truth.
const SnapshotFile = "admission.snapshot"

// errNotAtCheckpoint: the integrated tree is ahead of the published
// checkpoint (after a crash, or with witnesses slow to cosign), so there
// is no checkpoint to bind a snapshot of it to yet. Not worth a warning.
var errNotAtCheckpoint = errors.New("the published checkpoint does not cover the integrated tree yet")

// restore rebuilds the admission state as of the integrated tree (which
// may be ahead of the last published checkpoint after a crash): from the
// snapshot if there is a good one, then the leaves after it. Entries are
// the ledger's own, already checked on admission, so only each leaf's
// header is read: id, kind, agency, case and seq.
func (l *Ledger) restore(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	from := uint64(0)
	st, n, trust, err := l.loadSnapshot(ctx, size)
	if err == nil {
		// The trust history is rebuilt from the log's own registry
		// entries, which the snapshot only locates.
		if err = l.restoreTrustAt(ctx, trust, n); err != nil {
			l.hist = nil
		}
	}
	switch {
	case err == nil:
		l.state, from = st, n
	case errors.Is(err, fs.ErrNotExist):
	default:
		l.log.Warn("admission snapshot not used: replaying the log from its start", "file", SnapshotFile, "error", err)
	}
	if err := l.replay(ctx, from, size, func(h *specs.Header, leaf []byte, idx uint64) error {
		if err := l.restoreTrust(idx, leaf, h); err != nil {
			return err
		}
		l.state.Record(*h, idx)
		return nil
	}); err != nil {
		return fmt.Errorf("restoring state: %w", err)
	}
	if l.hist == nil {
		l.hist = registrylog.Implicit(l.registry)
	}
	l.reg.Store(l.hist.Current())
	l.snapSize, l.openSize, l.savedSize = from, size, from
	return nil
}

// replay calls fn with the header and bytes of each leaf in [from, to).
func (l *Ledger) replay(ctx context.Context, from, to uint64, fn func(*specs.Header, []byte, uint64) error) error {
	for n := from / layout.EntryBundleWidth; n*layout.EntryBundleWidth < to; n++ {
		entries, err := l.bundle(ctx, n, to)
		if err != nil {
			return fmt.Errorf("entry bundle %d: %w", n, err)
		}
		for i, leaf := range entries {
			idx := n*layout.EntryBundleWidth + uint64(i)
			if idx < from {
				continue
			}
			if idx >= to {
				break
			}
			h, err := specs.PeekHeader(leaf)
			if err != nil {
				return fmt.Errorf("entry %d: %w", idx, err)
			}
			if err := fn(h, leaf, idx); err != nil {
				return err
			}
		}
	}
	return nil
}

// loadSnapshot reads the snapshot and checks it against the log: its
// origin, a size within the integrated tree, its root against the
// published checkpoint (equal at the same size, or by a consistency proof
// from the log's tiles to a larger one), and that its last entry is the
// log's leaf at that index. Any doubt is an error: the caller then
// rebuilds from the log, which is always right, only slower.
func (l *Ledger) loadSnapshot(ctx context.Context, integrated uint64) (*specs.LogState, uint64, []uint64, error) {
	raw, err := os.ReadFile(filepath.Join(l.dir, SnapshotFile))
	if err != nil {
		return nil, 0, nil, err
	}
	snap, verify, err := specs.ParseSnapshotUnverified(raw)
	if err != nil {
		return nil, 0, nil, err
	}
	// The file's SHA-256 is most of the work of a large snapshot: hash it
	// on another core while the sections are read and checked, and use
	// them only if it matches. A mismatch is the error reported: damage
	// explains whatever else failed.
	sum := make(chan error, 1)
	go func() { sum <- verify() }()
	st, n, trust, err := l.useSnapshot(ctx, snap, integrated)
	if serr := <-sum; serr != nil {
		return nil, 0, nil, serr
	}
	return st, n, trust, err
}

// useSnapshot is loadSnapshot's reading of a parsed snapshot.
func (l *Ledger) useSnapshot(ctx context.Context, snap *specs.Snapshot, integrated uint64) (*specs.LogState, uint64, []uint64, error) {
	if snap.Origin != l.origin {
		return nil, 0, nil, fmt.Errorf("snapshot of log %q, not of this log (%q)", snap.Origin, l.origin)
	}
	if snap.Size > integrated {
		return nil, 0, nil, fmt.Errorf("snapshot at tree size %d, but the log has only %d entries", snap.Size, integrated)
	}
	var sec, trustSec *specs.SnapshotSection
	for i, s := range snap.Sections {
		switch {
		case s.Name == specs.LogStateSection && (s.Version == specs.LogStateSectionVersion || s.Version == specs.LogStateSectionVersion2):
			sec = &snap.Sections[i]
		case s.Name == trustSection && s.Version == trustSectionVersion:
			trustSec = &snap.Sections[i]
		default:
			// A newer writer's state: never half-applied.
			return nil, 0, nil, fmt.Errorf("section %s version %d is not one this acdledger reads", s.Name, s.Version)
		}
	}
	if sec == nil || trustSec == nil {
		return nil, 0, nil, fmt.Errorf("no %s or no %s section", specs.LogStateSection, trustSection)
	}
	trust, err := parseTrustSection(trustSec.Data, snap.Size)
	if err != nil {
		return nil, 0, nil, err
	}
	if err := l.checkSnapshotRoot(ctx, snap); err != nil {
		return nil, 0, nil, err
	}
	var st *specs.LogState
	if sec.Version == specs.LogStateSectionVersion2 {
		// The state's id set stays in raw, read in place.
		st, err = specs.UnmarshalLogStateSnapshotV2(sec.Data, snap.Size)
	} else {
		// An older acdledger's snapshot: read (a map insert per entry), and
		// saved as version 2 once open (see open).
		st, err = specs.UnmarshalLogStateSnapshot(sec.Data, snap.Size)
		l.snapOld = true
	}
	if err != nil {
		return nil, 0, nil, err
	}
	if snap.Size > 0 {
		// The root binds the snapshot to the log, not its content to the
		// entries: check one entry against the log as well, cheaply.
		last := snap.Size - 1
		var lastID string
		if err := l.replay(ctx, last, snap.Size, func(h *specs.Header, _ []byte, _ uint64) error { lastID = h.ID; return nil }); err != nil {
			return nil, 0, nil, err
		}
		if idx, ok := st.IndexOf(lastID); !ok || idx != last {
			return nil, 0, nil, fmt.Errorf("the snapshot's entry %d is not the log's (%q)", last, lastID)
		}
	}
	return st, snap.Size, trust, nil
}

func (l *Ledger) checkSnapshotRoot(ctx context.Context, snap *specs.Snapshot) error {
	if snap.Size == 0 {
		if empty := sha256.Sum256(nil); !bytes.Equal(snap.Root, empty[:]) {
			return errors.New("snapshot of the empty tree with a root other than the empty tree's")
		}
		return nil
	}
	cpRaw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return fmt.Errorf("reading the published checkpoint: %w", err)
	}
	cp, err := l.parseCheckpoint(cpRaw)
	if err != nil {
		return err
	}
	switch {
	case cp.Size == snap.Size:
		if !bytes.Equal(cp.Hash, snap.Root) {
			return fmt.Errorf("snapshot root at tree size %d differs from the published checkpoint's", snap.Size)
		}
	case cp.Size > snap.Size:
		pb, err := client.NewProofBuilder(ctx, cp.Size, l.reader.ReadTile)
		if err != nil {
			return err
		}
		cons, err := pb.ConsistencyProof(ctx, snap.Size, cp.Size)
		if err != nil {
			return fmt.Errorf("consistency proof from the snapshot's tree %d to the checkpoint's %d: %w", snap.Size, cp.Size, err)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, snap.Size, cp.Size, cons, snap.Root, cp.Hash); err != nil {
			return fmt.Errorf("snapshot root at tree size %d is not the log's: %w", snap.Size, err)
		}
	default:
		return fmt.Errorf("snapshot at tree size %d is ahead of the published checkpoint (%d)", snap.Size, cp.Size)
	}
	return nil
}

// saveSnapshot writes the admission state, which must be the log's at
// size, bound to the published checkpoint at that size. The caller holds
// l.mu or has the ledger to itself.
func (l *Ledger) saveSnapshot(ctx context.Context, size uint64) error {
	cpRaw, err := l.reader.ReadCheckpoint(ctx)
	if err != nil {
		return err
	}
	cp, err := l.parseCheckpoint(cpRaw)
	if err != nil {
		return err
	}
	if cp.Size != size {
		return errNotAtCheckpoint
	}
	data, err := l.state.MarshalSnapshotV2(size)
	if err != nil {
		return err
	}
	snap := &specs.Snapshot{Origin: l.origin, Size: size, Root: cp.Hash,
		Sections: []specs.SnapshotSection{
			{Name: specs.LogStateSection, Version: specs.LogStateSectionVersion2, Data: data},
			{Name: trustSection, Version: trustSectionVersion, Data: l.trustSectionData()},
		}}
	raw, err := snap.Marshal()
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(l.dir, SnapshotFile), raw, 0o644)
}

// snapshotOnClose saves the state once Tessera has stopped and published
// every entry. Entries whose index nobody asked for are still pending in
// the state: the leaves appended since open (the session's, not the whole
// log) are read once to fill them in.
func (l *Ledger) snapshotOnClose(ctx context.Context) error {
	size, err := l.reader.IntegratedSize(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.broken != nil {
		return nil // the state is not trusted until the log is replayed
	}
	if size == l.savedSize {
		return nil // nothing new since the snapshot
	}
	if err := l.replay(ctx, l.openSize, size, func(h *specs.Header, _ []byte, idx uint64) error { l.state.SetIndex(h.ID, idx); return nil }); err != nil {
		return err
	}
	return l.saveSnapshot(ctx, size)
}
