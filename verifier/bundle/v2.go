package bundle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Extra is what a version 2 bundle carries beyond version 1: the archived
// cosigned checkpoints and the compliance statements of sizes in
// (from, to], verbatim, ascending.
type Extra struct {
	Checkpoints [][]byte
	Statements  [][]byte
}

// StatementPath is where a log publishes the statement about tree size n.
func StatementPath(n uint64) string { return "compliance/" + strconv.FormatUint(n, 10) + ".note" }

// Gather collects the Extra of the range (from, to] from a log: the
// archive's checkpoints of those sizes (a nil archive: none, a log made
// before the archive) and the statement published beside each of them,
// where there is one.
func Gather(ctx context.Context, src *tlog.Source, a *ckptarchive.Archive, from, to uint64) (Extra, error) {
	var x Extra
	if a == nil {
		return x, nil
	}
	for _, e := range a.Checkpoints {
		if e.Size <= from || e.Size > to {
			continue
		}
		x.Checkpoints = append(x.Checkpoints, e.Raw)
		st, err := src.ReadResource(ctx, StatementPath(e.Size))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return x, fmt.Errorf("%s: %w", StatementPath(e.Size), err)
		}
		x.Statements = append(x.Statements, st)
	}
	return x, nil
}

// ExportV2 is Export in version 2: the bundle also carries x, each
// checkpoint and statement checked against the leaves before it is handed
// over (as every reader checks it).
func ExportV2(ctx context.Context, src *tlog.Source, p *verifier.Pins, cp *tlog.Checkpoint, from, to uint64, registry []byte, cfg rules.Config, x Extra) (*specs.Bundle, error) {
	b, err := Export(ctx, src, p, cp, from, to, registry, cfg)
	if err != nil {
		return nil, err
	}
	b.Format = specs.BundleFormatV2
	for _, c := range x.Checkpoints {
		b.Checkpoints = append(b.Checkpoints, string(c))
	}
	for _, s := range x.Statements {
		b.Statements = append(b.Statements, string(s))
	}
	if _, err := verifyChain([]*specs.Bundle{b}, p, from); err != nil {
		return nil, err
	}
	return b, nil
}

// Month is the range of the leaves a month's bundle holds, by the agreed
// index of specs/bundle.md: for a time t, b(t) is the largest size of an
// archived checkpoint whose witness quorum was reached before t (0 if
// none); the month [start, end) holds the leaves [b(start), b(end)). So
// consecutive months chain, and every leaf is in the month in which the
// witnesses first saw a checkpoint holding it. The month must be over in
// the archive: some checkpoint's quorum reached at or after end.
func Month(a *ckptarchive.Archive, start, end time.Time) (from, to uint64, err error) {
	over := false
	for _, e := range a.Checkpoints {
		if !e.Quorum {
			continue
		}
		if e.Reached.Before(start) {
			from = max(from, e.Size)
		}
		if e.Reached.Before(end) {
			to = max(to, e.Size)
		} else {
			over = true
		}
	}
	if !over {
		return 0, 0, fmt.Errorf("the archive has no checkpoint cosigned by the quorum at or after %s: the month is not over in the log yet", end.Format(time.RFC3339))
	}
	return from, to, nil
}

// VerifyStatements checks the members' quorum on every compliance
// statement the chain carries (Audit has bound each to the chain's tree:
// origin, size, root) and returns them in order.
func VerifyStatements(chain []*specs.Bundle, members *compliance.Policy) ([]*compliance.Statement, error) {
	var out []*compliance.Statement
	for k, b := range chain {
		for j, raw := range b.Statements {
			st, _, err := compliance.Verify([]byte(raw), members)
			if err != nil {
				return out, fmt.Errorf("%w: bundle %d: statements[%d]: %w", ErrChain, k+1, j, err)
			}
			out = append(out, st)
		}
	}
	return out, nil
}

// target is a carried checkpoint or statement: the root the leaves must
// give at its size.
type target struct {
	what string
	size uint64
	root []byte
}

// extraTargets reads a version 2 bundle's checkpoints and statements:
// each checkpoint is signed by the pinned log key, each statement names the log,
// and both are in (From, To], strictly ascending; the caller checks their
// roots against the leaves.
func extraTargets(n int, b *specs.Bundle, cp *tlog.Checkpoint, p *verifier.Pins) ([]target, error) {
	var ts []target
	last := b.From
	for j, raw := range b.Checkpoints {
		// The log's signature, not the witness quorum: a log may have
		// published (and archived) checkpoints before it had witnesses,
		// as ckptarchive reads them.
		c, err := tlog.VerifyCheckpoint([]byte(raw), tlog.Trust{Origin: p.Trust.Origin, Verifier: p.Trust.Verifier})
		if err != nil {
			return nil, chainErr("bundle %d: checkpoints[%d]: %v", n, j, err)
		}
		if c.Size <= last || c.Size > b.To {
			return nil, chainErr("bundle %d: checkpoints[%d]: size %d, want ascending sizes in (from %d, to %d]", n, j, c.Size, b.From, b.To)
		}
		last = c.Size
		ts = append(ts, target{fmt.Sprintf("checkpoints[%d] (size %d)", j, c.Size), c.Size, c.Hash})
	}
	last = b.From
	for j, raw := range b.Statements {
		st, err := compliance.ParseNote([]byte(raw))
		if err != nil {
			return nil, chainErr("bundle %d: statements[%d]: %v", n, j, err)
		}
		if st.Origin != cp.Origin {
			return nil, chainErr("bundle %d: statements[%d]: about log %s, the bundle is of %s", n, j, st.Origin, cp.Origin)
		}
		if st.Size <= last || st.Size > b.To {
			return nil, chainErr("bundle %d: statements[%d]: size %d, want ascending sizes in (from %d, to %d]", n, j, st.Size, b.From, b.To)
		}
		last = st.Size
		ts = append(ts, target{fmt.Sprintf("statements[%d] (size %d)", j, st.Size), st.Size, st.Root})
	}
	slices.SortStableFunc(ts, func(a, b target) int { return cmp.Compare(a.size, b.size) })
	return ts, nil
}
