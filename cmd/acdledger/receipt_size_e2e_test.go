package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/transparency-dev/formats/proof"
)

// The receipt of the largest envelope the log admits, built by a real
// ledger on a real Tessera POSIX log, reads in transparency-dev/formats'
// tlog-proof parser (whose 64 KiB line limit sets the envelope limit,
// specs/receipts.md), in specs/tlogproof and in 'acdledger verify receipt'.
// The next larger envelope is refused with rule envelope.size and leaves
// the log as it was, in process and through the command line.
func TestReceiptOfTheLargestEnvelope(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := storagetest.NewLedger(t, ledger.DriverPOSIX, "size.test.example/log", kit.RegJSON)
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { l.Close(ctx) }()

	// Envelopes as signers lay them out are 4·k bytes long (admission.md),
	// so the largest one the limit lets in is 49,144 bytes; its receipt's
	// extra line is as long as one of 49,146 bytes would make it, the
	// longest the reader takes (the line without its newline: 65,535 − 1).
	largest := specs.MaxEnvelopeSize / 4 * 4
	env := kit.SignedOfSize(t, "nco", largest)
	ps, err := l.Append(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Receipt(ctx, ps[0])
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(rec.Proof), "\n")
	if got := len(lines[1]) + 1; !strings.HasPrefix(lines[1], "extra ") || got != tlogproof.MaxLine-1 {
		t.Fatalf("extra line of %d bytes with its newline, want %d", got, tlogproof.MaxLine-1)
	}

	var fp proof.TLogProof
	if err := fp.Unmarshal(rec.Proof); err != nil {
		t.Fatalf("transparency-dev/formats cannot read the receipt: %v", err)
	}
	ours, err := tlogproof.Parse(rec.Proof)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fp.ExtraData, env) || !bytes.Equal(ours.Extra, env) {
		t.Fatal("a reader's extra data is not the envelope")
	}
	if fp.Index != ours.Index || len(fp.Hashes) != len(ours.Hashes) || !bytes.Equal(fp.Checkpoint, ours.Checkpoint) {
		t.Fatalf("formats and specs/tlogproof read the receipt differently")
	}

	work := t.TempDir()
	receipt := filepath.Join(work, "largest.tlog-proof")
	if err := os.WriteFile(receipt, rec.Proof, 0o644); err != nil {
		t.Fatal(err)
	}
	vkey, reg := filepath.Join(dir, ledger.VerifierFile), filepath.Join(dir, ledger.RegistryFile)
	var verified struct {
		Verified []struct {
			EntryID string `json:"entry_id"`
			Index   uint64 `json:"index"`
		} `json:"verified"`
	}
	if err := json.Unmarshal([]byte(must(t, "verify", "receipt", "--vkey", vkey, "--registry", reg, "--json", receipt)), &verified); err != nil {
		t.Fatal(err)
	}
	if len(verified.Verified) != 1 || verified.Verified[0].EntryID != rec.EntryID || verified.Verified[0].Index != rec.Index {
		t.Fatalf("verify receipt: %+v", verified)
	}

	// One envelope size up is over the limit: refused before anything is
	// parsed, and the log's tree and files stay as they were.
	over := kit.SignedOfSize(t, "nco", largest+4)
	logDir := filepath.Join(dir, ledger.LogDir)
	cp, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before, n := hashDir(t, logDir), l.Len()
	_, err = l.Append(ctx, over)
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleSize || v.Field != "envelope" {
		t.Fatalf("appending %d bytes: want rule %s, got %v", len(over), specs.RuleSize, err)
	}
	if cp2, err := l.Checkpoint(ctx); err != nil || !bytes.Equal(cp2, cp) || l.Len() != n || hashDir(t, logDir) != before {
		t.Fatalf("the log changed after a refused envelope (%d entries, was %d; checkpoint %q, was %q)", l.Len(), n, cp2, cp)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	overFile := filepath.Join(work, "over.dsse.json")
	if err := os.WriteFile(overFile, over, 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, 1, "rule "+specs.RuleSize, "append", "--ledger", dir, "--unencrypted-key", overFile) // made by ledger.Init: log.key in the clear
	if hashDir(t, logDir) != before {
		t.Fatal("the log changed after 'acdledger append' refused an envelope")
	}
}
