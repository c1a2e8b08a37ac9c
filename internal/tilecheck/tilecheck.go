// Package tilecheck verifies the files of a tlog-tiles log (hash tiles and
// entry bundles) against a checkpoint the caller has already verified, and
// names the file at fault when one does not match.
//
// Every file is checked top-down: the right edge of the tree (the compact
// range of the checkpoint's size, read from the rightmost tiles of each
// level) must hash to the checkpoint's root; a full tile must hash to the
// entry its parent tile holds for it, the parent being checked first; an
// entry bundle's leaf hashes must be the entries of its level-0 tile. So a
// single flipped byte is blamed on the file that holds it, not on the
// files that are checked against it. A file checked once is remembered by
// the SHA-256 of its content (Memo): checking it again costs one hash,
// and a file that changed on disk is checked again from scratch.
//
// The ledger uses it on open (Tree.Quick: bounded, whatever the size),
// while serving (Tree.Tile, Tree.Bundle: each file before it is sent with
// immutable caching) and in fsck (Tree.Full: every file).
package tilecheck

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"sync"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// Fetcher reads a log's tiles and bundles; both Tessera's storage readers
// and its client fetchers are one (they fall back from a partial resource
// to the full one).
type Fetcher interface {
	ReadTile(ctx context.Context, level, index uint64, p uint8) ([]byte, error)
	ReadEntryBundle(ctx context.Context, index uint64, p uint8) ([]byte, error)
}

// BadFile is a file of the log whose content the checkpoint refutes.
// Path is its tlog-tiles path ("tile/entries/000", "tile/0/001.p/44").
type BadFile struct {
	Path   string
	Reason string
}

func (b *BadFile) Error() string { return b.Path + ": " + b.Reason }

// ErrNotCovered says a resource lies beyond the checkpoint's tree (written
// ahead of publication): it cannot be checked against this checkpoint yet.
var ErrNotCovered = errors.New("not covered by the checkpoint")

// Memo remembers the files already verified, by path and content hash. It
// may be shared by the Trees of successive checkpoints of one log: a file
// that matched an earlier checkpoint matches every later one (paths of
// partial resources carry their width, so no path ever changes content).
type Memo struct {
	mu   sync.Mutex
	good map[string][sha256.Size]byte
}

// NewMemo returns an empty Memo.
func NewMemo() *Memo { return &Memo{good: map[string][sha256.Size]byte{}} }

func (m *Memo) has(path string, data []byte) bool {
	m.mu.Lock()
	g, ok := m.good[path]
	m.mu.Unlock()
	// Only a remembered path is worth hashing the content for: open's
	// check (a fresh Memo) asks for every file it reads before any is
	// known, and the hash of a bundle is as dear as its leaves'.
	return ok && g == sha256.Sum256(data)
}

func (m *Memo) add(path string, data []byte) {
	sum := sha256.Sum256(data)
	m.mu.Lock()
	m.good[path] = sum
	m.mu.Unlock()
}

// Tree checks files against one checkpoint (size and root hash).
type Tree struct {
	f    Fetcher
	size uint64
	root []byte
	memo *Memo

	edgeMu  sync.Mutex
	edgeErr error
	edgeRun bool
}

// New returns a Tree for the checkpoint of that size and root. memo may be
// nil.
func New(f Fetcher, size uint64, root []byte, memo *Memo) *Tree {
	if memo == nil {
		memo = NewMemo()
	}
	return &Tree{f: f, size: size, root: root, memo: memo}
}

// Size is the tree size checked against.
func (t *Tree) Size() uint64 { return t.size }

var hasher = rfc6962.DefaultHasher

// width is how many entries resource (level, index) holds in this tree: 256
// for a full one, 0 when the tree does not reach it. level -1 is the entry
// bundles (the same shape as level 0).
func (t *Tree) width(level int, index uint64) int {
	l := uint64(max(level, 0))
	at := t.size >> (l * layout.TileHeight)
	switch {
	case index < at/layout.TileWidth:
		return layout.TileWidth
	case index == at/layout.TileWidth:
		return int(at % layout.TileWidth)
	}
	return 0
}

func path(level int, index uint64, p uint8) string {
	if level < 0 {
		return layout.EntriesPath(index, p)
	}
	return layout.TilePath(uint64(level), index, p)
}

// wanted maps a requested resource to the one to verify: the same, or for
// a narrower partial resource the current one it must be a prefix of.
func (t *Tree) wanted(level int, index uint64, p uint8) (w int, err error) {
	w = t.width(level, index)
	switch {
	case w == 0, p == 0 && w != layout.TileWidth, int(p) > w:
		return 0, fmt.Errorf("%s: %w (size %d)", path(level, index, p), ErrNotCovered, t.size)
	}
	return w, nil
}

func pw(w int) uint8 {
	if w == layout.TileWidth {
		return 0
	}
	return uint8(w)
}

// readTile reads a hash tile of w entries and parses it.
func (t *Tree) readTile(ctx context.Context, level uint64, index uint64, w int) ([]byte, [][]byte, error) {
	p := pw(w)
	name := layout.TilePath(level, index, p)
	data, err := t.f.ReadTile(ctx, level, index, p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
			return nil, nil, &BadFile{name, "missing"}
		}
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	if p != 0 && len(data) == layout.TileWidth*sha256.Size {
		data = data[:w*sha256.Size] // the full tile, read for a partial one that is gone
	}
	if len(data) != w*sha256.Size {
		return nil, nil, &BadFile{name, fmt.Sprintf("is %d bytes, want %d (%d hashes)", len(data), w*sha256.Size, w)}
	}
	var ht api.HashTile
	if err := ht.UnmarshalText(data); err != nil {
		return nil, nil, &BadFile{name, err.Error()}
	}
	return data, ht.Nodes, nil
}

// subtree is the root of a perfect subtree whose leaves (or nodes) are hs.
func subtree(hs [][]byte) []byte {
	r := (&compact.RangeFactory{Hash: hasher.HashChildren}).NewEmptyRange(0)
	for _, h := range hs {
		_ = r.Append(h, nil)
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// Edge checks the right edge of the tree: the nodes of the compact range
// [0, size), read from the rightmost (partial) tile of each level, must
// hash to the checkpoint's root. The tiles read are then verified.
func (t *Tree) Edge(ctx context.Context) error {
	t.edgeMu.Lock()
	defer t.edgeMu.Unlock()
	if !t.edgeRun {
		t.edgeErr = t.edge(ctx)
		if ctx.Err() == nil {
			t.edgeRun = true
		}
	}
	return t.edgeErr
}

func (t *Tree) edge(ctx context.Context) error {
	if t.size == 0 {
		if !bytes.Equal(t.root, hasher.EmptyRoot()) {
			return &BadFile{"checkpoint", "size 0 with a root other than the empty tree's"}
		}
		return nil
	}
	root, reads, err := t.edgeRoot(ctx, nil)
	if err != nil {
		return err
	}
	if bytes.Equal(root, t.root) {
		for _, rd := range reads {
			t.memo.add(rd.name, rd.data)
		}
		return nil
	}
	// Which file is wrong? An edge tile recomputed from what lies below it
	// (its bundle, or the full tiles of the level below) that makes the
	// edge hash to the root is the one at fault.
	names := make([]string, len(reads))
	for i, rd := range reads {
		names[i] = rd.name
		below, err := t.fromBelow(ctx, rd)
		if err != nil || below == nil {
			continue
		}
		if r, _, err := t.edgeRoot(ctx, map[string][][]byte{rd.name: below}); err == nil && bytes.Equal(r, t.root) {
			// The other edge tiles are vouched for by that root: files
			// checked against them can still be judged.
			for _, other := range reads {
				if other.name != rd.name {
					t.memo.add(other.name, other.data)
				}
			}
			return &BadFile{rd.name, "does not match what the files below it hash to, which match the checkpoint's root"}
		}
	}
	return &BadFile{"checkpoint", fmt.Sprintf("its root does not match the right edge of the tree, read from %v: the checkpoint or one of those tiles is corrupt", names)}
}

type edgeRead struct {
	name         string
	level, index uint64
	w            int
	data         []byte
}

// edgeRoot computes the root from the edge tiles (or, for those named in
// override, from the hashes given).
func (t *Tree) edgeRoot(ctx context.Context, override map[string][][]byte) ([]byte, []edgeRead, error) {
	var reads []edgeRead
	tiles := map[string][][]byte{}
	var hashes [][]byte
	for _, id := range compact.RangeNodes(0, t.size, nil) {
		l, j := uint64(id.Level)/layout.TileHeight, uint64(id.Level)%layout.TileHeight
		first := id.Index << j
		ti, off := first/layout.TileWidth, first%layout.TileWidth
		w := t.width(int(l), ti)
		name := layout.TilePath(l, ti, pw(w))
		nodes, ok := tiles[name]
		if !ok {
			data, ns, err := t.readTile(ctx, l, ti, w)
			var bf *BadFile
			if errors.As(err, &bf) && bf.Reason == "missing" && j == 0 && l > 0 && w == 1 {
				// The root of a tree of 256^k entries is kept in no tile
				// of its own level: take it from the full tile below.
				below := layout.TilePath(l-1, 0, 0)
				data, ns, err = t.readTile(ctx, l-1, 0, layout.TileWidth)
				if err == nil {
					reads = append(reads, edgeRead{below, l - 1, 0, layout.TileWidth, data})
					if o, ok := override[below]; ok {
						ns = o
					}
					ns = [][]byte{subtree(ns)}
				}
			} else if err == nil {
				reads = append(reads, edgeRead{name, l, ti, w, data})
				if o, ok := override[name]; ok {
					ns = o
				}
			}
			if err != nil {
				return nil, nil, err
			}
			nodes, tiles[name] = ns, ns
		}
		if off+(1<<j) > uint64(len(nodes)) {
			return nil, nil, &BadFile{name, "too short for the checkpoint's size"}
		}
		hashes = append(hashes, subtree(nodes[off:off+(1<<j)]))
	}
	r, err := (&compact.RangeFactory{Hash: hasher.HashChildren}).NewRange(0, t.size, hashes)
	if err != nil {
		return nil, nil, err
	}
	root, err := r.GetRootHash(nil)
	return root, reads, err
}

// fromBelow recomputes an edge tile's hashes from its entry bundle (level
// 0) or the full tiles of the level below; nil if they cannot be read.
func (t *Tree) fromBelow(ctx context.Context, rd edgeRead) ([][]byte, error) {
	out := make([][]byte, rd.w)
	if rd.level == 0 {
		data, err := t.f.ReadEntryBundle(ctx, rd.index, pw(rd.w))
		if err != nil {
			return nil, err
		}
		var b api.EntryBundle
		if err := b.UnmarshalText(data); err != nil || len(b.Entries) < rd.w {
			return nil, err
		}
		for i := range out {
			out[i] = hasher.HashLeaf(b.Entries[i])
		}
		return out, nil
	}
	for i := range out {
		_, ns, err := t.readTile(ctx, rd.level-1, rd.index*layout.TileWidth+uint64(i), layout.TileWidth)
		if err != nil {
			return nil, err
		}
		out[i] = subtree(ns)
	}
	return out, nil
}

// Tile returns hash tile (level, index) of width p (0: full) after
// verifying it, or a *BadFile naming the file at fault, or an error
// wrapping ErrNotCovered.
func (t *Tree) Tile(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
	w, err := t.wanted(int(level), index, p)
	if err != nil {
		return nil, err
	}
	data, _, err := t.tile(ctx, level, index, w)
	if err != nil || pw(w) == p {
		return data, err
	}
	name := layout.TilePath(level, index, p)
	got, err := t.f.ReadTile(ctx, level, index, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(got) == layout.TileWidth*sha256.Size {
		got = got[:int(p)*sha256.Size] // the full tile, read for a partial one that is gone
	}
	if !bytes.Equal(got, data[:int(p)*sha256.Size]) {
		return nil, &BadFile{name, fmt.Sprintf("is not the first %d hashes of %s", p, layout.TilePath(level, index, pw(w)))}
	}
	return got, nil
}

// tile verifies the tile of its current width w.
func (t *Tree) tile(ctx context.Context, level, index uint64, w int) ([]byte, [][]byte, error) {
	name := layout.TilePath(level, index, pw(w))
	data, nodes, err := t.readTile(ctx, level, index, w)
	if err != nil {
		return nil, nil, err
	}
	if t.memo.has(name, data) {
		return data, nodes, nil
	}
	if w < layout.TileWidth {
		// A partial tile is on the right edge.
		if err := t.Edge(ctx); err != nil {
			return nil, nil, err
		}
		if !t.memo.has(name, data) {
			return nil, nil, &BadFile{name, "does not match the right edge of the tree verified against the checkpoint"}
		}
		return data, nodes, nil
	}
	root := subtree(nodes)
	pi := index / layout.TileWidth
	pwidth := t.width(int(level+1), pi)
	if index == 0 && t.size == 1<<((level+1)*layout.TileHeight) {
		// This tile is the whole tree.
		if !bytes.Equal(root, t.root) {
			return nil, nil, &BadFile{name, "does not hash to the checkpoint's root"}
		}
		t.memo.add(name, data)
		return data, nodes, nil
	}
	_, parent, err := t.tile(ctx, level+1, pi, pwidth)
	if err != nil {
		return nil, nil, err
	}
	if want := parent[index%layout.TileWidth]; !bytes.Equal(root, want) {
		return nil, nil, &BadFile{name, fmt.Sprintf("hashes to %x, but %s (verified) holds %x for it", root, layout.TilePath(level+1, pi, pw(pwidth)), want)}
	}
	t.memo.add(name, data)
	return data, nodes, nil
}

// Bundle returns entry bundle index of width p (0: full) after verifying
// every entry against its level-0 tile, which is verified first.
func (t *Tree) Bundle(ctx context.Context, index uint64, p uint8) ([]byte, error) {
	w, err := t.wanted(-1, index, p)
	if err != nil {
		return nil, err
	}
	data, entries, err := t.bundle(ctx, index, w)
	if err != nil || pw(w) == p {
		return data, err
	}
	name := layout.EntriesPath(index, p)
	got, err := t.f.ReadEntryBundle(ctx, index, p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(got); err != nil {
		return nil, &BadFile{name, err.Error()}
	}
	if len(b.Entries) != int(p) && len(b.Entries) != layout.EntryBundleWidth {
		return nil, &BadFile{name, fmt.Sprintf("holds %d entries, want %d", len(b.Entries), p)}
	}
	for i := range int(p) {
		if !bytes.Equal(b.Entries[i], entries[i]) {
			return nil, &BadFile{name, fmt.Sprintf("entry %d differs from the verified %s", i, layout.EntriesPath(index, pw(w)))}
		}
	}
	return got, nil
}

func (t *Tree) bundle(ctx context.Context, index uint64, w int) ([]byte, [][]byte, error) {
	name := layout.EntriesPath(index, pw(w))
	data, err := t.f.ReadEntryBundle(ctx, index, pw(w))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, os.ErrNotExist) {
			return nil, nil, &BadFile{name, "missing"}
		}
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	var b api.EntryBundle
	if err := b.UnmarshalText(data); err != nil {
		return nil, nil, &BadFile{name, err.Error()}
	}
	// Exactly w entries, or a full bundle read for a partial one that is
	// gone (the garbage collector removes those once the full one exists).
	if len(b.Entries) != w && len(b.Entries) != layout.EntryBundleWidth {
		return nil, nil, &BadFile{name, fmt.Sprintf("holds %d entries, want %d", len(b.Entries), w)}
	}
	entries := b.Entries[:w]
	if t.memo.has(name, data) {
		return data, entries, nil
	}
	_, leaves, err := t.tile(ctx, 0, index, w)
	if err != nil {
		return nil, nil, err
	}
	for i, e := range entries {
		if !bytes.Equal(hasher.HashLeaf(e), leaves[i]) {
			return nil, nil, &BadFile{name, fmt.Sprintf("entry %d (log index %d) does not match its hash in %s (verified)",
				i, index*layout.EntryBundleWidth+uint64(i), layout.TilePath(0, index, pw(w)))}
		}
	}
	t.memo.add(name, data)
	return data, entries, nil
}

// Quick is the bounded check for opening a log: the right edge, the last
// full tile of every level and the last two entry bundles. Its cost grows
// with the tree's height, not its size.
func (t *Tree) Quick(ctx context.Context) error {
	if err := t.Edge(ctx); err != nil {
		return err
	}
	for l := uint64(0); t.size>>(l*layout.TileHeight) > 0; l++ {
		if full := (t.size >> (l * layout.TileHeight)) / layout.TileWidth; full > 0 {
			if _, _, err := t.tile(ctx, l, full-1, layout.TileWidth); err != nil {
				return err
			}
		}
	}
	bundles := (t.size + layout.EntryBundleWidth - 1) / layout.EntryBundleWidth
	for n := bundles - min(bundles, 2); n < bundles; n++ {
		if _, _, err := t.bundle(ctx, n, t.width(-1, n)); err != nil {
			return err
		}
	}
	return nil
}

// Full checks every tile and every entry bundle of the tree and returns
// every file found at fault (sorted by path), or other errors (a file that
// could not be read for another reason than its absence). A file checked
// against a bad one is not blamed: the bad one is named.
func (t *Tree) Full(ctx context.Context) (bad []*BadFile, err error) {
	seen := map[string]bool{}
	var errs []error
	note := func(e error) {
		var bf *BadFile
		switch {
		case e == nil:
		case errors.As(e, &bf):
			if !seen[bf.Path] {
				seen[bf.Path] = true
				bad = append(bad, bf)
			}
		default:
			errs = append(errs, e)
		}
	}
	note(t.Edge(ctx))
	for l := uint64(0); t.size>>(l*layout.TileHeight) > 0; l++ {
		at := t.size >> (l * layout.TileHeight)
		for n := uint64(0); n*layout.TileWidth < at; n++ {
			if ctx.Err() != nil {
				return bad, ctx.Err()
			}
			_, _, e := t.tile(ctx, l, n, t.width(int(l), n))
			note(e)
		}
	}
	for n := uint64(0); n*layout.EntryBundleWidth < t.size; n++ {
		if ctx.Err() != nil {
			return bad, ctx.Err()
		}
		_, _, e := t.bundle(ctx, n, t.width(-1, n))
		note(e)
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].Path < bad[j].Path })
	return bad, errors.Join(errs...)
}
