package tlog_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// A follower reads only the new leaves of each checkpoint, across bundle
// boundaries, and gets them only when they extend its tree to the signed
// root.
func TestExtend(t *testing.T) {
	k := newTestKey(t)
	ctx := context.Background()
	l := newTestLog(t, k)
	var edge *tlog.Edge
	var got [][]byte
	collect := func(i uint64, leaf []byte) error {
		if i != uint64(len(got)) {
			return fmt.Errorf("leaf %d out of order (have %d)", i, len(got))
		}
		got = append(got, leaf)
		return nil
	}
	for n, step := range []int{3, 250, 10, 300, 1} { // crosses 256-leaf bundles, partial to full
		if n == 3 {
			defer tlog.SetKeepLimit(100)() // too many bytes to keep: read twice
		}
		l.add(t, leaves("leaf", len(l.leaves), len(l.leaves)+step)...)
		src := l.source(t)
		cp := mustCheckpoint(t, src, k.trust)
		var calls uint64
		next, err := src.Extend(ctx, edge, cp, func(done, total uint64) { calls = done }, collect)
		if err != nil {
			t.Fatalf("extend to %d: %v", cp.Size, err)
		}
		if next.Size != cp.Size || next.Check(cp) != nil || calls != uint64(step) {
			t.Fatalf("edge %+v after %d progress calls", next, calls)
		}
		edge = next
	}
	if len(got) != len(l.leaves) {
		t.Fatalf("%d leaves handed over, log has %d", len(got), len(l.leaves))
	}
	for i := range got {
		if string(got[i]) != string(l.leaves[i]) {
			t.Fatalf("leaf %d: %q, want %q", i, got[i], l.leaves[i])
		}
	}
	// Nothing new: nothing handed over.
	src := l.source(t)
	cp := mustCheckpoint(t, src, k.trust)
	if _, err := src.Extend(ctx, edge, cp, nil, func(uint64, []byte) error { return errors.New("called") }); err != nil {
		t.Fatal(err)
	}

	// Another log's leaves do not extend this edge to its root: nothing is
	// handed over.
	other := newTestLog(t, k)
	alt := leaves("leaf", 0, len(l.leaves)+5)
	alt[2] = []byte("rewritten")
	other.add(t, alt...)
	osrc := other.source(t)
	ocp := mustCheckpoint(t, osrc, k.trust)
	_, err := osrc.Extend(ctx, edge, ocp, nil, func(uint64, []byte) error { return errors.New("handed over an unverified leaf") })
	var rm *tlog.RootMismatchError
	if !errors.As(err, &rm) {
		t.Fatalf("got %v, want RootMismatchError", err)
	}
	// An edge checked against another tree's checkpoint fails.
	if err := edge.Check(ocp); err == nil {
		t.Fatal("edge matched a checkpoint of another size")
	}
	bad := *edge
	bad.Hashes = append([]string{}, edge.Hashes...)
	bad.Hashes[0] = "AAAA"
	if err := bad.Check(cp); err == nil {
		t.Fatal("a malformed edge passed")
	}
}
