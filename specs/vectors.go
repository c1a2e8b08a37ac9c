package specs

import (
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

// VectorCase is one candidate envelope. Rule and Field are empty for an
// envelope that must be admitted.
type VectorCase struct {
	Name     string `json:"name"`
	Envelope string `json:"envelope"`
	Rule     string `json:"rule"`
	Field    string `json:"field"`
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
