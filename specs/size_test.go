package specs_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
)

// Rule envelope.size holds to the byte and comes first: MaxEnvelopeSize
// bytes are judged by the later rules, one byte more by this one.
func TestSizeRuleBound(t *testing.T) {
	reg := testkit.New(t).Registry
	rule := func(n int) string {
		_, err := reg.Verify(bytes.Repeat([]byte("x"), n))
		var v *specs.Violation
		if !errors.As(err, &v) {
			t.Fatalf("%d bytes: %v", n, err)
		}
		return v.Rule
	}
	if got := rule(specs.MaxEnvelopeSize); got != specs.RuleEnvelope {
		t.Errorf("%d bytes: rule %s, want %s", specs.MaxEnvelopeSize, got, specs.RuleEnvelope)
	}
	if got := rule(specs.MaxEnvelopeSize + 1); got != specs.RuleSize {
		t.Errorf("%d bytes: rule %s, want %s", specs.MaxEnvelopeSize+1, got, specs.RuleSize)
	}
}

// The documents state the limit the code applies.
func TestSizeLimitInTheDocs(t *testing.T) {
	n := fmt.Sprintf("%d,%03d", specs.MaxEnvelopeSize/1000, specs.MaxEnvelopeSize%1000)
	for _, f := range []string{"admission.md", "receipts.md", "http-api.md"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), n) {
			t.Errorf("%s does not state the limit, %s bytes", f, n)
		}
	}
}
