package testkit_test

import (
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
)

// SignedOfSize makes valid envelopes of exactly the size asked, around the
// limit and far from it.
func TestSignedOfSize(t *testing.T) {
	kit := testkit.New(t)
	for _, size := range []int{4000, specs.MaxEnvelopeSize / 4 * 4, specs.MaxEnvelopeSize/4*4 + 4, 52000} {
		env := kit.SignedOfSize(t, "nco", size)
		if len(env) != size {
			t.Fatalf("asked %d bytes, got %d", size, len(env))
		}
		_, err := kit.Registry.Verify(env)
		if size <= specs.MaxEnvelopeSize && err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		if size > specs.MaxEnvelopeSize && err == nil {
			t.Fatalf("%d bytes admitted", size)
		}
	}
}
