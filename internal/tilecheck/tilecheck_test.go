package tilecheck_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/tilecheck"
	"github.com/transparency-dev/formats/log"
	"github.com/transparency-dev/tessera/client"
	"golang.org/x/mod/sumdb/note"
)

func tree(t *testing.T, l *testlog.Log, dir string) *tilecheck.Tree {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(l.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		t.Fatal(err)
	}
	return tilecheck.New(client.FileFetcher{Root: dir}, cp.Size, cp.Hash, nil)
}

func leaves(from, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, "leaf %d", from+i)
	}
	return out
}

// Every size shape: one leaf, a partial bundle, exactly one and two full
// tiles, a second level, exactly 256² leaves (the root kept in no tile of
// its own level) and just past it.
func TestGoodLogs(t *testing.T) {
	l := testlog.New(t, "example.com/tilecheck")
	n := 0
	for _, size := range []int{1, 5, 255, 256, 257, 300, 512, 513, 256 * 256, 256*256 + 3} {
		l.Add(t, leaves(n, size-n)...)
		n = size
		tr := tree(t, l, l.Dir)
		if tr.Size() != uint64(size) {
			t.Fatalf("checkpoint size %d, want %d", tr.Size(), size)
		}
		if err := tr.Quick(context.Background()); err != nil {
			t.Fatalf("size %d: Quick: %v", size, err)
		}
		if size > 1000 && size != 256*256+3 {
			continue // a full check of 65,536 leaves once is enough
		}
		bad, err := tree(t, l, l.Dir).Full(context.Background())
		if err != nil || len(bad) > 0 {
			t.Fatalf("size %d: Full: %v %v", size, bad, err)
		}
	}
}

func copyDir(t *testing.T, from string) string {
	t.Helper()
	to := t.TempDir()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
	return to
}

func flip(t *testing.T, dir, name string, at int) {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at%len(b)] ^= 0x01
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// One flipped byte in any file of a 300-entry log is blamed on that file,
// by the full check and, for the files it reads, by the quick one.
func TestFlippedByte(t *testing.T) {
	l := testlog.New(t, "example.com/tilecheck")
	l.Add(t, leaves(0, 300)...)
	for _, c := range []struct {
		name  string
		at    int
		quick bool // on the right edge or the last full tile: Quick reads it
	}{
		{"tile/entries/000", 40, true},
		{"tile/entries/000", 5000, true},
		{"tile/entries/001.p/44", 3, true},
		{"tile/0/000", 100, true},
		{"tile/0/001.p/44", 33, true},
		{"tile/1/000.p/1", 7, true},
	} {
		t.Run(strings.ReplaceAll(c.name, "/", "_")+fmt.Sprint(c.at), func(t *testing.T) {
			dir := copyDir(t, l.Dir)
			flip(t, dir, c.name, c.at)
			bad, err := tree(t, l, dir).Full(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if len(bad) != 1 || bad[0].Path != c.name {
				t.Fatalf("Full blamed %v, want %s", bad, c.name)
			}
			t.Logf("Full: %v", bad[0])
			err = tree(t, l, dir).Quick(context.Background())
			var bf *tilecheck.BadFile
			if !errors.As(err, &bf) {
				t.Fatalf("Quick: %v, want a BadFile", err)
			}
			if !strings.Contains(bf.Error(), c.name) {
				t.Fatalf("Quick: %v does not name %s", bf, c.name)
			}
		})
	}
}

// Two bad files at once, one of them on the right edge: both are named.
func TestTwoBadFiles(t *testing.T) {
	l := testlog.New(t, "example.com/tilecheck")
	l.Add(t, leaves(0, 300)...)
	dir := copyDir(t, l.Dir)
	flip(t, dir, "tile/entries/000", 77)
	flip(t, dir, "tile/0/001.p/44", 70)
	bad, err := tree(t, l, dir).Full(context.Background())
	if err != nil || len(bad) != 2 || bad[0].Path != "tile/0/001.p/44" || bad[1].Path != "tile/entries/000" {
		t.Fatalf("Full: %v %v", bad, err)
	}
}

// A resource written beyond the checkpoint is not vouched for; a missing
// file is named.
func TestNotCoveredAndMissing(t *testing.T) {
	l := testlog.New(t, "example.com/tilecheck")
	l.Add(t, leaves(0, 300)...)
	tr := tree(t, l, l.Dir)
	ctx := context.Background()
	if _, err := tr.Bundle(ctx, 2, 0); !errors.Is(err, tilecheck.ErrNotCovered) {
		t.Fatalf("bundle 2: %v", err)
	}
	if _, err := tr.Bundle(ctx, 1, 45); !errors.Is(err, tilecheck.ErrNotCovered) {
		t.Fatalf("bundle 1.p/45: %v", err)
	}
	if _, err := tr.Bundle(ctx, 1, 0); !errors.Is(err, tilecheck.ErrNotCovered) {
		t.Fatalf("bundle 1 full: %v", err)
	}
	if _, err := tr.Bundle(ctx, 1, 44); err != nil {
		t.Fatal(err)
	}
	dir := copyDir(t, l.Dir)
	if err := os.Remove(filepath.Join(dir, "tile", "0", "000")); err != nil {
		t.Fatal(err)
	}
	bad, err := tree(t, l, dir).Full(ctx)
	if err != nil || len(bad) != 1 || bad[0].Error() != "tile/0/000: missing" {
		t.Fatalf("Full: %v %v", bad, err)
	}
}

// overlay serves one resource from memory, the rest from the log.
type overlay struct {
	client.FileFetcher
	bundle0, tile0 []byte
}

func (o overlay) ReadEntryBundle(ctx context.Context, i uint64, p uint8) ([]byte, error) {
	if i == 0 && o.bundle0 != nil {
		return o.bundle0, nil
	}
	return o.FileFetcher.ReadEntryBundle(ctx, i, p)
}

func (o overlay) ReadTile(ctx context.Context, l, i uint64, p uint8) ([]byte, error) {
	if l == 0 && i == 0 && o.tile0 != nil {
		return o.tile0, nil
	}
	return o.FileFetcher.ReadTile(ctx, l, i, p)
}

// Whatever a hostile server answers for a bundle or a tile, the check
// does not panic, and anything but the true bytes is blamed on that file.
func FuzzFiles(f *testing.F) {
	l := testlog.New(f, "example.com/tilecheck")
	l.Add(f, leaves(0, 7)...)
	raw, err := os.ReadFile(filepath.Join(l.Dir, "checkpoint"))
	if err != nil {
		f.Fatal(err)
	}
	v, _ := note.NewVerifier(l.Vkey)
	cp, _, _, err := log.ParseCheckpoint(raw, v.Name(), v)
	if err != nil {
		f.Fatal(err)
	}
	bundle, _ := os.ReadFile(filepath.Join(l.Dir, "tile", "entries", "000.p", "7"))
	tile, _ := os.ReadFile(filepath.Join(l.Dir, "tile", "0", "000.p", "7"))
	f.Add(true, bundle)
	f.Add(false, tile)
	f.Add(true, []byte{0, 1, 'x'})
	f.Add(false, tile[:32*6])
	f.Add(true, append(append([]byte{}, bundle...), 0, 1, 'x')) // an eighth entry
	f.Fuzz(func(t *testing.T, isBundle bool, data []byte) {
		o := overlay{FileFetcher: client.FileFetcher{Root: l.Dir}}
		orig := tile
		if isBundle {
			o.bundle0, orig = data, bundle
		} else {
			o.tile0 = data
		}
		bad, err := tilecheck.New(o, cp.Size, cp.Hash, nil).Full(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if string(data) == string(orig) {
			if len(bad) != 0 {
				t.Fatalf("the true file blamed: %v", bad)
			}
			return
		}
		if isBundle && len(bad) == 0 {
			// Another encoding of the same entries would be the same bundle.
			t.Fatalf("a bundle of %d bytes unlike the true one passed", len(data))
		}
		if !isBundle && len(bad) == 0 {
			t.Fatalf("a tile of %d bytes unlike the true one passed", len(data))
		}
	})
}
