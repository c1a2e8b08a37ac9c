package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api/layout"
	"github.com/transparency-dev/tessera/client"
)

var hasher = rfc6962.DefaultHasher

// VerifyInclusion checks that leaf is the entry at index in the tree that cp
// commits to, given the inclusion proof hashes (sibling first).
func VerifyInclusion(leaf []byte, index uint64, hashes [][]byte, cp *Checkpoint) error {
	if err := proof.VerifyInclusion(hasher, index, cp.Size, hasher.HashLeaf(leaf), hashes, cp.Hash); err != nil {
		return fmt.Errorf("tlog: leaf %d is not included in tree of %s: %w", index, cp, err)
	}
	return nil
}

// InclusionProof builds the inclusion proof for index in the tree of cp from
// the log's tiles. The tiles are not trusted: check the result with
// [VerifyInclusion].
func (s *Source) InclusionProof(ctx context.Context, index uint64, cp *Checkpoint) ([][]byte, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("tlog: index %d is outside tree of size %d", index, cp.Size)
	}
	pb, err := client.NewProofBuilder(ctx, cp.Size, s.f.ReadTile)
	if err != nil {
		return nil, fmt.Errorf("tlog: %s: %v", s, err)
	}
	h, err := pb.InclusionProof(ctx, index)
	if err != nil {
		return nil, fmt.Errorf("tlog: inclusion proof for %d from %s: %v", index, s, err)
	}
	return h, nil
}

// Leaf fetches the entry at index from the tree of cp, unverified: prove it
// with [Source.InclusionProof] and [VerifyInclusion].
func (s *Source) Leaf(ctx context.Context, index uint64, cp *Checkpoint) ([]byte, error) {
	if index >= cp.Size {
		return nil, fmt.Errorf("tlog: index %d is outside tree of size %d", index, cp.Size)
	}
	b, err := client.GetEntryBundle(ctx, s.f.ReadEntryBundle, index/layout.EntryBundleWidth, cp.Size)
	if err != nil {
		return nil, fmt.Errorf("tlog: %s: %v", s, err)
	}
	i := index % layout.EntryBundleWidth
	if i >= uint64(len(b.Entries)) {
		return nil, fmt.Errorf("tlog: %s: entry bundle for index %d has only %d entries", s, index, len(b.Entries))
	}
	return b.Entries[i], nil
}

// Leaves reads the leaves [from, to) of the tree of cp from its entry
// bundles, unverified, in order.
func (s *Source) Leaves(ctx context.Context, cp *Checkpoint, from, to uint64, fn func(i uint64, leaf []byte) error) error {
	if to > cp.Size {
		return fmt.Errorf("tlog: leaves up to %d are outside tree of size %d", to, cp.Size)
	}
	// Bundles are read as the tree of cp.Size has them (the last one may be
	// partial), and reading stops at to.
	err := s.leaves(ctx, from, cp.Size, func(i uint64, leaf []byte) error {
		if i >= to {
			return errStop
		}
		return fn(i, leaf)
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

var errStop = errors.New("stop")

// RangeRight returns the compact range of the leaves [end, cp.Size): the
// hashes that, appended to the leaves [0, end), rebuild cp's root (see
// [VerifyRange]). It reads those leaves; check the result with VerifyRange.
func (s *Source) RangeRight(ctx context.Context, cp *Checkpoint, end uint64) ([][]byte, error) {
	r := rangeFactory.NewEmptyRange(end)
	err := s.Leaves(ctx, cp, end, cp.Size, func(_ uint64, leaf []byte) error {
		return r.Append(hasher.HashLeaf(leaf), nil)
	})
	if err != nil {
		return nil, err
	}
	return r.Hashes(), nil
}

// VerifyRange checks that leaves are the first len(leaves) leaves of the
// tree of cp, given right, the compact range of the rest of the tree.
func VerifyRange(leaves [][]byte, right [][]byte, cp *Checkpoint) error {
	end := uint64(len(leaves))
	if end > cp.Size {
		return fmt.Errorf("tlog: %d leaves, more than the tree of %s", end, cp)
	}
	l := rangeFactory.NewEmptyRange(0)
	for _, leaf := range leaves {
		if err := l.Append(hasher.HashLeaf(leaf), nil); err != nil {
			return err
		}
	}
	r, err := rangeFactory.NewRange(end, cp.Size, right)
	if err != nil {
		return fmt.Errorf("tlog: right range [%d, %d): %v", end, cp.Size, err)
	}
	if err := l.AppendRange(r, nil); err != nil {
		return fmt.Errorf("tlog: right range [%d, %d): %v", end, cp.Size, err)
	}
	root, err := l.GetRootHash(nil)
	if err != nil {
		return err
	}
	if end == 0 && cp.Size == 0 {
		root = hasher.EmptyRoot()
	}
	if !bytes.Equal(root, cp.Hash) {
		return fmt.Errorf("tlog: leaves [0, %d) and the right range yield root %s, not the root of %s", end, b64(root), cp)
	}
	return nil
}
