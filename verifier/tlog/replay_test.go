package tlog_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/rfc6962"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// replayAll replays cp and checks that the leaves arrive in order.
func replayAll(t *testing.T, s *tlog.Source, cp *tlog.Checkpoint, want [][]byte) error {
	t.Helper()
	var next uint64
	err := s.Replay(context.Background(), cp, tlog.ReplayOptions{Workers: 4}, func(i uint64, leaf []byte) error {
		if i != next {
			t.Fatalf("got leaf %d, want %d", i, next)
		}
		if want != nil && !bytes.Equal(leaf, want[i]) {
			t.Fatalf("leaf %d is %q, want %q", i, leaf, want[i])
		}
		next++
		return nil
	})
	if err == nil && next != cp.Size {
		t.Fatalf("replay delivered %d leaves, want %d", next, cp.Size)
	}
	return err
}

func TestReplay(t *testing.T) {
	k := newTestKey(t)
	l := newTestLog(t, k)
	// 600 leaves: level-0 tiles 000, 001, 002.p/88 and level-1 tile 000.p/2.
	l.add(t, leaves("leaf", 0, 600)...)
	cp := mustCheckpoint(t, l.source(t), k.trust)

	t.Run("clean", func(t *testing.T) {
		var calls, last uint64
		err := l.source(t).Replay(context.Background(), cp, tlog.ReplayOptions{
			Progress: func(done, total uint64) {
				if done <= last || total != 600 {
					t.Errorf("progress %d/%d after %d", done, total, last)
				}
				calls, last = calls+1, done
			},
		}, func(uint64, []byte) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		if calls != 3 || last != 600 {
			t.Errorf("progress called %d times, last %d", calls, last)
		}
		if err := replayAll(t, l.source(t), cp, l.leaves); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("empty tree", func(t *testing.T) {
		empty := &tlog.Checkpoint{Origin: testOrigin, Hash: rfc6962.DefaultHasher.EmptyRoot()}
		if err := replayAll(t, l.source(t), empty, nil); err != nil {
			t.Error(err)
		}
		var rm *tlog.RootMismatchError
		if err := replayAll(t, l.source(t), &tlog.Checkpoint{Hash: cp.Hash}, nil); !errors.As(err, &rm) {
			t.Errorf("empty tree with a non-empty root: got %v", err)
		}
	})

	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("enough")
		err := l.source(t).Replay(context.Background(), cp, tlog.ReplayOptions{}, func(i uint64, _ []byte) error {
			if i == 300 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || !strings.Contains(err.Error(), "leaf 300") {
			t.Errorf("got %v", err)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		err := l.source(t).Replay(ctx, cp, tlog.ReplayOptions{}, func(i uint64, _ []byte) error {
			cancel()
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want context.Canceled", err)
		}
	})

	// Offset of leaf i's data in its bundle file.
	leafOffset := func(i int) int {
		off := 0
		for j := i - i%256; j < i; j++ {
			off += 2 + len(l.leaves[j])
		}
		return off + 2
	}

	for _, tc := range []struct {
		name   string
		mutate func(t *testing.T, dir string)
		root   bool     // expect a RootMismatchError
		tiles  []string // expect a TileMismatchError mentioning these
		res    string   // expect a ResourceError for this path
	}{
		{
			name:   "leaf altered",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/entries/000", leafOffset(17)) },
			root:   true,
			// The change shows in every tile above the leaf.
			tiles: []string{"tile/0/000 (level 0, index 0): hash 17 is ", "tile/1/000.p/2 (level 1, index 0): hash 0 is "},
		},
		{
			name:   "leaf altered in partial bundle",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/entries/002.p/88", leafOffset(599)) },
			root:   true,
			tiles:  []string{"tile/0/002.p/88 (level 0, index 2): hash 87 is "},
		},
		{
			name:   "level-0 tile",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/0/000", 17*32+5) },
			tiles:  []string{"tile/0/000 (level 0, index 0): hash 17 is "},
		},
		{
			name:   "partial level-0 tile",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/0/002.p/88", 87*32) },
			tiles:  []string{"tile/0/002.p/88 (level 0, index 2): hash 87 is "},
		},
		{
			name:   "level-1 tile",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/1/000.p/2", 32+31) },
			tiles:  []string{"tile/1/000.p/2 (level 1, index 0): hash 1 is "},
		},
		{
			name:   "two tiles",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/0/001", 0); flip(t, dir, "tile/1/000.p/2", 0) },
			tiles:  []string{"tile/0/001 (level 0, index 1): hash 0", "tile/1/000.p/2 (level 1, index 0): hash 0"},
		},
		{
			name:   "truncated tile",
			mutate: func(t *testing.T, dir string) { truncate(t, dir, "tile/0/001", 255*32) },
			tiles:  []string{"tile/0/001 (level 0, index 1): has 255 hashes, want 256"},
		},
		{
			name:   "ragged tile",
			mutate: func(t *testing.T, dir string) { truncate(t, dir, "tile/1/000.p/2", 40) },
			tiles:  []string{"tile/1/000.p/2 (level 1, index 0): length 40 is not a multiple of 32"},
		},
		{
			name:   "bundle length prefix",
			mutate: func(t *testing.T, dir string) { flip(t, dir, "tile/entries/001", 0) },
			res:    "tile/entries/001",
		},
		{
			name: "extra entry",
			mutate: func(t *testing.T, dir string) {
				p := filepath.Join(dir, "tile/entries/002.p/88")
				b, _ := os.ReadFile(p)
				os.WriteFile(p, append(b, 0, 1, 'x'), 0o644)
			},
			res: "tile/entries/002.p/88: has 89 entries, want 88",
		},
		{
			name:   "missing bundle",
			mutate: func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tile/entries/001")) },
			res:    "tile/entries/001",
		},
		{
			name:   "missing tile",
			mutate: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "tile/1")) },
			res:    "tile/1/000.p/2",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(l.dir)); err != nil {
				t.Fatal(err)
			}
			tc.mutate(t, dir)
			s, err := tlog.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			err = replayAll(t, s, cp, nil)
			if err == nil {
				t.Fatal("corruption not detected")
			}
			t.Log(err)
			var rm *tlog.RootMismatchError
			if got := errors.As(err, &rm); got != tc.root {
				t.Errorf("root mismatch reported: %v, want %v", got, tc.root)
			} else if got && (rm.Size != 600 || !bytes.Equal(rm.Expected, cp.Hash) || !strings.Contains(err.Error(), "size 600")) {
				t.Errorf("root mismatch: %+v", rm)
			}
			var tm *tlog.TileMismatchError
			if got := errors.As(err, &tm); got != (len(tc.tiles) > 0) {
				t.Errorf("tile mismatch reported: %v, want %v", got, len(tc.tiles) > 0)
			} else if got && tm.Count != len(tc.tiles) {
				t.Errorf("%d tile mismatches, want %d", tm.Count, len(tc.tiles))
			}
			for _, want := range tc.tiles {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q", want)
				}
			}
			var re *tlog.ResourceError
			if got := errors.As(err, &re); got != (tc.res != "") {
				t.Errorf("resource error reported: %v, want %v", got, tc.res != "")
			} else if got && !strings.HasPrefix(err.Error(), "tlog: "+tc.res) {
				t.Errorf("resource error does not start with %q", tc.res)
			}
		})
	}

	t.Run("checkpoint altered", func(t *testing.T) {
		dir := t.TempDir()
		os.CopyFS(dir, os.DirFS(l.dir))
		flip(t, dir, "checkpoint", len(testOrigin)+6) // inside the root hash
		s, _ := tlog.Open(dir)
		if _, err := s.Checkpoint(context.Background(), k.trust); !errors.Is(err, tlog.ErrBadSignature) {
			t.Errorf("got %v, want ErrBadSignature", err)
		}
	})
}

func flip(t *testing.T, dir, name string, off int) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 1
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, dir, name string, size int64) {
	t.Helper()
	if err := os.Truncate(filepath.Join(dir, name), size); err != nil {
		t.Fatal(err)
	}
}

func TestHTTP(t *testing.T) {
	k := newTestKey(t)
	l := newTestLog(t, k)
	l.add(t, leaves("leaf", 0, 300)...)
	srv := httptest.NewServer(http.FileServer(http.Dir(l.dir)))
	defer srv.Close()
	ctx := context.Background()

	s, err := tlog.Open(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.CheckConsistency(ctx, k.trust, nil)
	if err != nil || !res.FirstUse || res.Current.Size != 300 {
		t.Fatalf("first use: %+v, %v", res, err)
	}
	trusted := res.Current
	if err := replayAll(t, s, trusted, l.leaves); err != nil {
		t.Fatal(err)
	}

	l.add(t, leaves("more", 0, 100)...)
	res, err = s.CheckConsistency(ctx, k.trust, trusted)
	if err != nil || !res.Grown || res.Current.Size != 400 {
		t.Fatalf("growth: %+v, %v", res, err)
	}
	if err := replayAll(t, s, res.Current, l.leaves); err != nil {
		t.Fatal(err)
	}
	// The old, smaller tree still replays: its partial resources are still
	// there, or the full ones stand in for them.
	if err := replayAll(t, s, trusted, l.leaves); err != nil {
		t.Fatal(err)
	}
	p, err := s.InclusionProof(ctx, 350, res.Current)
	if err != nil {
		t.Fatal(err)
	}
	if err := tlog.VerifyInclusion(l.leaves[350], 350, p, res.Current); err != nil {
		t.Error(err)
	}

	wrong, _ := tlog.Open(srv.URL + "/nowhere/")
	if _, err := wrong.Checkpoint(ctx, k.trust); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing log: got %v", err)
	}
}

func TestHTTPOversized(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		chunk := bytes.Repeat([]byte("x"), 1<<20)
		for range 20 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	s, _ := tlog.Open(srv.URL)
	if _, err := s.ReadCheckpoint(context.Background()); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Errorf("got %v", err)
	}
}
