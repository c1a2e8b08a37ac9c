package compliance

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/acdledger/acdledger/internal/jsonmsg"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// StateFormat is the saved state file's format value.
const StateFormat = "acdledger-replay-state/v1"

// SavedState is the state a replay to a statement's tree ended in
// (specs/compliance.md, "Saved state"): enough to resume the replay there
// without reading the leaves before it. Admission and Rules are the exact
// bytes the state digest is taken over; Edge is the tree's compact range
// (its right edge), which the statement's root vouches for.
type SavedState struct {
	Format    string          `json:"format"`
	Origin    string          `json:"origin"`
	Size      uint64          `json:"tree_size"`
	Root      []byte          `json:"root_hash"`
	Edge      []string        `json:"edge"`
	Admission json.RawMessage `json:"admission"`
	Rules     json.RawMessage `json:"rules"`
}

// Digest is the state digest of the saved state, as a statement names it.
func (s *SavedState) Digest() string { return StateDigest(s.Admission, s.Rules) }

// Marshal encodes the state in its one form: compact JSON, the members in
// the order above, ending in a newline.
func (s *SavedState) Marshal() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // Admission and Rules are JSON by construction
	}
	return append(b, '\n')
}

// ErrState marks a saved state that cannot be read or does not match the
// statement it is resumed under.
var ErrState = errors.New("saved replay state")

func stateErr(field, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrState, field, fmt.Sprintf(format, args...))
}

// ParseState reads a saved state strictly: only the members above, each
// once, and the bytes exactly as Marshal writes them (so a file has one
// reading, and the digest is of what is restored); the admission and rules
// states must restore and save back to the same bytes.
func ParseState(data []byte, cfg rules.Config) (*SavedState, *specs.LogState, *rules.Engine, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s SavedState
	if err := dec.Decode(&s); err != nil {
		return nil, nil, nil, stateErr("file", "%v", jsonmsg.Describe(err))
	}
	if s.Format != StateFormat {
		return nil, nil, nil, stateErr("format", "%q, want %q", s.Format, StateFormat)
	}
	if len(s.Root) != 32 {
		return nil, nil, nil, stateErr("root_hash", "%d bytes, want 32", len(s.Root))
	}
	if s.Edge == nil || s.Admission == nil || s.Rules == nil {
		return nil, nil, nil, stateErr("file", "edge, admission and rules are required")
	}
	if !bytes.Equal(s.Marshal(), data) {
		return nil, nil, nil, stateErr("file", "not in its one encoding (compact JSON, members in order, one final newline): re-save it, do not edit it")
	}
	adm := specs.NewLogState()
	if err := adm.UnmarshalJSON(s.Admission); err != nil {
		return nil, nil, nil, stateErr("admission", "%v", err)
	}
	if again, err := adm.MarshalJSON(); err != nil || !bytes.Equal(again, s.Admission) {
		return nil, nil, nil, stateErr("admission", "does not save back to the same bytes (not as acdledger writes it)")
	}
	eng, err := rules.RestoreEngine(cfg, s.Rules)
	if err != nil {
		return nil, nil, nil, stateErr("rules", "%v", err)
	}
	if again, err := eng.MarshalState(); err != nil || !bytes.Equal(again, s.Rules) {
		return nil, nil, nil, stateErr("rules", "does not save back to the same bytes (not as acdledger writes it)")
	}
	return &s, adm, eng, nil
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

// MakeWithState is Make that also returns the state the replay ended in,
// to resume from once members have signed the statement.
func MakeWithState(ctx context.Context, pins *verifier.Pins, src *tlog.Source, cp *tlog.Checkpoint, opts Options) (*Statement, *SavedState, error) {
	if pins.Registry == nil {
		return nil, nil, errors.New("a compliance statement needs the agency registry")
	}
	asOf := opts.AsOf
	if asOf.IsZero() {
		asOf = cp.CosignedAt
	}
	if asOf.IsZero() {
		return nil, nil, errors.New("no as-of time: the checkpoint has no witness cosignature; give one")
	}
	asOf = asOf.UTC().Truncate(time.Second)
	eng := rules.New(opts.Config)
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	// R15 dates entries by witness time where the log has an archive, as
	// audit does, so the statement counts what audit counts.
	arch, logTime, err := pins.ReadWitnessTime(ctx, src, cp)
	if err != nil {
		return nil, nil, err
	}
	rp := pins.NewReplay(cp, verifier.AuditOptions{Checkpoint: cp, Rules: eng, RulesAsOf: asOf, Workers: workers, Progress: opts.Progress,
		Archive: arch, LogTime: logTime})
	edge := rangeFactory.NewEmptyRange(0)
	err = src.Replay(ctx, cp, tlog.ReplayOptions{Workers: workers}, func(i uint64, leaf []byte) error {
		rp.Add(i, leaf)
		return edge.Append(rfc6962.DefaultHasher.HashLeaf(leaf), nil)
	})
	if err != nil {
		return nil, nil, err
	}
	ar := rp.Finish()
	adm, err := ar.AdmissionState.MarshalJSON()
	if err != nil {
		return nil, nil, err
	}
	rst, err := eng.MarshalState()
	if err != nil {
		return nil, nil, err
	}
	saved := &SavedState{Format: StateFormat, Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Edge: []string{}, Admission: adm, Rules: rst}
	for _, h := range edge.Hashes() {
		saved.Edge = append(saved.Edge, base64.StdEncoding.EncodeToString(h))
	}
	st := &Statement{
		Origin: cp.Origin, Size: cp.Size, Root: cp.Hash, Rules: RulesVersion(opts.Config), Config: ConfigDigest(opts.Config),
		AsOf: asOf, Violations: ar.Rules.ViolationCount, AdmissionFailures: ar.FailureCount, State: saved.Digest(),
	}
	return st, saved, nil
}

// Resumed is a replay that starts at a statement's tree: add the leaves
// from Edge.Size on (after checking they extend Edge, as tlog.Source.Extend
// does), then Finish.
type Resumed struct {
	*verifier.Replay
	Edge   *tlog.Edge    // the statement's tree, checked against its root
	Engine *rules.Engine // the rules engine, restored from the saved state
}

// ReplayFrom starts a replay of cp's tree at the tree of statement st from
// the saved state data: the statement (whose quorum the caller has
// verified, Verify) must be about this state — origin, size, root, and its
// state digest that of the saved admission and rules states — and name
// the rules and configuration cfg gives; deadlines must be judged no
// earlier than the statement's as-of. The replay then continues as the
// full one would: its counts are the statement's plus the new leaves'.
func ReplayFrom(pins *verifier.Pins, data []byte, st *Statement, cp *tlog.Checkpoint, cfg rules.Config, opts verifier.AuditOptions) (*Resumed, error) {
	asOf := opts.RulesAsOf
	if asOf.IsZero() {
		asOf = cp.CosignedAt
	}
	pt, err := ResumeAt(pins, data, st, cp, cfg, asOf)
	if err != nil {
		return nil, err
	}
	opts.Rules = pt.Engine
	opts.Resume = pt.Resume
	return &Resumed{Replay: pins.NewReplay(cp, opts), Edge: pt.Edge, Engine: pt.Engine}, nil
}

// Point is where a replay resumes: the state carried over, the
// statement's tree, and the rules engine restored.
type Point struct {
	Resume *verifier.Resume
	Edge   *tlog.Edge
	Engine *rules.Engine
}

// ResumeAt checks the saved state data against statement st and cp's tree
// as ReplayFrom does (deadlines judged as of asOf, zero: not known yet)
// and returns what a replay resumes from, for a replay that runs the
// rules engine itself (the annual report feeds it admitted entries only).
func ResumeAt(pins *verifier.Pins, data []byte, st *Statement, cp *tlog.Checkpoint, cfg rules.Config, asOf time.Time) (*Point, error) {
	saved, adm, eng, err := ParseState(data, cfg)
	if err != nil {
		return nil, err
	}
	switch {
	case pins.Root != "":
		// The trust history (specs/registry.md) is replayed from the
		// genesis at index 0, which a resumed replay never reads, and
		// version 1 of the saved state does not carry it.
		return nil, stateErr("admission", "a log pinned by its root key (a genesis) cannot be resumed from a version 1 state, which does not carry the trust history: audit it in full")
	case saved.Origin != st.Origin:
		return nil, stateErr("origin", "the state is of log %s, the statement of %s", saved.Origin, st.Origin)
	case saved.Size != st.Size:
		return nil, stateErr("tree_size", "the state is at size %d, the statement at %d", saved.Size, st.Size)
	case !bytes.Equal(saved.Root, st.Root):
		return nil, stateErr("root_hash", "the state's root is not the statement's")
	case saved.Digest() != st.State:
		return nil, stateErr("admission, rules", "their state digest is %s, the statement signs %s: not the state the members replayed to", saved.Digest(), st.State)
	case RulesVersion(cfg) != st.Rules:
		return nil, stateErr("rules", "this configuration runs %s, the statement was made with %s", RulesVersion(cfg), st.Rules)
	case ConfigDigest(cfg) != st.Config:
		return nil, stateErr("config", "this configuration's digest is %s, the statement's %s", ConfigDigest(cfg), st.Config)
	case cp.Origin != st.Origin:
		return nil, stateErr("origin", "the statement is about log %s, the checkpoint of %s", st.Origin, cp.Origin)
	case cp.Size < st.Size:
		return nil, stateErr("tree_size", "the checkpoint (size %d) is older than the statement (size %d)", cp.Size, st.Size)
	}
	edge := &tlog.Edge{Size: saved.Size, Hashes: saved.Edge}
	if err := edge.Check(&tlog.Checkpoint{Origin: st.Origin, Size: st.Size, Hash: st.Root}); err != nil {
		return nil, stateErr("edge", "%v", err)
	}
	if !asOf.IsZero() && asOf.Before(st.AsOf) {
		return nil, stateErr("as-of", "deadlines would be judged as of %s, before the statement's as-of %s", asOf.UTC().Format(time.RFC3339), st.AsOf.Format(time.RFC3339))
	}
	return &Point{
		Resume: &verifier.Resume{Size: st.Size, Admission: adm, Failures: st.AdmissionFailures, Violations: st.Violations},
		Edge:   edge, Engine: eng,
	}, nil
}

// AuditFrom is an audit of cp's tree (verified against pins) that
// resumes at statement st's tree from the saved state data: only the
// leaves after st.Size are read, and they must extend the statement's tree
// to cp's root. With opts.WitnessTime it reads the log's checkpoint
// archive for R15, as Audit does.
func AuditFrom(ctx context.Context, pins *verifier.Pins, src *tlog.Source, data []byte, st *Statement, cp *tlog.Checkpoint, cfg rules.Config, opts verifier.AuditOptions) (*verifier.AuditReport, error) {
	if opts.WitnessTime && opts.Archive == nil {
		var err error
		if opts.Archive, opts.LogTime, err = pins.ReadWitnessTime(ctx, src, cp); err != nil {
			return nil, err
		}
	}
	rs, err := ReplayFrom(pins, data, st, cp, cfg, opts)
	if err != nil {
		return nil, err
	}
	if _, err := src.Extend(ctx, rs.Edge, cp, nil, func(i uint64, leaf []byte) error {
		rs.Add(i, leaf)
		return nil
	}); err != nil {
		return nil, err
	}
	return rs.Finish(), nil
}
