package specs

import (
	"encoding/json"
	"fmt"
)

// BundleFormat names version 1 of the range bundle (specs/bundle.md).
const BundleFormat = "acdledger-bundle/v1"

// Bundle is the leaves [From, To) of a log with what an air-gapped auditor
// needs to verify them and chain them to the previous bundle: the cosigned
// checkpoint they are proven against, the compact ranges left and right of
// them, the registry and the rules configuration in force.
type Bundle struct {
	Format     string `json:"format"`
	Checkpoint string `json:"checkpoint"` // signed note, verbatim with cosignatures
	From       uint64 `json:"from"`
	To         uint64 `json:"to"`
	// Left is the compact range of [0, From): with the previous bundle's
	// leaves it proves the two checkpoints agree on the first From leaves.
	Left   []string `json:"left"`
	Leaves []string `json:"leaves"` // base64 leaves [From, To)
	Right  []string `json:"right"`  // compact range of [To, checkpoint size)
	// Registry is the agency registry in force (its JSON text); RulesConfig
	// the rules configuration (canonical JSON text, every key) and its
	// digest "sha256:" + hex SHA-256.
	Registry          string `json:"registry"`
	RulesConfig       string `json:"rules_config"`
	RulesConfigDigest string `json:"rules_config_digest"`
}

// MaxBundleSize bounds a bundle file read by ParseBundle.
const MaxBundleSize = 4 << 30

// ParseBundle reads a bundle strictly (specs/strict.md).
func ParseBundle(data []byte) (*Bundle, error) {
	if len(data) > MaxBundleSize {
		return nil, fmt.Errorf("bundle: %d bytes, more than %d", len(data), MaxBundleSize)
	}
	var b Bundle
	if err := decodeStrict(data, &b); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	if b.Format != BundleFormat {
		return nil, fmt.Errorf("bundle: format: %q, want %q", b.Format, BundleFormat)
	}
	if b.To < b.From || uint64(len(b.Leaves)) != b.To-b.From {
		return nil, fmt.Errorf("bundle: leaves: %d leaves for [from %d, to %d)", len(b.Leaves), b.From, b.To)
	}
	return &b, nil
}

// Marshal renders the bundle as JSON, one line.
func (b *Bundle) Marshal() ([]byte, error) {
	out, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
