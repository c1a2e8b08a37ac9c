package ledger_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// A POSIX ledger of 600 entries (a partial last bundle) moves to the AWS
// driver: the target's root is the source checkpoint's, its checkpoint is
// signed with the same key (the auditors' pins still hold), each agency's
// seq continues there, a replayed entry is still refused, and the audit of
// the migrated log (grown by one entry) passes and is consistent with the
// source checkpoint.
func TestMigrateToAWS(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	src := storagetest.NewLedger(t, ledger.DriverPOSIX, "migrate.test.example/log", kit.RegJSON)
	l, err := ledger.Open(ctx, src, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	for i := 0; i < 600; i++ {
		envs = append(envs, kit.Signed(t, []string{"nco", "npa", "commission"}[i%3]))
	}
	ps, err := l.Append(ctx, envs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Receipt(ctx, ps[len(ps)-1]); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	pins, err := verifier.LoadPins(filepath.Join(src, ledger.VerifierFile), "", filepath.Join(src, ledger.RegistryFile))
	if err != nil {
		t.Fatal(err)
	}
	srcLog, err := tlog.Open(filepath.Join(src, ledger.LogDir))
	if err != nil {
		t.Fatal(err)
	}
	srcCP, err := srcLog.Checkpoint(ctx, pins.Trust)
	if err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "frontend")
	res, err := ledger.Migrate(ctx, src, dst, storagetest.AWSStorage(t), ledger.Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Size != 600 || !bytes.Equal(res.Root, srcCP.Hash[:]) {
		t.Fatalf("migrated size %d root %x, source %d %x", res.Size, res.Root, srcCP.Size, srcCP.Hash)
	}
	// Migrating into a directory that already holds a ledger is refused.
	if _, err := ledger.Migrate(ctx, src, dst, storagetest.AWSStorage(t), ledger.Options{}, nil); err == nil {
		t.Fatal("a second migration into the same directory was accepted")
	}

	m, err := ledger.Open(ctx, dst, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	if got := m.LastSeq("nco"); got != 200 {
		t.Fatalf("after migration nco last seq = %d, want 200", got)
	}
	if _, err := m.Append(ctx, envs[0]); err == nil {
		t.Fatal("a replay of a migrated entry was admitted")
	}
	ps, err = m.Append(ctx, kit.Signed(t, "nco"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := m.Receipt(ctx, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 600 {
		t.Fatalf("first entry after migration at index %d, want 600", r.Index)
	}
	hs := httptest.NewServer(server.New(m, server.Config{}))
	defer hs.Close()
	dstLog, err := tlog.Open(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dstLog.CheckConsistency(ctx, pins.Trust, srcCP); err != nil {
		t.Fatalf("migrated log not consistent with the source checkpoint: %v", err)
	}
	report, err := pins.Audit(ctx, dstLog, verifier.AuditOptions{})
	if err != nil || !report.OK() || report.Entries != 601 {
		t.Fatalf("audit of the migrated log: %v %+v", err, report)
	}
}
