package ledger

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The stamp of the last Close's sweep (SweptFile) lets an open skip
// listing the edge directories only while every one of them is as that
// sweep left it; each way it can be refuted falls back to the listing,
// and a temp file left at the edge is swept in every case.
func TestSweptStamp(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	// 300,000 leaves, as in TestSweepEdge.
	real := []string{"checkpoint", ".state/treeState", "tile/entries/x001/170", "tile/entries/x001/171.p/48",
		"tile/0/x001/170", "tile/0/x001/171.p/48", "tile/1/003", "tile/1/004.p/147", "tile/2/000.p/4"}
	setup := func(t *testing.T) (logDir string, write func(...string), exists func(string) bool) {
		ledgerDir := t.TempDir()
		logDir = filepath.Join(ledgerDir, LogDir)
		write = func(names ...string) {
			for _, n := range names {
				p := filepath.Join(logDir, filepath.FromSlash(n))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		exists = func(n string) bool {
			_, err := os.Stat(filepath.Join(logDir, filepath.FromSlash(n)))
			return err == nil
		}
		write(real...)
		os.WriteFile(filepath.Join(logDir, ".state", "treeState"), []byte(`{"size":300000,"root":"AAAA"}`), 0o644)
		return logDir, write, exists
	}
	edit := func(t *testing.T, logDir string, f func(*sweptState)) {
		data, err := os.ReadFile(sweptPath(logDir))
		if err != nil {
			t.Fatal(err)
		}
		var s sweptState
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatal(err)
		}
		f(&s)
		data, _ = json.Marshal(s)
		os.WriteFile(sweptPath(logDir), data, 0o644)
	}

	t.Run("unchanged, then a crash-left temp file", func(t *testing.T) {
		logDir, write, exists := setup(t)
		writeSwept(logDir, 2048)
		raw, _ := os.ReadFile(filepath.Join(logDir, ".state", "treeState"))
		data, err := os.ReadFile(sweptPath(logDir))
		if err != nil {
			t.Fatal(err)
		}
		var s sweptState
		json.Unmarshal(data, &s)
		for _, d := range []string{"tile/entries/x001", "tile/entries/x001/171.p", "tile/0/x001", "tile/0/x001/171.p", "tile/1", "tile/1/004.p", "tile/2", "tile/2/000.p"} {
			if _, ok := s.Dirs[d]; !ok {
				t.Errorf("%s not stamped (stamps: %v)", d, s.Dirs)
			}
		}
		if !edgeUnchanged(logDir, raw, 2048) {
			t.Fatal("an unchanged edge is not recognised")
		}
		if _, err := os.Stat(sweptPath(logDir)); err == nil {
			t.Fatal("the stamp outlives the open that used it")
		}
		// The session that opened crashes mid-write: the next open has no
		// stamp and lists the edge.
		temps := []string{"tile/0/x001/17288", "tile/entries/x001/171.p/4812345", "tile/entries/x001/172.p/1999"}
		write(temps...)
		if n := sweepEdge(logDir, ^uint64(0), 2048, quiet); n != len(temps) {
			t.Errorf("removed %d, want %d", n, len(temps))
		}
		for _, n := range temps {
			if exists(n) {
				t.Errorf("%s left", n)
			}
		}
		for _, n := range real {
			if !exists(n) {
				t.Errorf("%s removed", n)
			}
		}
	})

	// Each refutation, with a temp file in an edge directory that only
	// the listing finds. (A change of stamp is made by editing the
	// recorded one: the clock that sets change times ticks every few
	// milliseconds, and a test must not wait for it.)
	refute := map[string]func(t *testing.T, logDir string){
		"a directory's change time": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { st := s.Dirs["tile/0/x001"]; st.Ctime--; s.Dirs["tile/0/x001"] = st })
		},
		"a partial tile directory's change time": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { st := s.Dirs["tile/0/x001/171.p"]; st.Ctime--; s.Dirs["tile/0/x001/171.p"] = st })
		},
		"a directory absent then": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { s.Dirs["tile/0/x001"] = dirStamp{} })
		},
		"a directory replaced": func(t *testing.T, logDir string) {
			d := filepath.Join(logDir, "tile", "0", "x001")
			os.Rename(d, d+".old")
			os.MkdirAll(d, 0o755)
			for _, e := range must(os.ReadDir(d + ".old")) {
				os.Rename(filepath.Join(d+".old", e.Name()), filepath.Join(d, e.Name()))
			}
			os.Remove(d + ".old")
			edit(t, logDir, func(s *sweptState) {}) // the stamp may also differ in time; the inode does
		},
		"the tree state": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { s.TreeState = `{"size":299999,"root":"AAAA"}` })
		},
		"the margin": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { s.Margin = 4096 })
		},
		"a path outside the tiles": func(t *testing.T, logDir string) {
			edit(t, logDir, func(s *sweptState) { s.Dirs["../x"] = dirStamp{} })
		},
		"a garbled file": func(t *testing.T, logDir string) {
			os.WriteFile(sweptPath(logDir), []byte(`{"tree_state":`), 0o644)
		},
	}
	for name, f := range refute {
		t.Run("refuted by "+name, func(t *testing.T) {
			logDir, write, exists := setup(t)
			write("tile/0/x001/171.p/4877", "tile/0/x001/17288") // before the stamp: only a listing finds them
			writeSwept(logDir, 2048)
			f(t, logDir)
			if n := sweepEdge(logDir, ^uint64(0), 2048, quiet); n != 2 {
				t.Errorf("removed %d, want 2", n)
			}
			if exists("tile/0/x001/17288") || exists("tile/0/x001/171.p/4877") {
				t.Error("a temp file left")
			}
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
