package ledger

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// sweepEdge removes the temp files at the root, in .state/ and in the
// directories of the tiles and entry bundles at the tree's right edge
// (and their partial tiles'), and leaves every real file; a temp file far
// from the edge (which no write since the last start can have left) is
// not looked for unless from says the session wrote there. Without a
// readable tree state it sweeps the whole log.
func TestSweepEdge(t *testing.T) {
	// 300,000 leaves: bundle and level-0 tile 1171 are partial (48 of
	// 256), level-1 tile 4 (147), level-2 tile 0 (4).
	real := []string{"checkpoint", ".state/treeState", ".state/gcState",
		"tile/entries/x001/170", "tile/entries/x001/171.p/48", "tile/0/x001/170", "tile/0/x001/171.p/48",
		"tile/1/003", "tile/1/004.p/147", "tile/2/000.p/4", "tile/entries/000", "tile/entries/x001/000", "compliance/7.note"}
	edge := []string{"checkpoint123", ".state/treeState99", "tile/entries/x001/171.p/4812345",
		"tile/entries/x001/17155", "tile/0/x001/171.p/4877", "tile/0/x001/17288", "tile/1/004.p/14701",
		"tile/1/00412", "tile/2/000.p/4987", "tile/entries/x001/1729"}
	far := []string{"tile/entries/000123", "tile/entries/x001/000.p/3599", "tile/0/00012"}
	dir := t.TempDir()
	write := func(names ...string) {
		for _, n := range names {
			p := filepath.Join(dir, filepath.FromSlash(n))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(append(append(real, edge...), far...)...)
	os.WriteFile(filepath.Join(dir, ".state", "treeState"), []byte(`{"size":300000,"root":"AAAA"}`), 0o644)
	quiet := slog.New(slog.DiscardHandler)
	if n := sweepEdge(dir, ^uint64(0), 2048, quiet); n != len(edge) {
		t.Errorf("removed %d, want the %d at the edge", n, len(edge))
	}
	exists := func(n string) bool { _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(n))); return err == nil }
	for _, n := range append(real, far...) {
		if !exists(n) {
			t.Errorf("%s removed", n)
		}
	}
	for _, n := range edge {
		if exists(n) {
			t.Errorf("%s left", n)
		}
	}
	// From size 0 (a Close after a session that wrote the whole log):
	// every tile directory.
	if n := sweepEdge(dir, 0, 2048, quiet); n != len(far) {
		t.Errorf("from 0 removed %d, want %d", n, len(far))
	}
	write(far...)
	// No tree state: the whole log is swept.
	os.WriteFile(filepath.Join(dir, ".state", "treeState"), []byte(`{}`), 0o644)
	if n := sweepEdge(dir, ^uint64(0), 2048, quiet); n != len(far) {
		t.Errorf("without a tree state removed %d, want %d", n, len(far))
	}
}
