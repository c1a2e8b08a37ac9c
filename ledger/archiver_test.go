package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/acdledger/acdledger/verifier/witness"
	"golang.org/x/mod/sumdb/note"
)

// witnessedLedger makes a ledger whose checkpoints three in-process
// witnesses (verifier/witness on loopback) cosign, quorum 2 of 3, and
// returns its directory and the policy.
func witnessedLedger(t *testing.T, kit *testkit.Kit) (dir string, policy []byte) {
	t.Helper()
	dir = t.TempDir()
	vkey, err := ledger.Init(dir, "archive.example/log", kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	logV, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	pol := "log " + vkey + "\n"
	for i := 1; i <= 3; i++ {
		skey, wvkey, err := witness.GenerateKey(fmt.Sprintf("w%d.commission.example", i))
		if err != nil {
			t.Fatal(err)
		}
		w, err := witness.New(witness.Config{Key: skey, StateDir: t.TempDir(), Logs: map[string][]note.Verifier{logV.Name(): {logV}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		t.Cleanup(func() { srv.Close(); w.Close() })
		pol += fmt.Sprintf("witness w%d %s %s\n", i, wvkey, srv.URL)
	}
	pol += "group members 2 w1 w2 w3\nquorum members\n"
	return dir, []byte(pol)
}

func appendRounds(t *testing.T, l *ledger.Ledger, kit *testkit.Kit, rounds, per int) {
	t.Helper()
	ctx := context.Background()
	for r := 0; r < rounds; r++ {
		var envs [][]byte
		for i := 0; i < per; i++ {
			envs = append(envs, kit.Signed(t, "nco"))
		}
		ps, err := l.Append(ctx, envs...)
		if err != nil {
			t.Fatal(err)
		}
		// Wait for publication: the next round then lands in a later
		// checkpoint, so the archive has several.
		if _, err := l.Receipt(ctx, ps[len(ps)-1]); err != nil {
			t.Fatal(err)
		}
	}
}

// Every published checkpoint is archived as published (with its
// cosignatures), the archive reads back strictly and consistently, and
// each entry gets witness-time bounds from the checkpoints around it.
func TestArchiveWitnessed(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir, policy := witnessedLedger(t, kit)
	l, err := ledger.Open(ctx, dir, ledger.Options{WitnessPolicy: policy, BatchMaxAge: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendRounds(t, l, kit, 4, 3)
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	logDir := filepath.Join(dir, ledger.LogDir)
	p, err := tlog.ParsePolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlog.Open(logDir)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := src.Checkpoint(ctx, tlog.TrustPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	a, err := ckptarchive.Read(ctx, src, tlog.TrustPolicy(p), ckptarchive.Options{Current: cur})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Checkpoints) < 5 || a.Checkpoints[0].Size != 0 || a.Checkpoints[len(a.Checkpoints)-1].Size != 12 {
		var sizes []uint64
		for _, e := range a.Checkpoints {
			sizes = append(sizes, e.Size)
		}
		t.Fatalf("archived sizes %v: want 0, 3, 6, 9, 12 at least", sizes)
	}
	if a.Cosigned() != len(a.Checkpoints) {
		t.Fatalf("%d of %d archived checkpoints carry the quorum", a.Cosigned(), len(a.Checkpoints))
	}
	last, _ := os.ReadFile(filepath.Join(logDir, "checkpoint"))
	if archived, _ := os.ReadFile(filepath.Join(logDir, "checkpoints", "12")); string(archived) != string(last) {
		t.Fatal("checkpoints/12 is not the checkpoint as published")
	}
	for i := uint64(0); i < 12; i++ {
		b := a.Bounds(i)
		if b.After == nil || b.By == nil || b.After.Size > i || b.By.Size <= i || b.By.Time.Before(b.After.Time) {
			t.Fatalf("entry %d: bounds %+v / %+v", i, b.After, b.By)
		}
	}
	if b := a.Bounds(12); b.By != nil {
		t.Fatalf("entry 12 is in no checkpoint yet, got upper bound %v", b.By)
	}
	// Reopened without new entries, nothing is archived twice.
	n := strings.Count(read(t, filepath.Join(logDir, "checkpoints", "index")), "\n")
	l, err = ledger.Open(ctx, dir, ledger.Options{WitnessPolicy: policy})
	if err != nil {
		t.Fatal(err)
	}
	l.Close(ctx)
	if m := strings.Count(read(t, filepath.Join(logDir, "checkpoints", "index")), "\n"); m != n {
		t.Fatalf("reopening archived %d more", m-n)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The reader refuses every archive that says something other than the
// log: each case breaks one rule and the error names the file and rule.
func TestArchiveReaderRefuses(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := t.TempDir()
	vkey, err := ledger.Init(dir, "archive.example/plain", kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{BatchMaxAge: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendRounds(t, l, kit, 3, 2)
	l.Close(ctx)
	logDir := filepath.Join(dir, ledger.LogDir)
	v, _ := note.NewVerifier(vkey)
	trust := tlog.Trust{Verifier: v}
	cd := filepath.Join(logDir, "checkpoints")
	if got := read(t, filepath.Join(cd, "index")); got != "0\n2\n4\n6\n" {
		t.Fatalf("index %q", got)
	}
	orig := map[string][]byte{}
	for _, n := range []string{"index", "0", "2", "4", "6"} {
		orig[n], _ = os.ReadFile(filepath.Join(cd, n))
	}
	skey := strings.TrimSpace(read(t, filepath.Join(dir, ledger.SignerFile)))
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	// A checkpoint of size 4 with another root, signed by the log key:
	// a fork the archive must not hide.
	forged, err := note.Sign(&note.Note{Text: "archive.example/plain\n4\n" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := tlog.Open(logDir)
	for _, c := range []struct {
		name   string
		break_ func()
		file   string
		rule   string
	}{
		{"not ascending", func() { os.WriteFile(filepath.Join(cd, "index"), []byte("0\n4\n2\n"), 0o644) }, "checkpoints/index:3", ckptarchive.RuleIndexAscending},
		{"torn line", func() { os.WriteFile(filepath.Join(cd, "index"), []byte("0\n2\n4"), 0o644) }, "checkpoints/index:3", ckptarchive.RuleIndexLine},
		{"leading zero", func() { os.WriteFile(filepath.Join(cd, "index"), []byte("0\n02\n"), 0o644) }, "checkpoints/index:2", ckptarchive.RuleIndexLine},
		{"wrong size", func() { os.WriteFile(filepath.Join(cd, "4"), orig["2"], 0o644) }, "checkpoints/4", ckptarchive.RuleFileSize},
		{"missing", func() { os.Remove(filepath.Join(cd, "4")) }, "checkpoints/4", ckptarchive.RuleMissing},
		{"bad signature", func() {
			os.WriteFile(filepath.Join(cd, "4"), []byte(strings.Replace(string(orig["4"]), "\n4\n", "\n5\n", 1)), 0o644)
		}, "checkpoints/4", ckptarchive.RuleFileVerify},
		{"fork", func() { os.WriteFile(filepath.Join(cd, "4"), forged, 0o644) }, "checkpoints/4", ckptarchive.RuleConsistent},
	} {
		t.Run(c.name, func(t *testing.T) {
			for n, b := range orig {
				os.WriteFile(filepath.Join(cd, n), b, 0o644)
			}
			if _, err := ckptarchive.Read(ctx, src, trust, ckptarchive.Options{}); err != nil {
				t.Fatalf("intact archive: %v", err)
			}
			c.break_()
			_, err := ckptarchive.Read(ctx, src, trust, ckptarchive.Options{})
			var ae *ckptarchive.Error
			if !errors.As(err, &ae) || ae.Rule != c.rule || !strings.Contains(err.Error(), c.file+":") {
				t.Fatalf("got %v, want %s on %s", err, c.rule, c.file)
			}
			t.Log(err)
		})
	}
	// An index read before must be extended, not rewritten.
	for n, b := range orig {
		os.WriteFile(filepath.Join(cd, n), b, 0o644)
	}
	if _, err := ckptarchive.Read(ctx, src, trust, ckptarchive.Options{Prefix: []uint64{0, 2}}); err != nil {
		t.Fatal(err)
	}
	_, err = ckptarchive.Read(ctx, src, trust, ckptarchive.Options{Prefix: []uint64{0, 3}})
	var ae *ckptarchive.Error
	if !errors.As(err, &ae) || ae.Rule != ckptarchive.RulePrefix {
		t.Fatalf("rewritten index: %v", err)
	}
	// No archive at all: said so, as ErrNoArchive.
	os.RemoveAll(cd)
	if _, err := ckptarchive.Read(ctx, src, trust, ckptarchive.Options{}); !errors.Is(err, ckptarchive.ErrNoArchive) {
		t.Fatalf("no archive: %v", err)
	}
}
