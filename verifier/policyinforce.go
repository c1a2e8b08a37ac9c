package verifier

import (
	"errors"
	"fmt"

	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// PolicyInForce says which witness policy an audited checkpoint's
// cosignatures were checked against: the one the log's last policy.set
// entry below the checkpoint's size set (specs/registry.md, "What
// auditors do with policy.set and rules.adopted").
type PolicyInForce struct {
	EntryID   string   `json:"entry_id"`
	Index     uint64   `json:"index"`
	ValidFrom string   `json:"valid_from"`
	TreeSize  uint64   `json:"tree_size"`
	Cosigners []string `json:"cosigners"`
	// FileDifferences lists where a --policy file given too differs from
	// the log's policy (a cross-check: the file's quorum is also required).
	FileDifferences []string `json:"policy_file_differences,omitempty"`
	// Error says why the checkpoint does not meet this policy ("": it
	// does). An audit then still replays the tree, and fails.
	Error string `json:"error,omitempty"`
}

// ErrPolicyInForce marks a checkpoint that lacks the quorum of the policy
// in force in the log at its size.
var ErrPolicyInForce = errors.New("checkpoint does not meet the witness policy in force in the log")

// policySetAt finds the policy.set entry in force for a checkpoint of
// size: the last one at an index below size (nil, nil: none).
func policySetAt(h *registrylog.History, size uint64) (*registrylog.Version, string) {
	if size == 0 {
		return nil, ""
	}
	ps := h.AtIndex(size).Registry.WitnessPolicy
	if ps == nil {
		return nil, ""
	}
	for _, v := range h.Versions() {
		if v.EntryID == ps.SetBy {
			return v, ps.Policy
		}
	}
	return nil, ""
}

// CheckLogPolicy checks cp's witness cosignatures against the policy in
// force in the log at cp.Size (p.History must be replayed up to cp). It
// returns nil, cp when the log has no policy.set entry before cp (nothing
// more is required), else the policy used and cp with its cosigners and
// cosignature time under that policy (when no --policy file is pinned). A
// checkpoint lacking the quorum is an ErrPolicyInForce naming the entry,
// with the policy (its cosigners as far as they verify) still returned.
func (p *Pins) CheckLogPolicy(cp *tlog.Checkpoint) (*PolicyInForce, *tlog.Checkpoint, error) {
	if p.History == nil {
		return nil, nil, inputErr("the witness policy in force needs the trust history replayed first")
	}
	v, text := policySetAt(p.History, cp.Size)
	if v == nil {
		return nil, cp, nil
	}
	pol, err := tlog.ParsePolicy([]byte(text))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the policy of registry entry %s (index %d) does not parse: %v", ErrPolicyInForce, v.EntryID, v.Index, err)
	}
	pf := &PolicyInForce{EntryID: v.EntryID, Index: v.Index, ValidFrom: p.History.AtIndex(cp.Size).Registry.WitnessPolicy.ValidFrom, TreeSize: cp.Size}
	lk := p.Trust.Verifier
	if pol.Log.Name() != lk.Name() || pol.Log.KeyHash() != lk.KeyHash() {
		return pf, nil, fmt.Errorf("%w: the policy of registry entry %s (index %d) pins log key %s+%08x, but the pinned log key is %s+%08x",
			ErrPolicyInForce, v.EntryID, v.Index, pol.Log.Name(), pol.Log.KeyHash(), lk.Name(), lk.KeyHash())
	}
	if p.Trust.Policy != nil {
		pf.FileDifferences = tlog.PolicyDiff(p.Trust.Policy, pol, "the --policy file", "the log's policy")
	}
	t := p.Trust
	t.Policy = pol
	checked, err := tlog.VerifyCheckpoint(cp.Raw, t)
	if err != nil {
		pf.Cosigners, _ = pol.Cosigners(cp.Raw)
		if pf.Cosigners == nil {
			pf.Cosigners = []string{}
		}
		return pf, nil, fmt.Errorf("%w: the policy set by registry entry %s (index %d, the last policy.set below tree size %d): %v", ErrPolicyInForce, v.EntryID, v.Index, cp.Size, err)
	}
	pf.Cosigners = append([]string{}, checked.Cosigners...)
	if p.Trust.Policy == nil {
		// The auditor pinned no policy: the log's decides the
		// checkpoint's cosigners and time.
		cp = checked
	}
	return pf, cp, nil
}

// RulesInForce is the rules configuration the log adopted (rules.adopted)
// as of a tree size, which an audit's configuration must match.
type RulesInForce struct {
	EntryID string `json:"entry_id"`
	Version string `json:"version"`
	Digest  string `json:"digest"`
}

// ErrRulesNotAdopted marks a rules configuration whose digest is not the
// one the log adopted.
var ErrRulesNotAdopted = errors.New("rules configuration is not the one adopted in the log")

// CheckAdoptedRules compares cfg with the rules.adopted entry in force at
// tree size (p.History replayed): nil, nil without one (any configuration
// goes, as before).
func (p *Pins) CheckAdoptedRules(cfg rules.Config, size uint64) (*RulesInForce, error) {
	if p.History == nil || size == 0 {
		return nil, nil
	}
	rs := p.History.AtIndex(size).Registry.Rules
	if rs == nil {
		return nil, nil
	}
	_, digest, err := cfg.Digest()
	if err != nil {
		return nil, inputErr("rules configuration: %v", err)
	}
	ri := &RulesInForce{EntryID: rs.AdoptedBy, Version: rs.Version, Digest: rs.Digest}
	if digest != rs.Digest {
		return ri, fmt.Errorf("%w: its digest is %s, but registry entry %s adopted version %s with digest %s", ErrRulesNotAdopted, digest, rs.AdoptedBy, rs.Version, rs.Digest)
	}
	return ri, nil
}
