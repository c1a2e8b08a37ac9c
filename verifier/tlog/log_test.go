package tlog_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/tlog"
)

const testOrigin = "example.com/acdledger/test"

// testKey is one signing key shared by every log in a test, so that two
// logs can pose as one log showing two different views.
type testKey struct {
	signer note.Signer
	trust  tlog.Trust
	vkey   string
}

func newTestKey(t testing.TB) testKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := tlog.ParseVerifierKey(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{signer: s, trust: tlog.Trust{Verifier: v}, vkey: vkey}
}

// testLog is a real Tessera POSIX log in a directory.
type testLog struct {
	dir    string
	app    *tessera.Appender
	aw     *tessera.PublicationAwaiter
	leaves [][]byte // by index
}

func newTestLog(t testing.TB, key testKey) *testLog {
	t.Helper()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(key.signer).
		WithBatching(1024, 5*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := shutdown(sctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		cancel()
	})
	return &testLog{dir: dir, app: app, aw: tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 10*time.Millisecond)}
}

// add appends leaves and waits until a checkpoint covers all of them.
func (l *testLog) add(t testing.TB, leaves ...[]byte) {
	t.Helper()
	ctx := context.Background()
	futures := make([]tessera.IndexFuture, len(leaves))
	for i, leaf := range leaves {
		futures[i] = l.app.Add(ctx, tessera.NewEntry(leaf))
	}
	var last tessera.IndexFuture
	var max uint64
	for i, f := range futures {
		idx, err := f()
		if err != nil {
			t.Fatal(err)
		}
		for uint64(len(l.leaves)) <= idx.Index {
			l.leaves = append(l.leaves, nil)
		}
		l.leaves[idx.Index] = leaves[i]
		if last == nil || idx.Index >= max {
			last, max = f, idx.Index
		}
	}
	if last == nil {
		return
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, _, err := l.aw.Await(actx, last); err != nil {
		t.Fatal(err)
	}
}

func leaves(prefix string, from, to int) [][]byte {
	var ls [][]byte
	for i := from; i < to; i++ {
		ls = append(ls, fmt.Appendf(nil, "%s %d", prefix, i))
	}
	return ls
}

func (l *testLog) source(t testing.TB) *tlog.Source {
	t.Helper()
	s, err := tlog.Open(l.dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustCheckpoint(t testing.TB, s *tlog.Source, trust tlog.Trust) *tlog.Checkpoint {
	t.Helper()
	cp, err := s.Checkpoint(context.Background(), trust)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func TestOpen(t *testing.T) {
	if _, err := tlog.Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("opened a missing directory")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	if _, err := tlog.Open(f); err == nil {
		t.Error("opened a file as a log directory")
	}
	s, err := tlog.Open("https://log.example.com/root")
	if err != nil || s.String() != "https://log.example.com/root" {
		t.Errorf("Open URL: %v, %v", s, err)
	}
}

func TestInclusion(t *testing.T) {
	k := newTestKey(t)
	l := newTestLog(t, k)
	l.add(t, leaves("leaf", 0, 600)...)
	ctx := context.Background()
	s := l.source(t)
	cp := mustCheckpoint(t, s, k.trust)
	if cp.Size != 600 {
		t.Fatalf("size %d", cp.Size)
	}
	for _, i := range []uint64{0, 1, 255, 256, 511, 512, 599} {
		leaf, err := s.Leaf(ctx, i, cp)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(leaf, l.leaves[i]) {
			t.Errorf("leaf %d is %q, want %q", i, leaf, l.leaves[i])
		}
		p, err := s.InclusionProof(ctx, i, cp)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.VerifyInclusion(leaf, i, p, cp); err != nil {
			t.Errorf("leaf %d: %v", i, err)
		}
		if err := tlog.VerifyInclusion([]byte("forged"), i, p, cp); err == nil {
			t.Errorf("forged leaf %d verified", i)
		}
		if err := tlog.VerifyInclusion(leaf, i^1, p, cp); err == nil {
			t.Errorf("leaf %d verified at index %d", i, i^1)
		}
	}
	if _, err := s.InclusionProof(ctx, 600, cp); err == nil {
		t.Error("proof for index beyond the tree")
	}
}

func TestConsistencyGrowth(t *testing.T) {
	k := newTestKey(t)
	l := newTestLog(t, k)
	ctx := context.Background()
	state := filepath.Join(t.TempDir(), "trusted.state")
	s := l.source(t)

	l.add(t, leaves("a", 0, 10)...)
	trusted, err := tlog.LoadState(state, k.trust)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.CheckConsistency(ctx, k.trust, trusted)
	if err != nil {
		t.Fatal(err)
	}
	if !res.FirstUse || res.Current.Size != 10 {
		t.Fatalf("first use: got %+v", res)
	}
	if err := tlog.SaveState(state, res.Current); err != nil {
		t.Fatal(err)
	}

	var old *tlog.Checkpoint
	for _, n := range []int{1, 300} { // a small step and one across a tile boundary
		l.add(t, leaves("b", 0, n)...)
		trusted, err := tlog.LoadState(state, k.trust)
		if err != nil {
			t.Fatal(err)
		}
		old = trusted
		res, err := s.CheckConsistency(ctx, k.trust, trusted)
		if err != nil {
			t.Fatal(err)
		}
		if res.FirstUse || !res.Grown || res.Current.Size != trusted.Size+uint64(n) || len(res.Proof) == 0 {
			t.Fatalf("growth by %d: got %+v", n, res)
		}
		if err := tlog.CompareCheckpoints(trusted, res.Current, res.Proof); err != nil {
			t.Errorf("offline recheck: %v", err)
		}
		if err := tlog.SaveState(state, res.Current); err != nil {
			t.Fatal(err)
		}
	}

	// No change: same tree, nothing to prove.
	trusted, _ = tlog.LoadState(state, k.trust)
	res, err = s.CheckConsistency(ctx, k.trust, trusted)
	if err != nil || res.Grown || res.FirstUse || res.Current.Size != 311 {
		t.Fatalf("unchanged: got %+v, %v", res, err)
	}
	// And the whole grown tree replays, partial resources left behind by
	// the growth notwithstanding.
	if err := s.Replay(ctx, res.Current, tlog.ReplayOptions{}, func(uint64, []byte) error { return nil }); err != nil {
		t.Fatal(err)
	}

	// Once Tessera's garbage collector removes the partial resources of the
	// old size 11, the full ones stand in for them, and errors name the
	// file actually read.
	for _, p := range []string{"tile/entries/000.p", "tile/0/000.p"} {
		if err := os.RemoveAll(filepath.Join(l.dir, p)); err != nil {
			t.Fatal(err)
		}
	}
	if err := replayAll(t, s, old, l.leaves); err != nil {
		t.Fatalf("replay of size %d from full resources: %v", old.Size, err)
	}
	if p, err := s.InclusionProof(ctx, 5, old); err != nil || tlog.VerifyInclusion(l.leaves[5], 5, p, old) != nil {
		t.Errorf("inclusion in size %d from full tiles: %v", old.Size, err)
	}
	flip(t, l.dir, "tile/0/000", 3*32)
	if err := replayAll(t, s, old, nil); err == nil || !strings.Contains(err.Error(), "tile/0/000 (level 0, index 0): hash 3 is") {
		t.Errorf("got %v", err)
	}
}

// TestMisbehaviour makes logs that share one key and origin but disagree:
// to the auditor they are one log showing different views.
func TestMisbehaviour(t *testing.T) {
	k := newTestKey(t)
	ctx := context.Background()

	a := newTestLog(t, k) // the honest history: 20 leaves
	a.add(t, leaves("leaf", 0, 20)...)
	cpA := mustCheckpoint(t, a.source(t), k.trust)

	c := newTestLog(t, k) // same size, leaf 7 differs
	alt := leaves("leaf", 0, 20)
	alt[7] = []byte("rewritten history")
	c.add(t, alt...)

	b := newTestLog(t, k) // 10 leaves, leaf 3 differs
	short := leaves("leaf", 0, 10)
	short[3] = []byte("rewritten history")
	b.add(t, short...)
	cpB := mustCheckpoint(t, b.source(t), k.trust)

	t.Run("fork", func(t *testing.T) {
		_, err := c.source(t).CheckConsistency(ctx, k.trust, cpA)
		var fork *tlog.ForkError
		if !errors.As(err, &fork) {
			t.Fatalf("got %v, want ForkError", err)
		}
		if !bytes.Equal(fork.Trusted.Raw, cpA.Raw) || fork.Current.Size != 20 || bytes.Equal(fork.Current.Hash, cpA.Hash) {
			t.Errorf("evidence: %+v", fork)
		}
		for _, want := range []string{"fork", "size 20", b64(cpA.Hash), b64(fork.Current.Hash)} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
		// The evidence, written and read back, still shows the fork
		// offline, signatures and all.
		dir := filepath.Join(t.TempDir(), "evidence")
		paths, werr := tlog.WriteEvidence(dir, fmt.Errorf("audit: %w", err))
		if werr != nil || len(paths) != 1 {
			t.Fatalf("WriteEvidence: %v, %v", paths, werr)
		}
		tr, cu, _ := readEvidence(t, paths[0], "fork", k)
		if !errors.As(tlog.CompareCheckpoints(tr, cu, nil), &fork) {
			t.Error("evidence files do not show the fork")
		}
		// A second incident in the same directory is kept beside the first.
		again, werr := tlog.WriteEvidence(dir, err)
		if werr != nil || len(again) != 1 || again[0] == paths[0] {
			t.Fatalf("second incident: %v, %v", again, werr)
		}
		if first, _ := os.ReadFile(paths[0]); !strings.Contains(string(first), `"kind": "fork"`) {
			t.Error("first incident lost")
		}
	})

	t.Run("rollback", func(t *testing.T) {
		_, err := b.source(t).CheckConsistency(ctx, k.trust, cpA)
		var rb *tlog.RollbackError
		if !errors.As(err, &rb) {
			t.Fatalf("got %v, want RollbackError", err)
		}
		if !bytes.Equal(rb.Trusted.Raw, cpA.Raw) || !bytes.Equal(rb.Current.Raw, cpB.Raw) {
			t.Errorf("evidence: %+v", rb)
		}
		for _, want := range []string{"rollback", "size 10", "size 20"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
	})

	t.Run("inconsistent", func(t *testing.T) {
		_, err := a.source(t).CheckConsistency(ctx, k.trust, cpB)
		var inc *tlog.InconsistentError
		if !errors.As(err, &inc) {
			t.Fatalf("got %v, want InconsistentError", err)
		}
		if !bytes.Equal(inc.Trusted.Raw, cpB.Raw) || !bytes.Equal(inc.Current.Raw, cpA.Raw) || len(inc.Proof) == 0 {
			t.Errorf("evidence: %+v", inc)
		}
		for _, want := range []string{"inconsistent", "size 10", "size 20"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
		dir := t.TempDir()
		paths, werr := tlog.WriteEvidence(dir, err)
		if werr != nil || len(paths) != 1 {
			t.Fatalf("WriteEvidence: %v, %v", paths, werr)
		}
		tr, cu, p := readEvidence(t, paths[0], "inconsistent", k)
		if !errors.As(tlog.CompareCheckpoints(tr, cu, p), &inc) {
			t.Error("evidence files do not show the inconsistency")
		}
	})
}

// readEvidence reads an incident package back and verifies both checkpoints.
func readEvidence(t *testing.T, path, kind string, k testKey) (trusted, current *tlog.Checkpoint, proof [][]byte) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := specs.ParseEvidence(raw)
	if err != nil || e.Kind != kind {
		t.Fatalf("evidence %s: %v %+v", path, err, e)
	}
	if trusted, err = tlog.VerifyCheckpoint([]byte(e.Trusted), k.trust); err != nil {
		t.Fatal(err)
	}
	if current, err = tlog.VerifyCheckpoint([]byte(e.Checkpoint), k.trust); err != nil {
		t.Fatal(err)
	}
	for _, h := range e.Proof {
		b, err := base64.StdEncoding.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		proof = append(proof, b)
	}
	return trusted, current, proof
}

func b64(h []byte) string { return base64.StdEncoding.EncodeToString(h) }
