package specs

import (
	"encoding/json"
	"errors"
	"fmt"
)

// BundleFormat names version 1 of the range bundle (specs/bundle.md);
// BundleFormatV2 version 2, which also carries the archived cosigned
// checkpoints and the compliance statements of the range. Both are read.
const (
	BundleFormat   = "acdledger-bundle/v1"
	BundleFormatV2 = "acdledger-bundle/v2"
)

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
	// Version 2 only. Checkpoints are the archived cosigned checkpoints
	// (checkpoints/<size>, verbatim) of sizes in (From, To], ascending;
	// Statements the compliance statements (compliance/<N>.note, verbatim)
	// about sizes in (From, To], ascending. An empty list is written by
	// leaving the member out.
	Checkpoints []string `json:"checkpoints,omitempty"`
	Statements  []string `json:"statements,omitempty"`
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
	switch b.Format {
	case BundleFormat:
		if b.Checkpoints != nil || b.Statements != nil {
			return nil, fmt.Errorf("bundle: checkpoints, statements: members of %s, not of %s", BundleFormatV2, BundleFormat)
		}
	case BundleFormatV2:
		if b.Checkpoints != nil && len(b.Checkpoints) == 0 || b.Statements != nil && len(b.Statements) == 0 {
			return nil, errors.New("bundle: checkpoints, statements: an empty list is written by leaving the member out (one encoding)")
		}
	default:
		return nil, fmt.Errorf("bundle: format: %q, want %q or %q", b.Format, BundleFormat, BundleFormatV2)
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
