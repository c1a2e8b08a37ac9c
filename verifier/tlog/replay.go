package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// ReplayOptions tunes [Source.Replay].
type ReplayOptions struct {
	// Workers is how many entry bundles are fetched and hashed at once;
	// 0 means 8. More helps against a remote log's latency; memory use is
	// about 2×Workers bundles.
	Workers int
	// Progress, if set, is called after each bundle with the number of
	// leaves delivered so far and the tree size.
	Progress func(done, total uint64)
}

// RootMismatchError means the leaves the log serves do not hash to the root
// its checkpoint signs: entries were altered, added or lost.
type RootMismatchError struct {
	Size               uint64
	Expected, Computed []byte
}

func (e *RootMismatchError) Error() string {
	return fmt.Sprintf("tlog: root mismatch at size %d: checkpoint says %s, entries hash to %s",
		e.Size, b64(e.Expected), b64(e.Computed))
}

// ResourceError means a tile or entry bundle could not be read or parsed,
// or a bundle holds the wrong number of entries. Path is the tlog-tiles path
// (e.g. "tile/entries/x001/234.p/17").
type ResourceError struct {
	Path string
	Err  error
}

func (e *ResourceError) Error() string { return fmt.Sprintf("tlog: %s: %v", e.Path, e.Err) }
func (e *ResourceError) Unwrap() error { return e.Err }

// TileMismatch is one stored hash tile that disagrees with the hashes
// recomputed from the entries.
type TileMismatch struct {
	Path         string
	Level, Index uint64
	// Hash is the position of the wrong hash in the tile, or -1 when the
	// tile's length is wrong (then Problem says how).
	Hash             int
	Stored, Computed []byte
	Problem          string
}

func (m TileMismatch) String() string {
	if m.Hash < 0 {
		return fmt.Sprintf("%s (level %d, index %d): %s", m.Path, m.Level, m.Index, m.Problem)
	}
	return fmt.Sprintf("%s (level %d, index %d): hash %d is %x, recomputed %x", m.Path, m.Level, m.Index, m.Hash, m.Stored, m.Computed)
}

// maxTileMismatches bounds how many mismatches are kept: a wholesale
// corruption would otherwise produce one per hash.
const maxTileMismatches = 16

// TileMismatchError lists stored hash tiles that disagree with the entries.
// Mismatches holds the first few in log order; Count is the total number
// of wrong hashes (or wrongly sized tiles).
type TileMismatchError struct {
	Mismatches []TileMismatch
	Count      int
}

func (e *TileMismatchError) Error() string {
	var s []string
	for _, m := range e.Mismatches {
		s = append(s, m.String())
	}
	msg := "tlog: stored hash tiles disagree with the entries: " + strings.Join(s, "; ")
	if more := e.Count - len(e.Mismatches); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return msg
}

func (e *TileMismatchError) add(ms ...TileMismatch) {
	for _, m := range ms {
		if len(e.Mismatches) < maxTileMismatches {
			e.Mismatches = append(e.Mismatches, m)
		}
		e.Count++
	}
}

// Replay reads the whole tree that cp commits to and checks it: fn gets
// every leaf, in index order; the Merkle root is recomputed from the leaves
// and compared with cp; and every stored hash tile implied by cp.Size (full
// ones, and the partial ones on the right edge, at every level) is compared
// with the hashes recomputed from the leaves.
//
// fn sees each leaf before the whole tree has been checked, so whatever it
// builds is trustworthy only if Replay returns nil. fn must not modify leaf;
// it may keep it. An error from fn stops the replay and is returned wrapped.
//
// Problems with entry bundles (unreadable, unparsable, wrong entry count)
// stop the replay with a [*ResourceError]. Content problems do not stop it,
// so that the findings can be told apart: the result is a
// [*RootMismatchError] if the leaves do not hash to cp's root, a
// [*TileMismatchError] listing wrong tile hashes, or both joined. Tiles are
// checked against hashes recomputed from the leaves, so a corrupt tile shows
// as one wrong hash with the root intact, while an altered leaf changes the
// root and every tile hash above it: hash i of level-0 tile n (leaf 256n+i),
// then its ancestors in the higher tiles.
//
// Memory stays bounded by the worker window whatever the tree size.
func (s *Source) Replay(ctx context.Context, cp *Checkpoint, opts ReplayOptions, fn func(index uint64, leaf []byte) error) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = 8
	}
	size := cp.Size
	nBundles := (size + layout.EntryBundleWidth - 1) / layout.EntryBundleWidth

	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait() // leave no goroutine behind
	}()

	// The producer starts bundle loads in index order, at most workers at
	// a time, and queues a future for each; the loop below consumes the
	// futures in order. The queue bounds how far loading runs ahead.
	queue := make(chan chan bundleResult, workers)
	wg.Go(func() {
		defer close(queue)
		sem := make(chan struct{}, workers)
		for i := range nBundles {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			c := make(chan bundleResult, 1)
			wg.Go(func() {
				c <- s.loadBundle(ctx, i, size)
				<-sem
			})
			select {
			case queue <- c:
			case <-ctx.Done():
				return
			}
		}
	})

	t := tileChecker{s: s, size: size, mismatches: &TileMismatchError{}}
	tree := (&compact.RangeFactory{Hash: hasher.HashChildren}).NewEmptyRange(0)
	var done, bundles uint64
	for c := range queue {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tlog: replay: %w", err)
		}
		r := <-c
		if r.err != nil {
			return r.err
		}
		t.mismatches.add(r.mismatches...)
		for j, leaf := range r.leaves {
			if err := fn(done+uint64(j), leaf); err != nil {
				return fmt.Errorf("tlog: replay stopped at leaf %d: %w", done+uint64(j), err)
			}
		}
		for _, h := range r.hashes {
			if err := tree.Append(h, t.visit); err != nil {
				return fmt.Errorf("tlog: replay: %v", err) // cannot happen: appends are in order
			}
		}
		if err := t.checkReady(ctx); err != nil {
			return err
		}
		done += uint64(len(r.leaves))
		bundles++
		if opts.Progress != nil {
			opts.Progress(done, size)
		}
	}
	if bundles != nBundles {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("tlog: replay: %w", err)
		}
		return fmt.Errorf("tlog: replay stopped after %d of %d bundles", bundles, nBundles)
	}
	if err := t.flush(ctx); err != nil {
		return err
	}

	root := hasher.EmptyRoot()
	if size > 0 {
		var err error
		if root, err = tree.GetRootHash(nil); err != nil {
			return fmt.Errorf("tlog: replay: %v", err)
		}
	}
	var errs []error
	if !bytes.Equal(root, cp.Hash) {
		errs = append(errs, &RootMismatchError{Size: size, Expected: cp.Hash, Computed: root})
	}
	if t.mismatches.Count > 0 {
		errs = append(errs, t.mismatches)
	}
	return errors.Join(errs...)
}

// bundleResult is one entry bundle, parsed, with its leaf hashes checked
// against the level-0 tile (whose hashes are exactly the bundle's).
type bundleResult struct {
	leaves, hashes [][]byte
	mismatches     []TileMismatch
	err            error
}

// loadBundle does the per-bundle work that can run in parallel: fetch,
// parse, hash the leaves, and compare them with the level-0 tile.
func (s *Source) loadBundle(ctx context.Context, i, size uint64) bundleResult {
	p := layout.PartialTileSize(0, i, size)
	want := int(p)
	if p == 0 {
		want = layout.EntryBundleWidth
	}
	path := layout.EntriesPath(i, p)
	raw, err := s.f.ReadEntryBundle(ctx, i, p)
	if err != nil {
		return bundleResult{err: &ResourceError{Path: path, Err: err}}
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(raw); err != nil {
		return bundleResult{err: &ResourceError{Path: path, Err: err}}
	}
	leaves := b.Entries
	switch n := len(leaves); {
	case n == want:
	case p > 0 && n == layout.EntryBundleWidth:
		// The fetcher fell back to the full bundle: the log grew and the
		// partial one was collected. Our tree is a prefix of it.
		leaves = leaves[:want]
	default:
		return bundleResult{err: &ResourceError{Path: path, Err: fmt.Errorf("has %d entries, want %d", n, want)}}
	}
	hashes := make([][]byte, len(leaves))
	for j, l := range leaves {
		hashes[j] = hasher.HashLeaf(l)
	}
	ms, err := s.checkTile(ctx, 0, i, size, hashes)
	if err != nil {
		return bundleResult{err: err}
	}
	return bundleResult{leaves: leaves, hashes: hashes, mismatches: ms}
}

// checkTile compares the stored tile at level and index with computed, the
// hashes it should hold for a tree of the given size.
func (s *Source) checkTile(ctx context.Context, level, index, size uint64, computed [][]byte) ([]TileMismatch, error) {
	p := layout.PartialTileSize(level, index, size)
	path := layout.TilePath(level, index, p)
	raw, err := s.f.ReadTile(ctx, level, index, p)
	if err != nil {
		return nil, &ResourceError{Path: path, Err: err}
	}
	bad := func(format string, args ...any) []TileMismatch {
		return []TileMismatch{{Path: path, Level: level, Index: index, Hash: -1, Problem: fmt.Sprintf(format, args...)}}
	}
	if len(raw)%sha256.Size != 0 {
		return bad("length %d is not a multiple of %d", len(raw), sha256.Size), nil
	}
	switch n := len(raw) / sha256.Size; {
	case n == len(computed):
	case p > 0 && n == layout.TileWidth:
		// Full tile served in place of a collected partial one.
		path = layout.TilePath(level, index, 0)
		raw = raw[:len(computed)*sha256.Size]
	default:
		return bad("has %d hashes, want %d", n, len(computed)), nil
	}
	var ms []TileMismatch
	for j, h := range computed {
		stored := raw[j*sha256.Size : (j+1)*sha256.Size]
		if !bytes.Equal(stored, h) {
			ms = append(ms, TileMismatch{Path: path, Level: level, Index: index, Hash: j, Stored: stored, Computed: h})
		}
	}
	return ms, nil
}

// tileChecker rebuilds the tiles above level 0 from the nodes the compact
// range computes as leaves are appended, and checks each against the log
// as soon as it is complete. A level-L tile holds the tree nodes at height
// 8L; the compact range reports every node it creates, and those at height
// 8L are exactly what tile L stores.
type tileChecker struct {
	s          *Source
	size       uint64
	pending    []pendingTile // by tile level; [0] unused
	ready      []pendingTile // complete tiles awaiting a check
	mismatches *TileMismatchError
}

type pendingTile struct {
	level, index uint64
	nodes        [][]byte
}

func (t *tileChecker) visit(id compact.NodeID, h []byte) {
	if id.Level == 0 || id.Level%layout.TileHeight != 0 {
		return
	}
	level := uint64(id.Level / layout.TileHeight)
	for uint64(len(t.pending)) <= level {
		t.pending = append(t.pending, pendingTile{level: uint64(len(t.pending))})
	}
	pt := &t.pending[level]
	if len(pt.nodes) == 0 {
		pt.index = id.Index / layout.TileWidth
	}
	pt.nodes = append(pt.nodes, h)
	if len(pt.nodes) == layout.TileWidth {
		t.ready = append(t.ready, *pt)
		*pt = pendingTile{level: level}
	}
}

func (t *tileChecker) checkReady(ctx context.Context) error {
	for _, pt := range t.ready {
		ms, err := t.s.checkTile(ctx, pt.level, pt.index, t.size, pt.nodes)
		if err != nil {
			return err
		}
		t.mismatches.add(ms...)
	}
	t.ready = t.ready[:0]
	return nil
}

// flush checks the partial tiles on the right edge of the tree.
func (t *tileChecker) flush(ctx context.Context) error {
	for _, pt := range t.pending {
		if len(pt.nodes) > 0 {
			t.ready = append(t.ready, pt)
		}
	}
	return t.checkReady(ctx)
}
