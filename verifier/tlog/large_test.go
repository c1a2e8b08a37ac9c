package tlog_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// TestReplayLevel2 uses a tree just past 256×256 leaves, so that a level-2
// tile (tile/2/000.p/1) exists, and checks that it is verified too.
func TestReplayLevel2(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 66k-leaf log")
	}
	const n = 256*256 + 300
	k := newTestKey(t)
	l := newTestLog(t, k)
	start := time.Now()
	l.add(t, leaves("leaf", 0, n)...)
	t.Logf("appended %d leaves in %v", n, time.Since(start))
	cp := mustCheckpoint(t, l.source(t), k.trust)

	start = time.Now()
	if err := replayAll(t, l.source(t), cp, l.leaves); err != nil {
		t.Fatal(err)
	}
	t.Logf("replayed %d leaves in %v", n, time.Since(start))

	flip(t, l.dir, "tile/2/000.p/1", 3)
	err := replayAll(t, l.source(t), cp, nil)
	if want := "tile/2/000.p/1 (level 2, index 0): hash 0 is "; err == nil || !contains(err, want) {
		t.Errorf("got %v, want mention of %q", err, want)
	}
}

func contains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// BenchmarkReplay measures Replay over a local log of ACDLEDGER_BENCH_LEAVES
// leaves (default 200k), reporting leaves/s.
func BenchmarkReplay(b *testing.B) {
	n := 200_000
	if v := os.Getenv("ACDLEDGER_BENCH_LEAVES"); v != "" {
		fmt.Sscan(v, &n)
	}
	k := newTestKey(b)
	l := newTestLog(b, k)
	for i := 0; i < n; i += 50_000 {
		l.add(b, leaves("benchmark leaf with some payload", i, min(i+50_000, n))...)
	}
	cp := mustCheckpoint(b, l.source(b), k.trust)
	srv := httptest.NewServer(http.FileServer(http.Dir(l.dir)))
	defer srv.Close()
	for _, loc := range []struct{ name, url string }{{"dir", l.dir}, {"http", srv.URL}} {
		b.Run(loc.name, func(b *testing.B) {
			s, err := tlog.Open(loc.url)
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := s.Replay(context.Background(), cp, tlog.ReplayOptions{}, func(uint64, []byte) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "leaves/s")
		})
	}
}
