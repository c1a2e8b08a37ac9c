package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/acdledger/acdledger/internal/tilecheck"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/mod/sumdb/note"
)

// ErrCorrupt says a file of the log does not match the signed checkpoint.
var ErrCorrupt = errors.New("the log does not match its signed checkpoint")

// CorruptError names the file of the log that failed its check.
type CorruptError struct {
	File string // where it is: the path on disk, or its tlog-tiles path (in HTTP answers)
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("%v: %s: %v", ErrCorrupt, e.File, e.Err)
}
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// resFetcher reads tlog-tiles resources through a name-based reader,
// falling back from a partial resource to the full one (the garbage
// collector removes partial ones once the full one exists).
type resFetcher struct {
	read func(context.Context, string) ([]byte, error)
}

func (f resFetcher) get(ctx context.Context, p uint8, name func(uint8) string) ([]byte, error) {
	data, err := f.read(ctx, name(p))
	if p != 0 && errors.Is(err, fs.ErrNotExist) {
		return f.read(ctx, name(0))
	}
	return data, err
}

func (f resFetcher) ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	return f.get(ctx, p, func(p uint8) string { return layout.TilePath(level, index, p) })
}

func (f resFetcher) ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	return f.get(ctx, p, func(p uint8) string { return layout.EntriesPath(index, p) })
}

func verifyOwnCheckpoint(raw []byte, v note.Verifier) (*log.Checkpoint, error) {
	n, err := note.Open(raw, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("does not verify against %s: %w", VerifierFile, err)
	}
	cp := &log.Checkpoint{}
	if _, err := cp.Unmarshal([]byte(n.Text)); err != nil {
		return nil, err
	}
	if cp.Origin != v.Name() {
		return nil, fmt.Errorf("origin %q, want %q", cp.Origin, v.Name())
	}
	return cp, nil
}

// checkOnOpen is the bounded check a log gets before the appender starts:
// the checkpoint's signature, the right edge of the tree, the last full
// tile of each level and the last two entry bundles against it. A log
// that fails it is not opened: appending on top of a corrupt file would
// sign a checkpoint over it. A log without a checkpoint yet (never
// started) has nothing to check. read reads a resource by its tlog-tiles
// path; where names it for the message (a path on disk, a bucket key).
func checkOnOpen(ctx context.Context, dir string, v note.Verifier, read func(context.Context, string) ([]byte, error), where func(string) string) error {
	raw, err := read(ctx, layout.CheckpointPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	fail := func(file string, err error) error {
		return fmt.Errorf("%w; refusing to open the ledger (run 'acdledger fsck --ledger %s' to list every bad file)",
			&CorruptError{File: where(file), Err: err}, dir)
	}
	cp, err := verifyOwnCheckpoint(raw, v)
	if err != nil {
		return fail(layout.CheckpointPath, err)
	}
	err = tilecheck.New(resFetcher{read: read}, cp.Size, cp.Hash, nil).Quick(ctx)
	var bf *tilecheck.BadFile
	if errors.As(err, &bf) {
		return fail(bf.Path, errors.New(bf.Reason))
	}
	return err
}

// checkPOSIX is checkOnOpen for the log in dir/log.
func checkPOSIX(ctx context.Context, dir string, v note.Verifier) error {
	logDir := filepath.Join(dir, LogDir)
	where := func(name string) string { return filepath.Join(logDir, filepath.FromSlash(name)) }
	read := func(_ context.Context, name string) ([]byte, error) { return os.ReadFile(where(name)) }
	return checkOnOpen(ctx, dir, v, read, where)
}

// servedTree is the tree of the latest published checkpoint, against
// which served files are checked; files verified once are remembered by
// content hash across checkpoints.
type servedTree struct {
	mu   sync.Mutex
	raw  []byte
	tree *tilecheck.Tree
	memo *tilecheck.Memo
}

func (l *Ledger) servedTree(ctx context.Context) (*tilecheck.Tree, []byte, error) {
	raw, err := l.readRes(ctx, layout.CheckpointPath)
	if err != nil {
		return nil, nil, err
	}
	st := &l.served
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.tree != nil && bytes.Equal(raw, st.raw) {
		return st.tree, raw, nil
	}
	cp, err := verifyOwnCheckpoint(raw, l.verifier)
	if err != nil {
		return nil, nil, l.corrupt(layout.CheckpointPath, err)
	}
	if st.memo == nil {
		st.memo = tilecheck.NewMemo()
	}
	st.raw, st.tree = raw, tilecheck.New(resFetcher{read: l.readRes}, cp.Size, cp.Hash, st.memo)
	return st.tree, raw, nil
}

// corrupt records that the log is corrupt: the ledger stops admitting
// (an entry on top of a corrupt file would be signed over it) and the
// error names the file by its tlog-tiles path, never by a server path.
func (l *Ledger) corrupt(name string, err error) error {
	ce := &CorruptError{File: name, Err: err}
	l.fail(ce)
	return ce
}

// VerifiedResource reads one tlog-tiles resource of the log for serving
// ("checkpoint", "tile/0/000", "tile/entries/001.p/12") and checks it
// against the latest published checkpoint (internal/tilecheck): covered
// is true when it was verified, false when it lies beyond that
// checkpoint (written ahead of publication: it may be served, but not
// cached for long). A file that fails the check is a *CorruptError
// (wrapping ErrCorrupt), and the ledger stops admitting. A missing one is
// fs.ErrNotExist.
func (l *Ledger) VerifiedResource(ctx context.Context, name string) (data []byte, covered bool, err error) {
	data, err = l.readRes(ctx, name)
	if err != nil {
		return nil, false, err
	}
	tree, raw, err := l.servedTree(ctx)
	if err != nil {
		return nil, false, err
	}
	if name == layout.CheckpointPath {
		return raw, true, nil
	}
	rest, ok := strings.CutPrefix(name, "tile/")
	level, index, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return nil, false, fmt.Errorf("%s: not a tlog-tiles resource", name)
	}
	idx, p, err := layout.ParseTileIndexPartial(index)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", name, err)
	}
	var got []byte
	if level == "entries" {
		got, err = tree.Bundle(ctx, idx, p)
	} else {
		var lv uint64
		if lv, err = layout.ParseTileLevel(level); err != nil {
			return nil, false, fmt.Errorf("%s: %w", name, err)
		}
		got, err = tree.Tile(ctx, lv, idx, p)
	}
	var bf *tilecheck.BadFile
	switch {
	case errors.Is(err, tilecheck.ErrNotCovered):
		return data, false, nil
	case errors.As(err, &bf):
		return nil, false, l.corrupt(bf.Path, errors.New(bf.Reason))
	case err != nil:
		return nil, false, err
	}
	return got, true, nil
}
