package ledger

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
)

// Submit reads each envelope once: a new entry is admitted; a retry of a
// logged one gets its place, also after its key was revoked (the only way
// a logged envelope fails verification); an unlogged envelope that fails
// verification gets the violation.
func TestSubmitRetries(t *testing.T) {
	ctx := context.Background()
	g := newGenesisLedger(t, "retry.example/log", 0x42)
	kit, l := g.kit, g.l
	defer l.Close(ctx)

	env := kit.Signed(t, "nco")
	sub, err := l.Submit(ctx, env, time.Second)
	if err != nil || sub.Existing || sub.Pending == nil {
		t.Fatalf("a new entry: %+v, %v", sub, err)
	}
	idx, err := l.Index(sub.Pending)
	if err != nil {
		t.Fatal(err)
	}
	again, err := l.Submit(ctx, env, time.Second)
	if err != nil || !again.Existing || again.Index != idx || again.EntryID != sub.EntryID || again.Pending != nil {
		t.Fatalf("a retry: %+v, %v; want existing at %d", again, err, idx)
	}
	rec, err := l.ExistingReceipt(ctx, again)
	if err != nil || rec.Index != idx || rec.EntryID != sub.EntryID {
		t.Fatalf("a retry's receipt: %+v, %v", rec, err)
	}

	g.revokeNco(t)
	// The key is revoked: the logged envelope no longer verifies, but a
	// retry of it is still answered with its place.
	if _, err := l.currentRegistry().VerifySubmitted(env); err == nil {
		t.Fatal("the revoked key still verifies: the test tests nothing")
	}
	late, err := l.Submit(ctx, env, time.Second)
	if err != nil || !late.Existing || late.Index != idx {
		t.Fatalf("a retry after its key was revoked: %+v, %v; want existing at %d", late, err, idx)
	}
	// A new envelope under the revoked key is refused, naming the rule.
	_, err = l.Submit(ctx, kit.Signed(t, "nco"), time.Second)
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleKeyUnknown {
		t.Fatalf("a new entry under a revoked key: %v", err)
	}
	// So is an envelope that cannot be read at all.
	if _, err := l.Submit(ctx, []byte(`{"payload":`), time.Second); !errors.As(err, &v) || v.Rule != specs.RuleEnvelope {
		t.Fatalf("an unreadable envelope: %v", err)
	}
}

// An entry whose Index nobody asks for (a client that went away before its
// answer) is recorded with its index when its round is sequenced: a retry
// of it is answered with its place, not "in flight" for ever.
func TestRetryOfUnwaitedEntry(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := filepath.Join(t.TempDir(), "ledger")
	if _, err := Init(dir, "unwaited.example/log", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	envs := [][]byte{kit.Signed(t, "nco"), kit.Signed(t, "nco"), kit.Signed(t, "npa")}
	for _, env := range envs {
		if _, err := l.Append(ctx, env); err != nil {
			t.Fatal(err)
		}
	}
	l.seq.drain() // sequenced; nobody called Index
	for i, env := range envs {
		sub, err := l.Submit(ctx, env, time.Second)
		if errors.Is(err, ErrInFlight) {
			t.Fatalf("entry %d, sequenced, is still answered %v", i, err)
		}
		if err != nil || !sub.Existing || sub.Index != uint64(i) {
			t.Fatalf("a retry of entry %d: %+v, %v; want existing at %d", i, sub, err, i)
		}
		if _, ok, err := l.Existing(ctx, env); !ok || err != nil {
			t.Fatalf("Existing of entry %d: %v, %v", i, ok, err)
		}
	}
}
