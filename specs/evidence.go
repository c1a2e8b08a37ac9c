package specs

import (
	"encoding/json"
	"fmt"
)

// EvidenceFormat names version 1 of the evidence package (specs/evidence.md).
const EvidenceFormat = "acdledger-evidence/v1"

// Evidence kinds.
const (
	EvidenceViolation    = "violation"    // a compliance rule (specs/rules.md) broken by an entry
	EvidenceAdmission    = "admission"    // a leaf that fails an admission rule (specs/admission.md)
	EvidenceFork         = "fork"         // two signed trees of one size with different roots
	EvidenceRollback     = "rollback"     // a smaller signed tree presented after a larger one
	EvidenceInconsistent = "inconsistent" // a consistency proof between two signed trees fails
)

// Evidence is one self-contained, offline-verifiable finding
// (specs/evidence.md). Every byte the verdict depends on is inside: the
// cosigned checkpoint note, the leaves and their proofs, the rule and the
// settings. Only the pins (log key or witness policy, agency registry) come
// from outside.
type Evidence struct {
	Format string `json:"format"`
	Kind   string `json:"kind"`
	// Checkpoint is the signed checkpoint note, verbatim with its
	// cosignatures, that every proof in the package is against.
	Checkpoint string `json:"checkpoint"`
	// Entries are the entries the finding is charged to, each with its
	// inclusion proof against Checkpoint.
	Entries []EvidenceEntry `json:"entries,omitempty"`
	// Range is every leaf from Range.Start to Range.End with a proof that
	// they are the tree's leaves there: what the verdict is replayed from.
	Range    *EvidenceRange    `json:"range,omitempty"`
	Rule     *EvidenceRule     `json:"rule,omitempty"`
	Settings *EvidenceSettings `json:"settings,omitempty"`
	Finding  EvidenceFinding   `json:"finding"`
	// Fork, rollback, inconsistency: the other checkpoint (the one trusted
	// before) and the consistency proof, if one was built.
	Trusted string   `json:"trusted_checkpoint,omitempty"`
	Proof   []string `json:"consistency_proof,omitempty"`
}

// EvidenceEntry is one leaf: its index, its envelope (base64 of the leaf
// bytes) and its RFC 6962 inclusion proof (base64 hashes).
type EvidenceEntry struct {
	Index    uint64   `json:"index"`
	Envelope string   `json:"envelope"`
	Proof    []string `json:"inclusion_proof"`
}

// EvidenceRange is the leaves [Start, End) of the checkpoint's tree. Right
// is the compact range of [End, size) (base64 hashes, in the order
// transparency-dev/merkle/compact keeps them): with the leaves it rebuilds
// the checkpoint's root. Start is 0 in version 1.
type EvidenceRange struct {
	Start  uint64   `json:"start"`
	End    uint64   `json:"end"`
	Leaves []string `json:"leaves"`
	Right  []string `json:"right"`
}

// EvidenceRule names the exact check applied.
type EvidenceRule struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Version int    `json:"version"`
}

// EvidenceSettings are the values the rules ran with. Config is the rules
// configuration as the verifier's canonical JSON of every key; Digest is
// "sha256:" and the hex SHA-256 of Config's bytes. AsOf, for a deadline
// found with no closing entry, is when the deadline was judged: it must not
// be after the checkpoint's newest witness cosignature.
type EvidenceSettings struct {
	Digest string `json:"config_digest"`
	Config string `json:"config"`
	AsOf   string `json:"as_of,omitempty"` // RFC 3339; only with AtEnd
	// AtEnd says the finding was made at the end of the range (a deadline
	// passed with no closing entry), not when the charged entry was read.
	AtEnd bool `json:"at_end,omitempty"`
}

// EvidenceFinding is the verdict the package claims.
type EvidenceFinding struct {
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id,omitempty"`
	Case    string `json:"case,omitempty"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule,omitempty"` // admission: the admission rule's name
	Reason  string `json:"reason"`
}

// MaxEvidenceSize bounds an evidence file read by ParseEvidence.
const MaxEvidenceSize = 1 << 30

// ParseEvidence reads an evidence package strictly (specs/strict.md): one
// JSON object, exact member names, no unknown member, the format named.
func ParseEvidence(data []byte) (*Evidence, error) {
	if len(data) > MaxEvidenceSize {
		return nil, fmt.Errorf("evidence: %d bytes, more than %d", len(data), MaxEvidenceSize)
	}
	var e Evidence
	if err := decodeStrict(data, &e); err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if e.Format != EvidenceFormat {
		return nil, fmt.Errorf("evidence: format: %q, want %q", e.Format, EvidenceFormat)
	}
	switch e.Kind {
	case EvidenceViolation, EvidenceAdmission:
		if e.Range == nil {
			return nil, fmt.Errorf("evidence: range: required for kind %q", e.Kind)
		}
		if e.Trusted != "" || e.Proof != nil {
			return nil, fmt.Errorf("evidence: trusted_checkpoint, consistency_proof: only for fork, rollback and inconsistent")
		}
		if (e.Kind == EvidenceViolation) != (e.Rule != nil && e.Settings != nil) {
			return nil, fmt.Errorf("evidence: rule, settings: required for a violation and only for one")
		}
	case EvidenceFork, EvidenceRollback, EvidenceInconsistent:
		if e.Trusted == "" {
			return nil, fmt.Errorf("evidence: trusted_checkpoint: required for kind %q", e.Kind)
		}
		if e.Range != nil || e.Rule != nil || e.Settings != nil || e.Entries != nil {
			return nil, fmt.Errorf("evidence: range, rule, settings, entries: not for kind %q", e.Kind)
		}
	default:
		return nil, fmt.Errorf("evidence: kind: %q is none of violation, admission, fork, rollback, inconsistent", e.Kind)
	}
	return &e, nil
}

// Marshal renders the package as indented JSON, the way files are written.
func (e *Evidence) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
