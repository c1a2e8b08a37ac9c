package ledger

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// The trust history (specs/registry.md): the registry is a function of the
// log. The genesis at index 0 starts it, registry.change entries change it
// as soon as they are admitted. A log without a genesis (made before it
// existed) stands on its registry.json as an implicit genesis and cannot
// take registry entries (it has no root key).
//
// The POSIX driver keeps the history under l.mu; the AWS driver's frontends
// do not yet share it, so there the registry stays registry.json and every
// registry entry is refused (agency.unknown: no root key).

// currentRegistry is the registry new entries are checked against.
func (l *Ledger) currentRegistry() *specs.Registry {
	if r := l.reg.Load(); r != nil {
		return r
	}
	return l.registry
}

// History is a copy of the ledger's trust history as admitted so far (nil
// on the AWS driver).
func (l *Ledger) History() *registrylog.History {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.hist == nil {
		return nil
	}
	h := *l.hist
	return &h
}

// restoreTrust replays one leaf of the log into the trust history while
// the state is restored. The leaves are the ledger's own and were admitted,
// but a registry entry changes what later entries are checked against, so
// it is read in full and applied as an auditor would.
func (l *Ledger) restoreTrust(idx uint64, leaf []byte, h *specs.Header) error {
	if idx == 0 {
		if h.Kind == specs.KindGenesis {
			reg, a, err := registrylog.ReadGenesis(leaf, registrylog.Pins{Origin: l.origin})
			if err != nil {
				return fmt.Errorf("restoring the trust history: the genesis: %w", err)
			}
			l.hist = registrylog.NewHistory(reg, a)
		} else {
			l.hist = registrylog.Implicit(l.registry)
		}
	}
	if idx == 0 || !specs.RootKinds[h.Kind] {
		return nil
	}
	a, err := l.hist.Current().VerifySigned(leaf)
	if err == nil {
		_, err = l.hist.Add(idx, a)
	}
	if err != nil {
		return fmt.Errorf("restoring the trust history: entry %d: %w", idx, err)
	}
	return nil
}

// admitTrust runs under l.mu before the stateful rules: entries verified
// against a registry that a registry entry has since replaced are checked
// again against the current one (an entry signed by a key revoked moments
// ago is refused), and a registry entry must come alone and apply. It
// returns the registry the batch makes, or nil if it changes none.
func (l *Ledger) admitTrust(admitted []*specs.Admitted) (*specs.Registry, error) {
	if l.hist == nil {
		l.hist = registrylog.Implicit(l.registry)
	}
	cur := l.hist.Current()
	for i, a := range admitted {
		if cur.Agency(a.Entry.Agency) != a.Agency {
			again, err := cur.VerifySigned(a.Envelope.Raw)
			if err != nil {
				return nil, &specs.BatchError{Position: i, Err: err}
			}
			admitted[i] = again
		}
	}
	var next *specs.Registry
	for i, a := range admitted {
		if !specs.RootKinds[a.Entry.Kind] {
			continue
		}
		if len(admitted) > 1 {
			return nil, &specs.BatchError{Position: i, Err: &specs.Violation{EntryID: a.Entry.ID, Field: "kind", Rule: specs.RuleRegistry,
				Message: "a registry entry is appended alone, not in a batch: the entries after it are checked against the registry it makes"}}
		}
		if a.Entry.Kind == specs.KindGenesis {
			return nil, &specs.BatchError{Position: i, Err: &specs.Violation{EntryID: a.Entry.ID, Field: "kind", Rule: specs.RuleRegistry,
				Message: "a genesis entry is only ever at index 0, written by acdledger init"}}
		}
		reg, err := registrylog.Apply(cur, a.Entry)
		if err != nil {
			return nil, &specs.BatchError{Position: i, Err: err}
		}
		next = reg
	}
	return next, nil
}

// acceptTrust records the registry a registry entry made, at the index it
// will have (admission order is log order on the POSIX driver). l.mu is held.
func (l *Ledger) acceptTrust(a *specs.Admitted, index uint64) error {
	if _, err := l.hist.Add(index, a); err != nil {
		return err
	}
	l.reg.Store(l.hist.Current())
	var c registrylog.Change
	if json.Unmarshal(a.Entry.Body, &c) == nil && c.Change == registrylog.PolicySet {
		l.warnPolicy()
	}
	return nil
}

// warnPolicy logs a warning when the witness policy in force in the log
// (its last policy.set entry) differs from the one the ledger publishes
// with (serve --policy). Auditors pinning the genesis check checkpoints
// against the log's policy, so they will refuse checkpoints that lack its
// quorum. The ledger does not switch by itself: Tessera's appender takes
// its witness group when it starts, and the entry's policy need not carry
// the witnesses' URLs, so the operator restarts serve with --policy set to
// the log's policy. l.mu is held, or the ledger is being opened.
func (l *Ledger) warnPolicy() {
	if l.hist == nil {
		return
	}
	ps := l.hist.Current().WitnessPolicy
	if ps == nil {
		return
	}
	msg := "the witness policy in force in the log differs from the one serve publishes with (--policy): auditors pinning the genesis will refuse checkpoints that lack the log's quorum; restart serve with --policy set to the log's policy (registry show --json, witness_policy)"
	inLog, err := tlog.ParsePolicy([]byte(ps.Policy))
	if err != nil {
		l.log.Warn(msg, "set_by", ps.SetBy, "error", err.Error())
		return
	}
	var diff []string
	if l.policy == nil {
		diff = []string{"serve runs without --policy: its checkpoints carry no witness cosignatures"}
	} else {
		diff = tlog.PolicyDiff(l.policy, inLog, "serve --policy", "the log's policy")
	}
	if len(diff) > 0 {
		l.log.Warn(msg, "set_by", ps.SetBy, "differences", diff)
	}
}

// WriteGenesis appends the genesis entry of a new, empty log (acdledger
// init does, right after creating the directory) and waits for its index.
// The genesis must be for this log's origin and checkpoint key.
func (l *Ledger) WriteGenesis(ctx context.Context, envelope []byte) error {
	if l.shared != nil {
		return fmt.Errorf("a genesis on the AWS driver is not supported yet: its frontends do not share a trust history")
	}
	env, err := specs.ReadEnvelope(envelope)
	if err != nil {
		return err
	}
	reg, a, err := registrylog.ReadGenesis(env.Raw, registrylog.Pins{Origin: l.origin})
	if err != nil {
		return err
	}
	var g registrylog.Genesis
	if err := jsonUnmarshal(a.Entry.Body, &g); err != nil {
		return err
	}
	if g.LogKey != l.verifierKeyText() {
		return fmt.Errorf("the genesis names log key %q; this log's is %q", g.LogKey, l.verifierKeyText())
	}
	l.mu.Lock()
	if l.state.Len() != 0 {
		l.mu.Unlock()
		return fmt.Errorf("the log already has %d entries; a genesis is only ever at index 0", l.state.Len())
	}
	if err := l.state.AdmitBatch([]*specs.Admitted{a}); err != nil {
		l.mu.Unlock()
		return err
	}
	p := &Pending{Admitted: a, future: l.seq.submit(a.Envelope.Raw, a.Entry.ID)}
	l.hist = registrylog.NewHistory(reg, a)
	l.reg.Store(reg)
	l.signalAdmitted([]*specs.Admitted{a})
	l.mu.Unlock()
	idx, err := l.Index(p)
	if err != nil {
		return err
	}
	if idx != 0 {
		return fmt.Errorf("the genesis was sequenced at index %d, not 0", idx)
	}
	return nil
}

func (l *Ledger) verifierKeyText() string { return l.vkey }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
