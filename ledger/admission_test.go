package ledger_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
)

// hashTree hashes every file of the log (paths and contents), leaving out
// only lock files, whose timestamps change when they are taken.
func hashTree(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		h.Write([]byte(p + "\x00"))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// vectorLedger opens a new ledger with the vectors' registry, for the
// vectors' prefix and cases.
func vectorLedger(t *testing.T, v *specs.Vectors) (dir string, l *ledger.Ledger, prefix [][]byte) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	if _, err := ledger.Init(dir, "test.example/vectors", v.Registry); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{CheckpointInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close(ctx) })
	for _, p := range v.Prefix {
		prefix = append(prefix, []byte(p))
	}
	return dir, l, prefix
}

// Every rejection vector is refused with its rule and field, and the log
// is byte-for-byte unchanged; then the valid vector is admitted.
func TestRejectionsLeaveLogUnchanged(t *testing.T) {
	ctx := context.Background()
	v, err := specs.LoadVectors("../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	dir, l, prefix := vectorLedger(t, v)
	ps, err := l.Append(ctx, prefix...)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if _, err := l.Receipt(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let any pending checkpoint land before the baseline
	before := hashTree(t, filepath.Join(dir, ledger.LogDir))

	var valid []byte
	for _, c := range v.Cases {
		if c.Rule == "" {
			if valid == nil {
				valid = c.Bytes()
			}
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			_, err := l.Append(ctx, c.Bytes())
			var viol *specs.Violation
			if !errors.As(err, &viol) || viol.Rule != c.Rule || viol.Field != c.Field {
				t.Fatalf("want rule %s field %s, got %v", c.Rule, c.Field, err)
			}
			if !strings.Contains(err.Error(), "rule "+c.Rule) || !strings.Contains(err.Error(), "field "+c.Field) {
				t.Fatalf("error line does not name rule and field: %v", err)
			}
		})
	}
	// A batch is all or nothing: a valid entry followed by a bad one
	// appends neither, and the valid one is still admissible afterwards.
	_, err = l.Append(ctx, valid, []byte("not json"))
	var be *specs.BatchError
	if !errors.As(err, &be) || be.Position != 1 {
		t.Fatalf("mixed batch: want failure at item 2, got %v", err)
	}
	var ncoSeq uint64 // nco's last seq in the prefix
	for _, p := range v.Prefix {
		if h, err := specs.PeekHeader([]byte(p)); err == nil && h.Agency == "nco" {
			ncoSeq = h.Seq
		}
	}
	if got := l.LastSeq("nco"); got != ncoSeq {
		t.Fatalf("nco last seq %d after rejections, want %d", got, ncoSeq)
	}
	time.Sleep(300 * time.Millisecond)
	if after := hashTree(t, filepath.Join(dir, ledger.LogDir)); after != before {
		t.Fatal("log files changed although every append was rejected")
	}

	ps, err = l.Append(ctx, valid)
	if err != nil {
		t.Fatalf("valid vector rejected: %v", err)
	}
	if r, err := l.Receipt(ctx, ps[0]); err != nil || r.Index != uint64(len(v.Prefix)) {
		t.Fatalf("valid vector: receipt %+v, %v", r, err)
	}
	if hashTree(t, filepath.Join(dir, ledger.LogDir)) == before {
		t.Fatal("tree hash did not change after an append: it could not have caught a change either")
	}
}

// A second Open of the same directory fails while the first holds it.
func TestSecondOpenIsRefused(t *testing.T) {
	ctx := context.Background()
	v, _ := specs.LoadVectors("../specs/vectors/admission.json")
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "test.example/lock", v.Registry); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	if _, err := ledger.Open(ctx, dir, ledger.Options{}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open: %v", err)
	}
	if _, err := ledger.Init(dir, "test.example/lock", v.Registry); err == nil {
		t.Fatal("init over an existing ledger succeeded")
	}
}

// A submission is stored in canonical form, whatever its spacing and
// member order (specs/admission.md): the leaf carries no byte the agency
// did not sign but the envelope's fixed layout, and each vector's Stored
// form is what the ledger writes.
func TestSubmissionsStoredCanonical(t *testing.T) {
	ctx := context.Background()
	v, err := specs.LoadVectors("../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Cases {
		if c.Stored == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			_, l, prefix := vectorLedger(t, v)
			ps, err := l.Append(ctx, append(prefix, c.Bytes())...)
			if err != nil {
				t.Fatal(err)
			}
			r, err := l.Receipt(ctx, ps[len(ps)-1])
			if err != nil {
				t.Fatal(err)
			}
			p, err := tlogproof.Parse(r.Proof)
			if err != nil {
				t.Fatal(err)
			}
			if string(p.Extra) != c.Stored {
				t.Fatalf("stored leaf %q, want the canonical %q", p.Extra, c.Stored)
			}
			// The submission as sent, again: its receipt, not a second leaf.
			again, ok, err := l.Existing(ctx, c.Bytes())
			if err != nil || !ok || again.Index != r.Index {
				t.Fatalf("retry: %+v %v %v", again, ok, err)
			}
		})
	}
}
