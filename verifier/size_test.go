package verifier_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// A log can hold a leaf larger than the admission limit (a bundle takes up
// to 65,535 bytes), though no receipt of it would be readable by every
// tlog-proof reader. An audit of a log written without admission judges a
// leaf of MaxEnvelopeSize bytes by the later rules and names rule
// envelope.size at a leaf one byte longer.
func TestAuditFindsALeafOverTheLimit(t *testing.T) {
	v, regFile := loadVectors(t)
	p := uint64(len(v.Prefix))
	l := testlog.New(t, "test.example/size")
	l.Add(t, append(leaves(v.Prefix),
		bytes.Repeat([]byte("x"), specs.MaxEnvelopeSize),
		bytes.Repeat([]byte("x"), specs.MaxEnvelopeSize+1))...)
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
	if !r.TreeVerified || r.Entries != p+2 || r.FailureCount != 2 {
		t.Fatalf("tree verified %v, %d entries, failures %+v", r.TreeVerified, r.Entries, r.Failures)
	}
	if f := r.Failures[0]; f.Index != p || f.Rule != specs.RuleEnvelope {
		t.Fatalf("leaf of %d bytes: %+v, want rule %s", specs.MaxEnvelopeSize, f, specs.RuleEnvelope)
	}
	if f := r.Failures[1]; f.Index != p+1 || f.Rule != specs.RuleSize || f.Field != "envelope" {
		t.Fatalf("leaf of %d bytes: %+v, want rule %s", specs.MaxEnvelopeSize+1, f, specs.RuleSize)
	}
}
