package ledger

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
)

// memTiles is a log's hash tiles built in memory with the merkle
// package's reference tree, read the way Tessera serves them.
type memTiles struct {
	tree  *testonly.Tree
	reads int
	mu    sync.Mutex
}

func newMemTiles(n uint64) *memTiles {
	t := testonly.New(rfc6962.DefaultHasher)
	for i := range n {
		t.AppendData([]byte{byte(i), byte(i >> 8), byte(i >> 16)})
	}
	return &memTiles{tree: t}
}

// read returns tile level/index, p hashes wide (0: 256), of the tree at
// its current size.
func (m *memTiles) read(_ context.Context, level, index uint64, p uint8) ([]byte, error) {
	m.mu.Lock()
	m.reads++
	m.mu.Unlock()
	w := uint64(p)
	if w == 0 {
		w = layout.TileWidth
	}
	var t api.HashTile
	for i := range w {
		nodeIdx := index*layout.TileWidth + i
		// A tile at level L holds the tree's nodes at level 8L.
		begin, end := nodeIdx<<(8*level), (nodeIdx+1)<<(8*level)
		if end > m.tree.Size() {
			return nil, errors.New("tile past the tree")
		}
		t.Nodes = append(t.Nodes, subtreeHash(m.tree, begin, end))
	}
	return t.MarshalText()
}

func subtreeHash(t *testonly.Tree, begin, end uint64) []byte {
	if end-begin == 1 {
		return t.LeafHash(begin)
	}
	mid := begin + (end-begin)/2
	return rfc6962.DefaultHasher.HashChildren(subtreeHash(t, begin, mid), subtreeHash(t, mid, end))
}

// TestProofCacheMatchesReference: the cached proofs equal the reference
// tree's for leaves across full and partial tiles and two tree levels of
// tiles, for several tree sizes sharing one cache (full tiles are reused
// across checkpoints), from concurrent goroutines.
func TestProofCacheMatchesReference(t *testing.T) {
	ctx := context.Background()
	var c proofCache
	m := newMemTiles(70_000)
	for _, size := range []uint64{1, 2, 255, 256, 257, 65_536, 65_537, 70_000} {
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for _, idx := range []uint64{0, 1, 127, 255, 256, 300, 65_535, 65_536, 69_999} {
					idx = (idx + uint64(w)) % size
					got, err := c.inclusion(ctx, func(ctx context.Context, level, index uint64, p uint8) ([]byte, error) {
						return m.readAt(ctx, size, level, index, p)
					}, idx, size)
					if err != nil {
						t.Errorf("size %d index %d: %v", size, idx, err)
						return
					}
					want, err := m.tree.InclusionProof(idx, size)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) != len(want) {
						t.Errorf("size %d index %d: %d hashes, want %d", size, idx, len(got), len(want))
						return
					}
					for i := range got {
						if !bytes.Equal(got[i], want[i]) {
							t.Errorf("size %d index %d: hash %d differs", size, idx, i)
						}
					}
					if err := proof.VerifyInclusion(rfc6962.DefaultHasher, idx, size, m.tree.LeafHash(idx), got, m.tree.HashAt(size)); err != nil {
						t.Errorf("size %d index %d: %v", size, idx, err)
					}
				}
			})
		}
		wg.Wait()
	}
}

// readAt reads a tile of the tree at size (the reference tree is larger;
// a partial tile is the prefix of the tile as it will be).
func (m *memTiles) readAt(ctx context.Context, size, level, index uint64, p uint8) ([]byte, error) {
	if want := layout.PartialTileSize(level, index, size); p != want {
		return nil, errors.New("asked for a tile of the wrong width")
	}
	return m.read(ctx, level, index, p)
}

// TestProofCacheRefusesBadTiles: a tile that cannot be read, or holds the
// wrong number of hashes, fails the proof with an error naming the tile.
func TestProofCacheRefusesBadTiles(t *testing.T) {
	ctx := context.Background()
	var c proofCache
	_, err := c.inclusion(ctx, func(context.Context, uint64, uint64, uint8) ([]byte, error) { return nil, errors.New("gone") }, 3, 10)
	if err == nil || !strings.Contains(err.Error(), "reading tile 0/0: gone") {
		t.Fatalf("got %v", err)
	}
	short, _ := (&api.HashTile{Nodes: [][]byte{make([]byte, 32)}}).MarshalText()
	_, err = c.inclusion(ctx, func(context.Context, uint64, uint64, uint8) ([]byte, error) { return short, nil }, 3, 10)
	if err == nil || !strings.Contains(err.Error(), "tile 0/0 has 1 hashes, want 10") {
		t.Fatalf("got %v", err)
	}
	if _, err := c.inclusion(ctx, nil, 10, 10); err == nil {
		t.Fatal("a proof for an index past the tree was built")
	}
}
