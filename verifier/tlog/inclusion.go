package tlog

import (
	"context"
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
