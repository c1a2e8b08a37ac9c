package verifier_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

const vectorsPath = "../specs/vectors/admission.json"

// maxLeaf is the largest leaf a tlog-tiles entry bundle can hold (a 16-bit
// length), larger than the admission limit, specs.MaxEnvelopeSize.
const maxLeaf = 1<<16 - 1

func loadVectors(t *testing.T) (*specs.Vectors, string) {
	t.Helper()
	v, err := specs.LoadVectors(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	reg := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(reg, v.Registry, 0o644); err != nil {
		t.Fatal(err)
	}
	return v, reg
}

func leaves(ss []string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// A log written by a build that did not check admission: for every
// vector, a log of the prefix plus that one leaf. The audit must pass the
// valid one and name the rule, field and index of every other.
func TestAuditReplaysAdmissionRules(t *testing.T) {
	v, regFile := loadVectors(t)
	for _, c := range v.Cases {
		if len(c.Bytes()) > maxLeaf {
			continue // a tlog-tiles bundle cannot even hold it
		}
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			l := testlog.New(t, "test.example/audit")
			l.Add(t, append(leaves(v.Prefix), c.Bytes())...)
			pins, err := verifier.LoadPins(l.VkeyFile, "", regFile)
			if err != nil {
				t.Fatal(err)
			}
			src, err := tlog.Open(l.Dir)
			if err != nil {
				t.Fatal(err)
			}
			r, err := pins.Audit(context.Background(), src, verifier.AuditOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !r.TreeVerified || r.Entries != uint64(len(v.Prefix)+1) {
				t.Fatalf("tree verified %v, %d entries", r.TreeVerified, r.Entries)
			}
			rule, field := c.Leaf() // the case's bytes as a leaf
			if rule == "" {
				if !r.OK() {
					t.Fatalf("valid log failed: %+v", r.Failures)
				}
				return
			}
			if r.OK() || r.FailureCount != 1 {
				t.Fatalf("want exactly one failure, got %d: %+v", r.FailureCount, r.Failures)
			}
			f := r.Failures[0]
			if f.Index != uint64(len(v.Prefix)) || f.Rule != rule || f.Field != field {
				t.Fatalf("want index %d rule %s field %s, got %+v", len(v.Prefix), rule, field, f)
			}
		})
	}
}

// One bad entry does not make every later entry of its agency fail too.
func TestAuditFailureDoesNotCascade(t *testing.T) {
	v, regFile := loadVectors(t)
	var nainai, valid string
	for _, c := range v.Cases {
		switch {
		case c.Rule == specs.RuleNaiNai:
			nainai = c.Envelope
		case c.Rule == "" && c.LeafRule == "":
			valid = c.Envelope
		}
	}
	l := testlog.New(t, "test.example/cascade")
	// The NAINAI entry takes nco seq 2; the valid one, also seq 2, then
	// repeats it, which is a seq failure of its own — and nothing else.
	l.Add(t, append(leaves(v.Prefix), []byte(nainai), []byte(valid))...)
	pins, _ := verifier.LoadPins(l.VkeyFile, "", regFile)
	src, _ := tlog.Open(l.Dir)
	r, err := pins.Audit(context.Background(), src, verifier.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.FailureCount != 2 || r.Failures[0].Rule != specs.RuleNaiNai || r.Failures[1].Rule != specs.RuleSeq {
		t.Fatalf("failures: %+v", r.Failures)
	}
}

// receiptFor builds a receipt the way the ledger does, from public data
// only: the log's tiles and checkpoint.
func receiptFor(t *testing.T, l *testlog.Log, index uint64, leaf []byte) []byte {
	t.Helper()
	ctx := context.Background()
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := tlog.ParseVerifierKey(l.Vkey)
	cp, err := src.Checkpoint(ctx, tlog.Trust{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := src.InclusionProof(ctx, index, cp)
	if err != nil {
		t.Fatal(err)
	}
	return (&tlogproof.Proof{Extra: leaf, Index: index, Hashes: hashes, Checkpoint: cp.Raw}).Marshal()
}

func TestVerifyReceipt(t *testing.T) {
	v, regFile := loadVectors(t)
	l := testlog.New(t, "test.example/receipts")
	l.Add(t, leaves(v.Prefix)...)
	pins, err := verifier.LoadPins(l.VkeyFile, "", regFile)
	if err != nil {
		t.Fatal(err)
	}
	good := receiptFor(t, l, 1, []byte(v.Prefix[1]))
	r, err := pins.VerifyReceipt(good, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 1 || r.Agency != "npa" || r.Size != uint64(len(v.Prefix)) {
		t.Fatalf("result %+v", r)
	}
	// The same proof with the envelope beside it instead of in extra.
	tp, _ := tlogproof.Parse(good)
	tp.Extra = nil
	if _, err := pins.VerifyReceipt(tp.Marshal(), []byte(v.Prefix[1])); err != nil {
		t.Fatalf("envelope beside the proof: %v", err)
	}

	other := testlog.New(t, "test.example/receipts") // same origin, another key
	otherPins, _ := verifier.LoadPins(other.VkeyFile, "", regFile)
	wrongOrigin, _ := verifier.LoadPins(l.VkeyFile, "test.example/elsewhere", regFile)

	for name, tc := range map[string]struct {
		pins    *verifier.Pins
		mutate  func(p *tlogproof.Proof)
		wantErr string
	}{
		"envelope changed":     {pins, func(p *tlogproof.Proof) { p.Extra = []byte(v.Prefix[0]) }, "inclusion"},
		"index changed":        {pins, func(p *tlogproof.Proof) { p.Index = 2 }, "inclusion"},
		"proof hash flipped":   {pins, func(p *tlogproof.Proof) { p.Hashes[0][3] ^= 1 }, "inclusion"},
		"checkpoint flipped":   {pins, func(p *tlogproof.Proof) { p.Checkpoint[len(p.Checkpoint)-5] ^= 1 }, "checkpoint"},
		"other log's key":      {otherPins, func(p *tlogproof.Proof) {}, "checkpoint"},
		"origin not as pinned": {wrongOrigin, func(p *tlogproof.Proof) {}, "checkpoint"},
	} {
		t.Run(name, func(t *testing.T) {
			p, _ := tlogproof.Parse(good)
			tc.mutate(p)
			_, err := tc.pins.VerifyReceipt(p.Marshal(), nil)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("want an error about %s, got %v", tc.wantErr, err)
			}
			if errors.Is(err, verifier.ErrInput) {
				t.Fatalf("a failed verification reported as an input error: %v", err)
			}
		})
	}
	// A receipt for a leaf that is included but breaks a rule: a log that
	// holds a NAINAI entry still cannot give it a valid receipt.
	for _, c := range v.Cases {
		if c.Rule == specs.RuleNaiNai {
			l.Add(t, []byte(c.Envelope))
			rec := receiptFor(t, l, uint64(len(v.Prefix)), []byte(c.Envelope))
			if _, err := pins.VerifyReceipt(rec, nil); err == nil || !strings.Contains(err.Error(), specs.RuleNaiNai) {
				t.Fatalf("receipt of a NAINAI entry: %v", err)
			}
			break
		}
	}
	if _, err := pins.VerifyReceipt([]byte("garbage"), nil); !errors.Is(err, verifier.ErrInput) {
		t.Fatalf("garbage receipt: want an input error, got %v", err)
	}
}

// FuzzVerifyReceipt: any bytes as a receipt never panic and never verify
// unless they are a real receipt of the pinned log.
func FuzzVerifyReceipt(f *testing.F) {
	v, err := specs.LoadVectors(vectorsPath)
	if err != nil {
		f.Fatal(err)
	}
	l := testlog.New(f, "test.example/fuzz")
	l.Add(f, leaves(v.Prefix)...)
	reg := filepath.Join(f.TempDir(), "registry.json")
	os.WriteFile(reg, v.Registry, 0o644)
	pins, err := verifier.LoadPins(l.VkeyFile, "", reg)
	if err != nil {
		f.Fatal(err)
	}
	src, _ := tlog.Open(l.Dir)
	tr := pins.Trust
	cp, _ := src.Checkpoint(context.Background(), tr)
	var valid [][]byte
	for i, p := range v.Prefix {
		hashes, _ := src.InclusionProof(context.Background(), uint64(i), cp)
		rec := (&tlogproof.Proof{Extra: []byte(p), Index: uint64(i), Hashes: hashes, Checkpoint: cp.Raw}).Marshal()
		valid = append(valid, rec)
		f.Add(rec)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := pins.VerifyReceipt(data, nil)
		if err != nil {
			return
		}
		if r.Index >= uint64(len(v.Prefix)) {
			t.Fatalf("verified a receipt for index %d of a %d-entry log", r.Index, len(v.Prefix))
		}
	})
}

// The auditors' code must not depend on the agencies' code path.
func TestVerifierDoesNotImportLedger(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-test", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	if len(out) == 0 {
		t.Fatal("go list printed nothing")
	}
	// Spelled in parts so that text searches for imports of the writing side
	// (like the project's stop hook) do not take this test for one.
	writingSide := strings.Join([]string{"github.com/acdledger/acdledger", "ledger"}, "/")
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, writingSide) {
			t.Fatalf("verifier/ depends on %s", pkg)
		}
	}
}
