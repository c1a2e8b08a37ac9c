package ledger_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
)

// parkFixture is one frontend (x) of a fresh AWS-driver log, the
// database it shares, and an agency's first three entries.
type parkFixture struct {
	ctx  context.Context
	kit  *testkit.Kit
	dir  string
	db   *sql.DB
	x    *ledger.Ledger
	envs [][]byte
}

func newParkFixture(t *testing.T, origin string) *parkFixture {
	ctx := context.Background()
	kit := testkit.Many(t, 1)
	st := storagetest.AWSStorage(t)
	dir := t.TempDir()
	if _, err := ledger.InitStorage(dir, origin, kit.RegJSON, st); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", st.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &parkFixture{ctx: ctx, kit: kit, dir: dir, db: db}
	for range 3 {
		f.envs = append(f.envs, kit.Signed(t, "a00"))
	}
	return f
}

func (f *parkFixture) open(t *testing.T, dir string, opts ledger.Options) *ledger.Ledger {
	l, err := ledger.Open(f.ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

// fakeFrontend makes a frontend that beats but never claims anything (only
// its heartbeat row exists) and parks env under its name, with the given
// hash column.
func (f *parkFixture) fakeFrontend(t *testing.T, env []byte, hash []byte) {
	a, err := f.x.Registry().VerifySubmitted(env)
	if err != nil {
		t.Fatal(err)
	}
	if hash == nil {
		sum := sha256.Sum256(a.Envelope.Raw)
		hash = sum[:]
	}
	if _, err := f.db.ExecContext(f.ctx, `INSERT INTO acd_frontend (owner, beat) VALUES ('z', NOW(6))`); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(500 * time.Millisecond):
			}
			f.db.ExecContext(f.ctx, `UPDATE acd_frontend SET beat = NOW(6) WHERE owner = 'z'`)
		}
	})
	t.Cleanup(func() { close(done); wg.Wait() })
	if _, err := f.db.ExecContext(f.ctx, `INSERT INTO acd_parked (agency, seq, id, hash, envelope, owner) VALUES (?, ?, ?, ?, ?, 'z')`,
		a.Entry.Agency, a.Entry.Seq, a.Entry.ID, hash, a.Envelope.Raw); err != nil {
		t.Fatal(err)
	}
}

func (f *parkFixture) appendIndex(t *testing.T, l *ledger.Ledger, env []byte, wait time.Duration) (uint64, error) {
	p, err := l.AppendInOrder(f.ctx, env, wait)
	if err != nil {
		return 0, err
	}
	return l.Index(p)
}

// An entry parked by another frontend (its client's request waits there)
// is claimed by the frontend that can admit it, together with that
// frontend's own entry that follows it, in one reservation: seq 2 parked by
// frontend z, seq 3 sent to frontend x, both admitted by x in seq order.
func TestParkedEntryClaimed(t *testing.T) {
	f := newParkFixture(t, "park.test.example/log")
	f.x = f.open(t, f.dir, ledger.Options{})
	i1, err := f.appendIndex(t, f.x, f.envs[0], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.fakeFrontend(t, f.envs[1], nil)
	// Without the claim, seq 3 would wait for a seq 2 that never reaches x
	// and be refused after the wait.
	i3, err := f.appendIndex(t, f.x, f.envs[2], time.Minute)
	if err != nil {
		t.Fatalf("seq 3 after a parked seq 2: %v", err)
	}
	var idx2 sql.NullInt64
	var owner string
	if err := f.db.QueryRowContext(f.ctx, `SELECT idx, owner FROM acd_entry WHERE agency = 'a00' AND seq = 2`).Scan(&idx2, &owner); err != nil {
		t.Fatal(err)
	}
	if !idx2.Valid || uint64(idx2.Int64) <= i1 || uint64(idx2.Int64) >= i3 {
		t.Fatalf("seq 2 at index %v, want between seq 1 (%d) and seq 3 (%d)", idx2, i1, i3)
	}
	if owner == "z" {
		t.Fatal("seq 2 recorded as admitted by the frontend that parked it")
	}
	var left int
	if err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM acd_parked`).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d parked rows left after the claim", left)
	}
	if s := f.x.SharedStats(); s.Claimed != 1 {
		t.Fatalf("SharedStats.Claimed = %d, want 1", s.Claimed)
	}
}

// A parked row is outside input to the claiming frontend: an envelope that
// does not verify, or whose hash column is not its hash, is never
// admitted. Seq 3, which follows it, is then refused after the reorder
// wait naming the seq it waits for, as if nothing were parked.
func TestParkedEntryBad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		tamper func(f *parkFixture, t *testing.T)
	}{
		{"bad signature", func(f *parkFixture, t *testing.T) {
			a, err := f.x.Registry().VerifySubmitted(f.envs[1])
			if err != nil {
				t.Fatal(err)
			}
			bad := []byte(strings.Replace(string(a.Envelope.Raw), `"sig":"`, `"sig":"AAAA`, 1))
			if string(bad) == string(a.Envelope.Raw) {
				t.Fatal("no signature found to tamper with")
			}
			sum := sha256.Sum256(bad)
			if _, err := f.db.ExecContext(f.ctx, `INSERT INTO acd_frontend (owner, beat) VALUES ('z', NOW(6))`); err != nil {
				t.Fatal(err)
			}
			if _, err := f.db.ExecContext(f.ctx, `INSERT INTO acd_parked (agency, seq, id, hash, envelope, owner) VALUES (?, ?, ?, ?, ?, 'z')`,
				a.Entry.Agency, a.Entry.Seq, a.Entry.ID, sum[:], bad); err != nil {
				t.Fatal(err)
			}
		}},
		{"hash not the envelope's", func(f *parkFixture, t *testing.T) {
			f.fakeFrontend(t, f.envs[1], make([]byte, 32))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newParkFixture(t, "parkbad.test.example/log")
			f.x = f.open(t, f.dir, ledger.Options{})
			if _, err := f.appendIndex(t, f.x, f.envs[0], 10*time.Second); err != nil {
				t.Fatal(err)
			}
			tc.tamper(f, t)
			_, err := f.appendIndex(t, f.x, f.envs[2], time.Second)
			var v *specs.Violation
			if !errors.As(err, &v) || v.Rule != specs.RuleSeq || !strings.Contains(v.Message, "expected 2") {
				t.Fatalf("seq 3 after a bad parked seq 2: got %v, want a seq.order refusal expecting 2", err)
			}
			if got := f.x.LastSeq("a00"); got != 1 {
				t.Fatalf("last seq %d, want 1: the bad parked entry was admitted", got)
			}
		})
	}
}

// The whole way across two real frontends: seq 1 is admitted by x and
// held in its Tessera queue (the test holds Tessera's sequencing lock, so
// it cannot be sequenced yet), seq 2 reaches y, which parks it; x claims it;
// y answers its client with seq 2's receipt once x has sequenced it.
func TestParkedAcrossFrontends(t *testing.T) {
	f := newParkFixture(t, "parkx.test.example/log")
	ydir := storagetest.Frontend(t, f.dir)
	y := f.open(t, ydir, ledger.Options{})
	f.x = f.open(t, f.dir, ledger.Options{})

	// Tessera's sequencer takes SeqCoord's row for each batch: while the
	// test holds it, x's entries stay in x's queue, admitted, unsequenced.
	tx, err := f.db.BeginTx(f.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(f.ctx, `SELECT next FROM SeqCoord WHERE id = 0 FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	p1, err := f.x.AppendInOrder(f.ctx, f.envs[0], 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type res struct {
		p   *ledger.Pending
		err error
	}
	got2 := make(chan res, 1)
	go func() {
		p, err := y.AppendInOrder(f.ctx, f.envs[1], time.Minute)
		got2 <- res{p, err}
	}()
	// Wait for x's claim: seq 2 reserved by the frontend of seq 1.
	for {
		var owners int
		err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(DISTINCT owner) FROM acd_entry WHERE agency = 'a00' AND seq IN (1, 2)`).Scan(&owners)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM acd_entry WHERE agency = 'a00' AND seq = 2`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			if owners != 1 {
				t.Fatal("seq 2 was reserved by another frontend than seq 1's while seq 1 was unsequenced")
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	i1, err := f.x.Index(p1)
	if err != nil {
		t.Fatal(err)
	}
	r := <-got2
	if r.err != nil {
		t.Fatalf("seq 2 through y: %v", r.err)
	}
	rec, err := y.Receipt(f.ctx, r.p)
	if err != nil {
		t.Fatalf("seq 2's receipt from y: %v", err)
	}
	if rec.Index != i1+1 {
		t.Fatalf("seq 2 at index %d, want %d (right after seq 1)", rec.Index, i1+1)
	}
	if s := f.x.SharedStats(); s.Claimed != 1 {
		t.Fatalf("x claimed %d entries, want 1", s.Claimed)
	}
}

// Parked rows nobody will answer for are dropped: a frontend's own from
// before a restart when it opens again, and those of a frontend that
// stopped beating (its clients lost their connections and send again).
func TestParkedRowsDropped(t *testing.T) {
	f := newParkFixture(t, "parkdrop.test.example/log")
	f.x = f.open(t, f.dir, ledger.Options{})
	a, err := f.x.Registry().VerifySubmitted(f.envs[1])
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(a.Envelope.Raw)
	park := func(owner string, seq uint64) {
		if _, err := f.db.ExecContext(f.ctx, `INSERT INTO acd_parked (agency, seq, id, hash, envelope, owner) VALUES (?, ?, ?, ?, ?, ?)`,
			a.Entry.Agency, seq, a.Entry.ID, sum[:], a.Envelope.Raw, owner); err != nil {
			t.Fatal(err)
		}
	}
	count := func(owner string) int {
		var n int
		if err := f.db.QueryRowContext(f.ctx, `SELECT COUNT(*) FROM acd_parked WHERE owner = ?`, owner).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// A frontend with no heartbeat: its row goes at x's next settling pass.
	park("gone", 7)
	for count("gone") > 0 {
		time.Sleep(50 * time.Millisecond)
	}
	// x's own row from "before a restart" goes when x opens again.
	var owner string
	if err := f.db.QueryRowContext(f.ctx, `SELECT owner FROM acd_frontend LIMIT 1`).Scan(&owner); err != nil {
		t.Fatal(err)
	}
	if err := f.x.Close(f.ctx); err != nil {
		t.Fatal(err)
	}
	park(owner, 8)
	f.x = f.open(t, f.dir, ledger.Options{})
	if n := count(owner); n != 0 {
		t.Fatalf("%d parked rows of this frontend left after it reopened", n)
	}
}
