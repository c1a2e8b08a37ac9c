package specs

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
)

// Vectors is specs/vectors/admission.json: a registry, a valid log prefix,
// and candidate envelopes with the verdict admission must reach on each
// when it comes right after the prefix. The ledger's admission and the
// verifier's replay are both tested against it.
type Vectors struct {
	Comment  string          `json:"comment"`
	Registry json.RawMessage `json:"registry"`
	Prefix   []string        `json:"prefix"`
	Cases    []VectorCase    `json:"cases"`
	// Identities are the registry's commission members' age identities,
	// by recipient id: test-only keys, published so that anyone can open
	// the sealed cases and check them against their commitments.
	Identities map[string]string `json:"identities"`
}

// VectorCase is one candidate envelope. Rule and Field are the verdict of
// admission on it as a submission; both are empty for an envelope that
// must be admitted. A submission is admitted in canonical form: Stored is
// then the leaf a ledger writes when that differs from the input, and
// LeafRule and LeafField the verdict of an auditor finding the input bytes
// themselves as a leaf (a leaf must be canonical), when that differs.
type VectorCase struct {
	Name     string `json:"name"`
	Envelope string `json:"envelope,omitempty"`
	// EnvelopeBase64 holds the input instead of Envelope when it is not
	// UTF-8 text (a JSON string cannot carry it).
	EnvelopeBase64 string `json:"envelope_base64,omitempty"`
	Rule           string `json:"rule"`
	Field          string `json:"field"`
	Stored         string `json:"stored,omitempty"`
	LeafRule       string `json:"leaf_rule,omitempty"`
	LeafField      string `json:"leaf_field,omitempty"`
}

// Bytes returns the case's input.
func (c VectorCase) Bytes() []byte {
	if c.EnvelopeBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(c.EnvelopeBase64)
		if err != nil {
			panic(fmt.Sprintf("vector %q: envelope_base64: %v", c.Name, err))
		}
		return b
	}
	return []byte(c.Envelope)
}

// Leaf returns the verdict on the input found as a leaf of a log.
func (c VectorCase) Leaf() (rule, field string) {
	if c.LeafRule != "" {
		return c.LeafRule, c.LeafField
	}
	return c.Rule, c.Field
}

// LoadVectors reads the admission vectors from a file (tests pass the
// path to specs/vectors/admission.json).
func LoadVectors(path string) (*Vectors, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v Vectors
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &v, nil
}
