package ledger

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
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
	if err == nil && l.snapBad {
		err = errors.New("its id table failed its check since this ledger opened")
	}
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
	if f := l.state.TableFault(); f != nil {
		// A block the tail's replay looked up failed its check: the state
		// read from the snapshot is not used at all, the log replayed whole.
		l.log.Warn("admission snapshot not used: replaying the log from its start", "file", SnapshotFile, "error", f)
		l.snapBad, l.hist, l.state = true, nil, specs.NewLogState()
		return l.restore(ctx)
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
	raw, err := l.mapSnapshot(filepath.Join(l.dir, SnapshotFile))
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
		case s.Unhashed != 0 && !(s.Name == specs.LogStateSection && s.Version == specs.LogStateSectionVersion3):
			return nil, 0, nil, fmt.Errorf("section %s version %d has bytes outside the file's checksum, which only log_state version 3 may have", s.Name, s.Version)
		case s.Name == specs.LogStateSection && (s.Version == specs.LogStateSectionVersion || s.Version == specs.LogStateSectionVersion2 || s.Version == specs.LogStateSectionVersion3):
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
	switch sec.Version {
	case specs.LogStateSectionVersion3:
		// The state's id set stays in raw, read in place, and is checked a
		// block at a time: by the lookups that land in it and by
		// checkTable once open (see there for why admitting meanwhile is
		// sound).
		st, err = specs.UnmarshalLogStateSnapshotV3(sec.Data, sec.Unhashed, snap.Size)
	case specs.LogStateSectionVersion2:
		// An older acdledger's: checked whole on reading, saved as version
		// 3 once open (see open).
		st, err = specs.UnmarshalLogStateSnapshotV2(sec.Data, snap.Size)
		l.snapOld = true
	default:
		// Older still: read (a map insert per entry), saved as version 3.
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
		idx, ok := st.IndexOf(lastID)
		if f := st.TableFault(); f != nil {
			return nil, 0, nil, f
		}
		if !ok || idx != last {
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
	data, unhashed, err := l.state.MarshalSnapshotV3(size)
	if err != nil {
		return err
	}
	snap := &specs.Snapshot{Origin: l.origin, Size: size, Root: cp.Hash,
		Sections: []specs.SnapshotSection{
			{Name: specs.LogStateSection, Version: specs.LogStateSectionVersion3, Data: data, Unhashed: unhashed},
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

// checkTable is the background pass over the id table of a version 3
// snapshot the state st was read from: every block (those a lookup has
// checked already are not checked again), then the rules only the whole
// table shows (each index below N once, every table string used). It runs
// from open (and after a recovery's restore) on the core admission leaves
// idle, and closes done when it ends (at once for a state without such a
// table).
//
// Until it ends, admission uses only blocks that passed their check: a
// lookup that lands in an unchecked block checks it first, and a lookup
// in a failed block makes CheckVerified return the fault instead of a
// verdict (the entry is refused, the log unchanged). So every entry
// admitted meanwhile was judged against bytes that are the writer's own
// (each block's SHA-256 is in the index, the index under the file's
// checksum) and each well formed: its seq against the last seqs (in the
// checked text part), its id and refs against checked blocks, where the
// one block that could hold each id was searched.
//
// If this pass then finds a fault, admission stops (l.broken) and the
// state is rebuilt from the log, without the snapshot (l.snapBad), by the
// storage recovery loop, which first waits for the entries already handed
// to Tessera. Entries admitted meanwhile stay in the log; the replay
// records them as it records every leaf. Their verdicts stand unless the
// fault is one of the whole-table rules, since every block they used
// passed: a table whose blocks each pass but whose indices repeat one is
// not what any acdledger writes (MarshalSnapshotV3 refuses to), so only a
// hand-made or mis-written file gets there, and what it could have misled
// is a duplicate-id check for an id the table left out — exactly what a
// well-formed table that lists a wrong id could do with the whole-file
// check of version 2, which proves the table self-consistent, not that it
// is the log's (only the root and the last entry bind it to the log). The
// warning names the fault; an auditor's replay judges every leaf anyway.
func (l *Ledger) checkTable(ctx context.Context, st *specs.LogState, done chan struct{}) {
	if done != nil {
		defer close(done)
	}
	err := st.CheckTable(ctx)
	if err == nil || !errors.Is(err, specs.ErrTableFault) {
		return // passed, or stopped by Close
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != st || l.broken != nil {
		return // already being rebuilt
	}
	l.log.Warn("admission snapshot failed its check after open: admission stopped, the state is rebuilt from the whole log", "file", SnapshotFile, "error", err)
	l.snapBad = true
	l.broken = fmt.Errorf("admission snapshot: %w", err)
	l.startRecovery()
}

// SnapshotChecked is closed once the background check of the admission
// snapshot's id table (checkTable) has ended: for tests and the bench,
// which time it apart from open.
// (nil on the AWS driver, which keeps no snapshot).
func (l *Ledger) SnapshotChecked() <-chan struct{} { return l.tableChecked }
