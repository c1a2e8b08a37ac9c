package tlog

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/tessera/client"
)

// ConsistencyResult is the outcome of a successful [Source.CheckConsistency].
// Current is the auditor's new trusted state.
type ConsistencyResult struct {
	Trusted *Checkpoint // the state we started from; nil on first use
	Current *Checkpoint // the log's verified current checkpoint

	// FirstUse is set when there was no trusted state: Current is accepted
	// on trust alone ("trust on first use"), and nothing was proven. Callers
	// should say so loudly.
	FirstUse bool
	// Grown is set when Current is larger than Trusted and Proof proves
	// that it extends it.
	Grown bool
	Proof [][]byte
}

// ForkError means the log signed two different trees of the same size: a
// split view. Both checkpoints are signed by the log key, so together they
// are self-contained proof of misbehaviour (or of a stolen key).
type ForkError struct {
	Trusted, Current *Checkpoint
}

func (e *ForkError) Error() string {
	return fmt.Sprintf("tlog: fork: log %q signed two different trees of size %d: trusted root %s, current root %s",
		e.Trusted.Origin, e.Trusted.Size, b64(e.Trusted.Hash), b64(e.Current.Hash))
}

// RollbackError means the log now presents a smaller tree than one it
// signed before. A stale cache in front of the log looks the same, so this
// alone does not prove misbehaviour; either way the smaller checkpoint must
// not replace the trusted one.
type RollbackError struct {
	Trusted, Current *Checkpoint
}

func (e *RollbackError) Error() string {
	return fmt.Sprintf("tlog: rollback: log %q now presents size %d (root %s), smaller than trusted size %d (root %s)",
		e.Trusted.Origin, e.Current.Size, b64(e.Current.Hash), e.Trusted.Size, b64(e.Trusted.Hash))
}

// InconsistentError means the log grew, but the consistency proof from the
// trusted tree to the current one does not verify. The proof comes from
// unsigned tiles, so the two signed checkpoints are the real evidence: an
// honest log can always produce a valid proof between them, and anyone can
// ask it for one.
type InconsistentError struct {
	Trusted, Current *Checkpoint
	Proof            [][]byte
	Err              error
}

func (e *InconsistentError) Error() string {
	why := e.Err.Error()
	// merkle's own message prints the hashes as decimal byte lists.
	var m proof.RootMismatchError
	if errors.As(e.Err, &m) {
		why = fmt.Sprintf("the %d-hash proof yields root %s where a checkpoint has %s", len(e.Proof), b64(m.CalculatedRoot), b64(m.ExpectedRoot))
	}
	return fmt.Sprintf("tlog: inconsistent: log %q tree of size %d (root %s) does not extend trusted size %d (root %s): %s",
		e.Trusted.Origin, e.Current.Size, b64(e.Current.Hash), e.Trusted.Size, b64(e.Trusted.Hash), why)
}

func (e *InconsistentError) Unwrap() error { return e.Err }

// evidence is implemented by the errors that carry two conflicting
// checkpoints, for [WriteEvidence].
type evidence interface {
	evidence() (trusted, current *Checkpoint, proof [][]byte)
}

func (e *ForkError) evidence() (*Checkpoint, *Checkpoint, [][]byte) { return e.Trusted, e.Current, nil }
func (e *RollbackError) evidence() (*Checkpoint, *Checkpoint, [][]byte) {
	return e.Trusted, e.Current, nil
}
func (e *InconsistentError) evidence() (*Checkpoint, *Checkpoint, [][]byte) {
	return e.Trusted, e.Current, e.Proof
}

// ErrProofRequired is returned by [CompareCheckpoints] when the current tree
// is larger and no consistency proof was given: nothing can be concluded.
var ErrProofRequired = errors.New("tlog: consistency proof required")

// CheckConsistency fetches and verifies the log's current checkpoint and
// checks that it is consistent with trusted, the last checkpoint the auditor
// accepted (nil on first use). On success the result's Current should become
// the new trusted state (see [SaveState]).
//
// Tessera's client.LogStateTracker is not used because it silently ignores
// a same-size checkpoint with another root and a smaller checkpoint; here
// they are a [*ForkError] and a [*RollbackError]. A larger tree whose
// consistency proof fails is an [*InconsistentError].
func (s *Source) CheckConsistency(ctx context.Context, trust Trust, trusted *Checkpoint) (*ConsistencyResult, error) {
	cur, err := s.Checkpoint(ctx, trust)
	if err != nil {
		return nil, err
	}
	if trusted == nil {
		return &ConsistencyResult{Current: cur, FirstUse: true}, nil
	}
	var p [][]byte
	if cur.Size > trusted.Size && trusted.Size > 0 {
		// Tiles of the current tree contain every node the proof needs.
		pb, err := client.NewProofBuilder(ctx, cur.Size, s.f.ReadTile)
		if err != nil {
			return nil, fmt.Errorf("tlog: %s: %v", s, err)
		}
		if p, err = pb.ConsistencyProof(ctx, trusted.Size, cur.Size); err != nil {
			return nil, fmt.Errorf("tlog: building consistency proof %d→%d from %s: %v", trusted.Size, cur.Size, s, err)
		}
	}
	if err := CompareCheckpoints(trusted, cur, p); err != nil {
		return nil, err
	}
	return &ConsistencyResult{Trusted: trusted, Current: cur, Grown: cur.Size > trusted.Size, Proof: p}, nil
}

// CompareCheckpoints checks that current, a checkpoint seen after trusted,
// does not contradict it. Both must already be verified. proof is the
// consistency proof from trusted.Size to current.Size; it is needed only
// when current is larger (and trusted is not empty). This works offline, on
// two checkpoint files and a proof file (see [ParseProof]).
func CompareCheckpoints(trusted, current *Checkpoint, p [][]byte) error {
	if trusted == nil || current == nil {
		return errors.New("tlog: CompareCheckpoints needs two checkpoints")
	}
	if trusted.Origin != current.Origin {
		return fmt.Errorf("tlog: checkpoints are from different logs: %q and %q", trusted.Origin, current.Origin)
	}
	switch {
	case current.Size == trusted.Size:
		if !bytes.Equal(current.Hash, trusted.Hash) {
			return &ForkError{Trusted: trusted, Current: current}
		}
		return nil
	case current.Size < trusted.Size:
		return &RollbackError{Trusted: trusted, Current: current}
	case trusted.Size == 0:
		return nil // every tree extends the empty one
	case len(p) == 0:
		return fmt.Errorf("%w from size %d to %d", ErrProofRequired, trusted.Size, current.Size)
	}
	err := proof.VerifyConsistency(hasher, trusted.Size, current.Size, p, trusted.Hash, current.Hash)
	if err == nil {
		return nil
	}
	// Only a well-formed proof that leads to the wrong root says anything
	// about the log; a proof of the wrong length is just a bad input.
	var mismatch proof.RootMismatchError
	if !errors.As(err, &mismatch) {
		return fmt.Errorf("tlog: malformed consistency proof %d→%d: %v", trusted.Size, current.Size, err)
	}
	return &InconsistentError{Trusted: trusted, Current: current, Proof: p, Err: err}
}
