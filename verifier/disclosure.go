package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// DisclosureResult is what a verified disclosure proves: the entry is in
// the log (the receipt part) and its sealed field had this value.
type DisclosureResult struct {
	ReceiptResult
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// VerifyDisclosure checks a disclosure file (specs/sealed.md) with no key
// but the pinned log key and registry: its receipt, that the receipt is for
// the entry and index the disclosure names, and that value and salt give
// the commitment the agency signed for that field.
func (p *Pins) VerifyDisclosure(data []byte) (*DisclosureResult, error) {
	d, err := specs.ParseDisclosure(data)
	if err != nil {
		return nil, inputErr("%v", err)
	}
	r, a, err := p.verifyReceipt([]byte(d.Proof), nil)
	if err != nil {
		return nil, fmt.Errorf("receipt: %w", err)
	}
	if r.Index != d.Index {
		return nil, fmt.Errorf("index: the disclosure names index %d, its receipt proves index %d", d.Index, r.Index)
	}
	if r.EntryID != d.EntryID {
		return nil, fmt.Errorf("entry_id: the disclosure names %s, the entry at index %d is %s", d.EntryID, r.Index, r.EntryID)
	}
	s := a.Entry.SealedPart()
	if s == nil {
		return nil, fmt.Errorf("entry %s at index %d has no sealed part", r.EntryID, r.Index)
	}
	want, ok := s.Commitments[d.Field]
	if !ok {
		return nil, fmt.Errorf("field: entry %s commits to no sealed field %q", r.EntryID, d.Field)
	}
	got, err := specs.Commit(d.Salt, d.Value)
	if err != nil {
		return nil, inputErr("value: %v", err)
	}
	if got != want {
		return nil, fmt.Errorf("value/salt: they hash to %s, but entry %s at index %d commits to %s for %s", got, r.EntryID, r.Index, want, d.Field)
	}
	return &DisclosureResult{ReceiptResult: *r, Field: d.Field, Value: d.Value}, nil
}

// EntryProof fetches the entry at index from the log at checkpoint cp,
// with its inclusion proof, as a receipt (envelope in the extra line), and
// verifies it like any receipt before handing it out.
func (p *Pins) EntryProof(ctx context.Context, src *tlog.Source, cp *tlog.Checkpoint, index uint64) (*tlogproof.Proof, *specs.Admitted, error) {
	leaf, err := src.Leaf(ctx, index, cp)
	if err != nil {
		return nil, nil, err
	}
	hashes, err := src.InclusionProof(ctx, index, cp)
	if err != nil {
		return nil, nil, err
	}
	proof := &tlogproof.Proof{Extra: leaf, Index: index, Hashes: hashes, Checkpoint: cp.Raw}
	_, a, err := p.verifyReceipt(proof.Marshal(), nil)
	if err != nil {
		return nil, nil, err
	}
	return proof, a, nil
}

// errFound stops a replay once the entry sought is found.
var errFound = errors.New("found")

// FindEntry returns the index of the entry with that id in the log at cp,
// reading the log from the start (the log has no index by id).
func FindEntry(ctx context.Context, src *tlog.Source, cp *tlog.Checkpoint, id string) (uint64, error) {
	var at uint64
	err := src.Replay(ctx, cp, tlog.ReplayOptions{}, func(i uint64, leaf []byte) error {
		if h, err := specs.PeekHeader(leaf); err == nil && h.ID == id {
			at = i
			return errFound
		}
		return nil
	})
	switch {
	case errors.Is(err, errFound):
		return at, nil
	case err != nil:
		return 0, err
	}
	return 0, fmt.Errorf("no entry with id %s in the log's %d entries", id, cp.Size)
}
