package evidence_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/evidence"
)

// FuzzVerify feeds mutated packages to Verify: it must never panic, and
// whatever it accepts must parse to a verdict.
func FuzzVerify(f *testing.F) {
	pins, err := verifier.LoadPolicyPins(filepath.Join(vectorDir, "policy"), filepath.Join(vectorDir, "registry.json"))
	if err != nil {
		f.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(vectorDir, "*-*.json"))
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, err := evidence.Verify(raw, pins)
		if err == nil && v == nil {
			t.Fatal("accepted with no verdict")
		}
	})
}
