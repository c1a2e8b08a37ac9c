package tlog

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// Edge is the right edge of a verified tree: the hashes of the compact
// range [0, Size), at most one per bit of Size. They are all a follower
// needs to check that new leaves extend the tree, without reading the old
// leaves again.
type Edge struct {
	Size   uint64   `json:"size"`
	Hashes []string `json:"hashes"` // base64 SHA-256, as compact.Range orders them
}

var rangeFactory = &compact.RangeFactory{Hash: hasher.HashChildren}

func (e *Edge) compact() (*compact.Range, error) {
	if e == nil {
		return rangeFactory.NewEmptyRange(0), nil
	}
	hs := make([][]byte, len(e.Hashes))
	for i, h := range e.Hashes {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("tlog: edge hash %d is not a base64 SHA-256 hash", i)
		}
		hs[i] = b
	}
	r, err := rangeFactory.NewRange(0, e.Size, hs)
	if err != nil {
		return nil, fmt.Errorf("tlog: edge of size %d: %v", e.Size, err)
	}
	return r, nil
}

func edgeOf(r *compact.Range) *Edge {
	e := &Edge{Size: r.End(), Hashes: []string{}}
	for _, h := range r.Hashes() {
		e.Hashes = append(e.Hashes, b64(h))
	}
	return e
}

// Check verifies that the edge is the tree cp signs (same size, same root):
// an edge read back from a state file is trusted only after this.
func (e *Edge) Check(cp *Checkpoint) error {
	r, err := e.compact()
	if err != nil {
		return err
	}
	if r.End() != cp.Size {
		return fmt.Errorf("tlog: edge is of size %d, checkpoint of size %d", r.End(), cp.Size)
	}
	root := hasher.EmptyRoot()
	if cp.Size > 0 {
		if root, err = r.GetRootHash(nil); err != nil {
			return fmt.Errorf("tlog: edge: %v", err)
		}
	}
	if !bytes.Equal(root, cp.Hash) {
		return &RootMismatchError{Size: cp.Size, Expected: cp.Hash, Computed: root}
	}
	return nil
}

// keepLimit bounds the leaf bytes Extend keeps between its two passes;
// past it, the leaves are read a second time instead.
var keepLimit = 64 << 20

// Extend reads the leaves [edge.Size, cp.Size) — only the new ones — and
// checks that, appended to the tree of edge (nil: the empty tree), they
// give exactly the root cp signs. Only then does fn get them, in index
// order: a follower never acts on a leaf the signed tree does not hold. It
// returns the edge of cp's tree. progress, if set, is called as leaves are
// handed to fn.
//
// When the new leaves are too many to keep in memory, they are read twice:
// once to hash them, once to hand them over, each entry bundle checked
// against a digest of the first reading's leaf hashes (32 bytes a bundle).
func (s *Source) Extend(ctx context.Context, edge *Edge, cp *Checkpoint, progress func(done, total uint64), fn func(index uint64, leaf []byte) error) (*Edge, error) {
	r, err := edge.compact()
	if err != nil {
		return nil, err
	}
	from := r.End()
	if cp.Size < from {
		return nil, fmt.Errorf("tlog: cannot extend a tree of size %d to %d", from, cp.Size)
	}
	var digests [][]byte // per entry bundle touched, of its new leaves' hashes
	var kept [][]byte
	keptBytes, keep := 0, true
	d := sha256.New()
	err = s.leaves(ctx, from, cp.Size, func(i uint64, leaf []byte) error {
		h := hasher.HashLeaf(leaf)
		d.Write(h)
		if (i+1)%layout.EntryBundleWidth == 0 || i+1 == cp.Size {
			digests = append(digests, d.Sum(nil))
			d.Reset()
		}
		if keep {
			if keptBytes += len(leaf); keptBytes > keepLimit {
				keep, kept = false, nil
			} else {
				kept = append(kept, leaf)
			}
		}
		return r.Append(h, nil)
	})
	if err != nil {
		return nil, err
	}
	root := hasher.EmptyRoot()
	if cp.Size > 0 {
		if root, err = r.GetRootHash(nil); err != nil {
			return nil, fmt.Errorf("tlog: extend: %v", err)
		}
	}
	if !bytes.Equal(root, cp.Hash) {
		return nil, &RootMismatchError{Size: cp.Size, Expected: cp.Hash, Computed: root}
	}
	total := cp.Size - from
	hand := func(first uint64, ls [][]byte) error {
		for j, leaf := range ls {
			i := first + uint64(j)
			if err := fn(i, leaf); err != nil {
				return err
			}
			if progress != nil {
				progress(i-from+1, total)
			}
		}
		return nil
	}
	if keep {
		if err := hand(from, kept); err != nil {
			return nil, err
		}
		return edgeOf(r), nil
	}
	// Second reading, one bundle at a time: a bundle is handed over only
	// once its leaves match the first reading.
	var buf [][]byte
	first, bundle := from, 0
	err = s.leaves(ctx, from, cp.Size, func(i uint64, leaf []byte) error {
		d.Write(hasher.HashLeaf(leaf))
		buf = append(buf, leaf)
		if (i+1)%layout.EntryBundleWidth != 0 && i+1 != cp.Size {
			return nil
		}
		if !bytes.Equal(d.Sum(nil), digests[bundle]) {
			return fmt.Errorf("tlog: leaves %d–%d changed between two readings", first, i)
		}
		d.Reset()
		if err := hand(first, buf); err != nil {
			return err
		}
		buf, first, bundle = buf[:0], i+1, bundle+1
		return nil
	})
	if err != nil {
		return nil, err
	}
	return edgeOf(r), nil
}

// leaves reads the leaves [from, to) of the tree of size to from its entry
// bundles, unverified, in order.
func (s *Source) leaves(ctx context.Context, from, to uint64, fn func(i uint64, leaf []byte) error) error {
	if from >= to {
		return nil
	}
	for b := from / layout.EntryBundleWidth; b <= (to-1)/layout.EntryBundleWidth; b++ {
		p := layout.PartialTileSize(0, b, to)
		want := int(p)
		if p == 0 {
			want = layout.EntryBundleWidth
		}
		path := layout.EntriesPath(b, p)
		raw, err := s.f.ReadEntryBundle(ctx, b, p)
		if err != nil {
			return &ResourceError{Path: path, Err: err}
		}
		var eb api.EntryBundle
		if err := eb.UnmarshalText(raw); err != nil {
			return &ResourceError{Path: path, Err: err}
		}
		// A full bundle may stand in for a partial one the log has since
		// completed; the tree of size to holds only its first want leaves.
		if n := len(eb.Entries); n < want || (n > want && p == 0) {
			return &ResourceError{Path: path, Err: fmt.Errorf("has %d entries, want %d", n, want)}
		}
		first := b * layout.EntryBundleWidth
		for j := 0; j < want; j++ {
			i := first + uint64(j)
			if i < from {
				continue
			}
			if err := fn(i, eb.Entries[j]); err != nil {
				return err
			}
		}
	}
	return nil
}
