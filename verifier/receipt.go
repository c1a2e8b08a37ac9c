package verifier

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// ReceiptResult is what a verified receipt proves.
type ReceiptResult struct {
	EntryID string `json:"entry_id"`
	Kind    string `json:"kind"`
	Agency  string `json:"agency"`
	Seq     uint64 `json:"seq"`
	Index   uint64 `json:"index"`
	Origin  string `json:"origin"`
	Size    uint64 `json:"tree_size"`
	Root    string `json:"root_hash"`
	// Cosigners are the pinned policy's witnesses that cosigned the
	// receipt's checkpoint (empty without a policy).
	Cosigners []string `json:"cosigners,omitempty"`
	// WitnessPolicy is the log's policy (policy.set) in force at the
	// receipt's tree size that its checkpoint was checked against, when
	// the trust history is replayed (--root-key) and sets one.
	WitnessPolicy *PolicyInForce `json:"witness_policy_in_force,omitempty"`
}

// VerifyReceipt checks a receipt offline: the checkpoint's signature and
// origin, the inclusion proof of the envelope at its index, and the agency's
// signature and the admission rules that need no log state. envelope may be
// nil when the proof carries it in its extra line (specs/receipts.md).
func (p *Pins) VerifyReceipt(proofData, envelope []byte) (*ReceiptResult, error) {
	r, _, err := p.verifyReceipt(proofData, envelope)
	return r, err
}

// verifyReceipt is VerifyReceipt that also returns the admitted entry.
func (p *Pins) verifyReceipt(proofData, envelope []byte) (*ReceiptResult, *specs.Admitted, error) {
	if p.Registry == nil && p.History == nil {
		return nil, nil, inputErr("verifying a receipt needs the agency registry, or the log to replay it from (--root-key with --log)")
	}
	tp, err := tlogproof.Parse(proofData)
	if err != nil {
		return nil, nil, inputErr("%v", err)
	}
	leaf := tp.Extra
	switch {
	case envelope != nil && tp.Extra != nil && !bytes.Equal(envelope, tp.Extra):
		return nil, nil, errors.New("the envelope given differs from the one in the proof's extra line")
	case envelope != nil:
		leaf = envelope
	case leaf == nil:
		return nil, nil, inputErr("the proof has no extra line, so the entry's envelope must be given beside it")
	}
	cp, err := tlog.VerifyCheckpoint(tp.Checkpoint, p.Trust)
	if err != nil {
		return nil, nil, fmt.Errorf("checkpoint: %w", err)
	}
	// With a genesis, the checkpoint must also meet the witness policy
	// the log set for a tree of its size (specs/registry.md).
	var pf *PolicyInForce
	if p.Root != "" && p.History != nil {
		if pf, cp, err = p.CheckLogPolicy(cp); err != nil {
			return nil, nil, fmt.Errorf("checkpoint: %w", err)
		}
	}
	if err := tlog.VerifyInclusion(leaf, tp.Index, tp.Hashes, cp); err != nil {
		return nil, nil, fmt.Errorf("inclusion of entry %d in tree %d: %w", tp.Index, cp.Size, err)
	}
	a, err := p.RegistryAt(tp.Index).Verify(leaf)
	if err != nil {
		return nil, nil, fmt.Errorf("entry at index %d: %w", tp.Index, err)
	}
	return &ReceiptResult{
		EntryID: a.Entry.ID, Kind: a.Entry.Kind, Agency: a.Entry.Agency, Seq: a.Entry.Seq,
		Index: tp.Index, Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Hash),
		Cosigners: cp.Cosigners, WitnessPolicy: pf,
	}, a, nil
}
