package ledger

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/tessera/api"
	"github.com/transparency-dev/tessera/api/layout"
	"golang.org/x/sync/singleflight"
)

// proofCache builds inclusion proofs for receipts from the log's hash
// tiles, sharing the work between proofs.
//
// Tessera's client.ProofBuilder keeps fetched tiles but re-derives every
// interior node it needs from the tile's leaves for each proof (up to 128
// hashes per tile level), and it is not safe for concurrent use, so the
// ledger used to build every receipt under one lock: 27% of append CPU
// and nearly all lock wait over HTTP (issue 12). Here each tile, once
// read, is turned into its whole pyramid of complete subtree hashes, and
// a proof is then a few slice lookups. A full tile never changes, so its
// pyramid serves every later checkpoint too; a partial tile (the right
// edge) is keyed by its width, which the tree size fixes. The lock only
// guards the map: reading a tile and hashing its pyramid happen outside
// it, so receipts are built on every core (two goroutines may build the
// same pyramid at once; both are right and one is kept). Concurrent
// misses of one tile are one read, though (flight): when a checkpoint is
// published, every receipt waiting for it asks for the same new right-edge
// tiles at once, and on the AWS driver each read is an S3 GET: hundreds
// of identical GETs, each dialling its own connection, took 13% of the
// HTTP append's CPU in make bench (6d).
//
// Nothing read here is trusted: every proof is verified against the
// checkpoint's root before it is handed out (Ledger.receipt).
type proofCache struct {
	mu     sync.Mutex
	tiles  map[tileAddr]*pyramid
	flight singleflight.Group // tile reads in progress, by tileAddr
}

type tileAddr struct {
	level, index uint64
	width        uint8 // 0: a full tile (layout.PartialTileSize)
}

// pyramid holds a tile's complete subtree hashes: levels[0] are the
// tile's own hashes, levels[k][i] the root of leaves [i·2^k, (i+1)·2^k).
type pyramid struct{ levels [][][]byte }

// maxCachedTiles bounds the cache (a full tile's pyramid is about 16 KiB
// of hashes). Receipts are asked for near the right edge of the tree, so
// the tiles they need are few and recent; past the bound the cache starts
// again empty rather than tracking use.
const maxCachedTiles = 2048

func newPyramid(hashes [][]byte) *pyramid {
	p := &pyramid{levels: [][][]byte{hashes}}
	for prev := hashes; len(prev) >= 2; {
		next := make([][]byte, len(prev)/2)
		for i := range next {
			next[i] = rfc6962.DefaultHasher.HashChildren(prev[2*i], prev[2*i+1])
		}
		p.levels = append(p.levels, next)
		prev = next
	}
	return p
}

type tileReader func(ctx context.Context, level, index uint64, p uint8) ([]byte, error)

func (c *proofCache) tile(ctx context.Context, read tileReader, a tileAddr) (*pyramid, error) {
	c.mu.Lock()
	p := c.tiles[a]
	c.mu.Unlock()
	if p != nil {
		return p, nil
	}
	v, err, _ := c.flight.Do(fmt.Sprintf("%d/%d/%d", a.level, a.index, a.width), func() (any, error) {
		// Not the first asker's own deadline: its client may go while
		// others wait for the same read.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return c.readTile(rctx, read, a)
	})
	if err != nil {
		return nil, err
	}
	return v.(*pyramid), nil
}

// readTile reads a tile and caches its pyramid.
func (c *proofCache) readTile(ctx context.Context, read tileReader, a tileAddr) (*pyramid, error) {
	c.mu.Lock()
	p := c.tiles[a]
	c.mu.Unlock()
	if p != nil {
		return p, nil // cached by a read that ended just before this one started
	}
	raw, err := read(ctx, a.level, a.index, a.width)
	if err != nil {
		return nil, fmt.Errorf("reading tile %d/%d: %w", a.level, a.index, err)
	}
	var t api.HashTile
	if err := t.UnmarshalText(raw); err != nil {
		return nil, fmt.Errorf("tile %d/%d: %w", a.level, a.index, err)
	}
	want := int(a.width)
	if want == 0 {
		want = layout.TileWidth
	}
	if len(t.Nodes) != want {
		return nil, fmt.Errorf("tile %d/%d has %d hashes, want %d", a.level, a.index, len(t.Nodes), want)
	}
	p = newPyramid(t.Nodes)
	c.mu.Lock()
	defer c.mu.Unlock()
	if q := c.tiles[a]; q != nil {
		return q, nil
	}
	if c.tiles == nil || len(c.tiles) >= maxCachedTiles {
		c.tiles = map[tileAddr]*pyramid{}
	}
	c.tiles[a] = p
	return p, nil
}

// inclusion returns the inclusion proof of leaf index in the tree of size.
func (c *proofCache) inclusion(ctx context.Context, read tileReader, index, size uint64) ([][]byte, error) {
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, 0, len(nodes.IDs))
	for _, id := range nodes.IDs {
		tl, ti, nl, ni := layout.NodeCoordsToTileAddress(uint64(id.Level), id.Index)
		p, err := c.tile(ctx, read, tileAddr{level: tl, index: ti, width: layout.PartialTileSize(tl, ti, size)})
		if err != nil {
			return nil, err
		}
		if int(nl) >= len(p.levels) || ni >= uint64(len(p.levels[nl])) {
			return nil, fmt.Errorf("tile %d/%d lacks node %d/%d", tl, ti, id.Level, id.Index)
		}
		hashes = append(hashes, p.levels[nl][ni])
	}
	return nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
}
