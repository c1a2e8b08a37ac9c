// Package watch follows a live acdledger log as an auditor: at each poll it
// verifies the log's new checkpoint (signature, witness quorum, consistency
// with the last one it trusted), reads only the entries added since,
// checks that they extend its tree to the signed root, re-runs admission on
// each and the compliance rules (verifier/rules) incrementally, and reports
// every new entry, violation and integrity alarm as an Event. Its state (the
// trusted checkpoint, the tree's right edge, the admission and rules state)
// is saved atomically after each checkpoint it processed, so a restart
// carries on without reading or reporting anything twice.
package watch

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/acdledger/acdledger/internal/atomicfile"
	"github.com/acdledger/acdledger/internal/jsonmsg"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Event types and alarms.
const (
	TypeEntry      = "entry"
	TypeViolation  = "violation"
	TypeAlarm      = "alarm"
	TypeCheckpoint = "checkpoint"
	// TypeEvidence lists the evidence packages (specs/evidence.md) written
	// for the violations and admission alarms just reported (watch
	// --evidence); Reason names those no package can prove.
	TypeEvidence = "evidence"

	AlarmFork         = "fork"         // two trees of one size
	AlarmRollback     = "rollback"     // a smaller tree than trusted
	AlarmInconsistent = "inconsistent" // a larger tree that does not extend the trusted one
	AlarmQuorum       = "quorum"       // a checkpoint without the witness quorum
	AlarmSignature    = "signature"    // a checkpoint not validly signed by the log
	AlarmRoot         = "root"         // the new entries do not hash to the signed root
	AlarmAdmission    = "admission"    // an entry in the log breaks an admission rule
)

// Event is one line of a watcher's output. Fields not relevant to its
// type are left out.
type Event struct {
	Type  string `json:"type"`
	Alarm string `json:"alarm,omitempty"`
	// Entries, violations and admission alarms.
	Index      *uint64 `json:"index,omitempty"`
	EntryID    string  `json:"entry_id,omitempty"`
	Kind       string  `json:"kind,omitempty"`
	Agency     string  `json:"agency,omitempty"`
	Seq        uint64  `json:"seq,omitempty"`
	Case       string  `json:"case,omitempty"`
	OccurredAt string  `json:"occurred_at,omitempty"`
	Rule       string  `json:"rule,omitempty"`
	Name       string  `json:"name,omitempty"`  // rule name
	Field      string  `json:"field,omitempty"` // admission alarms
	Reason     string  `json:"reason,omitempty"`
	// Checkpoints and checkpoint alarms.
	Size      *uint64  `json:"tree_size,omitempty"`
	Root      string   `json:"root_hash,omitempty"`
	Cosigners []string `json:"cosigners,omitempty"`
	FirstUse  bool     `json:"first_use,omitempty"`
	Evidence  []string `json:"evidence,omitempty"`
	// When the watcher saw what it reports.
	Seen time.Time `json:"seen_at"`
}

// Options configure a Watcher.
type Options struct {
	Trust    tlog.Trust
	Registry *specs.Registry
	// Root, when set, is the commission root key fingerprint: the registry
	// is replayed from the log's genesis and registry entries
	// (specs/registry.md), and Registry is not used.
	Root  string
	Rules rules.Config
	// State is the state file. It is created on first use.
	State string
	// Evidence, if set, is a directory where a fork, rollback or
	// inconsistency leaves both signed checkpoints (a fresh subdirectory
	// per incident).
	Evidence string
	// Emit receives every event, in order.
	Emit func(Event)
	// Progress, if set, is called as new entries are checked.
	Progress func(done, total uint64)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Watcher follows one log.
type Watcher struct {
	src  *tlog.Source
	opts Options
	cp   *tlog.Checkpoint // the trusted checkpoint; nil before the first
	edge *tlog.Edge
	seen time.Time // when cp was first seen
	adm  *specs.LogState
	eng  *rules.Engine
	hist *registrylog.History // the trust history so far (with Root; nil before the genesis)
}

// stateVersion is the version of the state file format. Version 2: the
// admission state records each entry's kind, agency and case (rule
// refs.kind).
const stateVersion = 2

type stateFile struct {
	Version    int             `json:"version"`
	Checkpoint string          `json:"checkpoint"` // the signed note, verbatim
	Edge       *tlog.Edge      `json:"edge"`
	SeenAt     time.Time       `json:"seen_at"`
	Admission  *specs.LogState `json:"admission"`
	Rules      json.RawMessage `json:"rules"`
	// Trust is the trust history replayed so far (with Options.Root).
	Trust *registrylog.History `json:"trust,omitempty"`
}

// Open loads the watcher's state file, verifying the checkpoint it holds
// against the trust and the saved tree edge against that checkpoint; with
// no state file it starts from an empty log (trust on first use).
func Open(src *tlog.Source, opts Options) (*Watcher, error) {
	if opts.Registry == nil && opts.Root == "" {
		return nil, errors.New("watch: a registry or a root key fingerprint is required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Emit == nil {
		opts.Emit = func(Event) {}
	}
	w := &Watcher{src: src, opts: opts, adm: specs.NewLogState(), eng: rules.New(opts.Rules)}
	raw, err := os.ReadFile(opts.State)
	if errors.Is(err, fs.ErrNotExist) {
		return w, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watch: state: %w", err)
	}
	if err := w.load(raw); err != nil {
		return nil, fmt.Errorf("watch: state file %s: %w", opts.State, err)
	}
	return w, nil
}

func (w *Watcher) load(raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s stateFile
	s.Admission = specs.NewLogState()
	if err := dec.Decode(&s); err != nil {
		return jsonmsg.Describe(err)
	}
	if s.Version != stateVersion {
		return fmt.Errorf("version %d, want %d (saved by another acdledger: delete it to replay the log from its start)", s.Version, stateVersion)
	}
	cp, err := tlog.VerifyCheckpoint([]byte(s.Checkpoint), w.opts.Trust)
	if err != nil {
		return err
	}
	if s.Edge == nil {
		return errors.New("no tree edge")
	}
	if err := s.Edge.Check(cp); err != nil {
		return fmt.Errorf("tree edge: %w", err)
	}
	if s.Admission == nil || uint64(s.Admission.Len()) > cp.Size {
		return errors.New("admission state holds more entries than the checkpoint's tree")
	}
	eng, err := rules.RestoreEngine(w.opts.Rules, s.Rules)
	if err != nil {
		return err
	}
	if w.opts.Root != "" && s.Trust == nil && cp.Size > 0 {
		return errors.New("no trust history saved (the state was made without --root-key): delete it to replay the log from its start")
	}
	w.cp, w.edge, w.seen, w.adm, w.eng, w.hist = cp, s.Edge, s.SeenAt, s.Admission, eng, s.Trust
	return nil
}

func (w *Watcher) save() error {
	rs, err := w.eng.MarshalState()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(stateFile{Version: stateVersion, Checkpoint: string(w.cp.Raw), Edge: w.edge, SeenAt: w.seen, Admission: w.adm, Rules: rs, Trust: w.hist})
	if err != nil {
		return err
	}
	if err := atomicfile.Write(w.opts.State, raw, 0o600); err != nil {
		return fmt.Errorf("watch: saving state: %w", err)
	}
	return nil
}

// Size is the size of the trusted tree (0 before the first checkpoint).
func (w *Watcher) Size() uint64 {
	if w.cp == nil {
		return 0
	}
	return w.cp.Size
}

// Poll looks at the log's current checkpoint once and processes what is
// new. It reports whether it raised an alarm. An error means the log could
// not be read (network, missing files…): nothing was concluded and the
// state is unchanged. After a checkpoint alarm (fork, rollback,
// inconsistency, quorum, signature, root) the state is unchanged too, so
// the next poll checks again against the last trusted checkpoint; after an
// admission alarm the checkpoint is processed and saved like any other.
func (w *Watcher) Poll(ctx context.Context) (bool, error) {
	now := w.opts.Now()
	res, err := w.src.CheckConsistency(ctx, w.opts.Trust, w.cp)
	if err != nil {
		if a := w.checkpointAlarm(err, now); a != nil {
			w.opts.Emit(*a)
			return true, nil
		}
		return false, err
	}
	if !res.FirstUse && !res.Grown {
		// Nothing new; deadlines may still pass.
		if vs := w.eng.Finish(now); len(vs) > 0 {
			w.violations(vs, now)
			return false, w.save()
		}
		return false, nil
	}
	cp := res.Current
	cov := rules.Coverage{After: w.seen, By: now}
	if w.cp == nil {
		cov.After = time.Time{} // first use: when these entries were logged is unknown
	}
	alarm := false
	edge, err := w.src.Extend(ctx, w.edge, cp, w.opts.Progress, func(i uint64, leaf []byte) error {
		if w.entry(i, leaf, cov, now) {
			alarm = true
		}
		return nil
	})
	if err != nil {
		var rm *tlog.RootMismatchError
		if errors.As(err, &rm) {
			// Rules and admission state may have seen some leaves: start
			// again from the saved state.
			if rerr := w.reload(); rerr != nil {
				return true, rerr
			}
			w.opts.Emit(Event{Type: TypeAlarm, Alarm: AlarmRoot, Size: &cp.Size, Root: b64(cp.Hash), Reason: err.Error(), Seen: now})
			return true, nil
		}
		if rerr := w.reload(); rerr != nil {
			return false, rerr
		}
		return false, err
	}
	w.violations(w.eng.Finish(now), now)
	w.cp, w.edge, w.seen = cp, edge, now
	w.opts.Emit(Event{Type: TypeCheckpoint, Size: &cp.Size, Root: b64(cp.Hash), Cosigners: cp.Cosigners, FirstUse: res.FirstUse, Seen: now})
	return alarm, w.save()
}

// verify runs the stateless rules on leaf i against the registry in force:
// the genesis is read against the pinned root key, later leaves against
// the history it starts (or, without Root, the pinned registry).
func (w *Watcher) verify(i uint64, leaf []byte) (*specs.Admitted, error) {
	if w.opts.Root == "" {
		return w.opts.Registry.VerifySigned(leaf)
	}
	if i == 0 {
		reg, a, err := registrylog.ReadGenesis(leaf, registrylog.Pins{Origin: w.opts.Trust.Origin, RootKeyID: w.opts.Root})
		if err != nil {
			return nil, err
		}
		w.hist = registrylog.NewHistory(reg, a)
		return a, nil
	}
	if w.hist == nil {
		return nil, errors.New("no registry to check against: the genesis at index 0 did not verify against the pinned root key")
	}
	return w.hist.Current().VerifySigned(leaf)
}

// reload drops what a failed poll changed in memory.
func (w *Watcher) reload() error {
	fresh, err := Open(w.src, w.opts)
	if err != nil {
		return err
	}
	*w = *fresh
	return nil
}

// entry checks one new leaf: signature and admission rules against the
// state, then the compliance rules. It reports whether it raised an alarm.
func (w *Watcher) entry(i uint64, leaf []byte, cov rules.Coverage, now time.Time) bool {
	idx := i
	a, err := w.verify(i, leaf)
	if err == nil {
		err = w.adm.CheckVerified(a)
	}
	if err == nil && i > 0 && w.hist != nil && specs.RootKinds[a.Entry.Kind] {
		_, err = w.hist.Add(i, a)
	}
	ev := Event{Type: TypeEntry, Index: &idx, Seen: now}
	if a != nil {
		e := a.Entry
		ev.EntryID, ev.Kind, ev.Agency, ev.Seq, ev.Case, ev.OccurredAt = e.ID, e.Kind, e.Agency, e.Seq, e.Case, e.OccurredAt
	} else if h, herr := specs.PeekHeader(leaf); herr == nil {
		ev.EntryID, ev.Agency, ev.Seq = h.ID, h.Agency, h.Seq
	}
	w.opts.Emit(ev)
	if err != nil {
		alarm := Event{Type: TypeAlarm, Alarm: AlarmAdmission, Index: &idx, EntryID: ev.EntryID, Reason: err.Error(), Seen: now}
		var v *specs.Violation
		if errors.As(err, &v) {
			alarm.Rule, alarm.Field, alarm.Reason = v.Rule, v.Field, v.Message
		}
		w.opts.Emit(alarm)
		// As the audit does: record what the leaf claims, so one bad entry
		// does not make every later one of its agency fail too.
		if h, herr := specs.PeekHeader(leaf); herr == nil && h.ID != "" && h.Agency != "" && h.Seq > 0 {
			w.adm.Record(*h, i)
		}
	} else {
		w.adm.Accept(a, i)
	}
	if a != nil {
		w.violations(w.eng.AddCovered(i, a.Entry, cov), now)
	}
	return err != nil
}

func (w *Watcher) violations(vs []rules.Violation, now time.Time) {
	for _, v := range vs {
		idx := v.Index
		w.opts.Emit(Event{Type: TypeViolation, Index: &idx, EntryID: v.EntryID, Case: v.Case, Rule: v.Rule, Name: v.Name(), Reason: v.Reason, Seen: now})
	}
}

// checkpointAlarm turns a checkpoint verification failure into an alarm,
// or returns nil for a failure to read (which proves nothing).
func (w *Watcher) checkpointAlarm(err error, now time.Time) *Event {
	var fork *tlog.ForkError
	var rollback *tlog.RollbackError
	var inconsistent *tlog.InconsistentError
	var quorum *tlog.QuorumError
	ev := &Event{Type: TypeAlarm, Reason: err.Error(), Seen: now}
	var current *tlog.Checkpoint
	switch {
	case errors.As(err, &fork):
		ev.Alarm, current = AlarmFork, fork.Current
	case errors.As(err, &rollback):
		ev.Alarm, current = AlarmRollback, rollback.Current
	case errors.As(err, &inconsistent):
		ev.Alarm, current = AlarmInconsistent, inconsistent.Current
	case errors.As(err, &quorum):
		ev.Alarm, ev.Size, ev.Cosigners = AlarmQuorum, &quorum.Size, quorum.Signed
		return ev
	case errors.Is(err, tlog.ErrBadSignature), errors.Is(err, tlog.ErrWrongOrigin), errors.Is(err, tlog.ErrMalformedCheckpoint):
		ev.Alarm = AlarmSignature
		return ev
	default:
		return nil
	}
	ev.Size, ev.Root = &current.Size, b64(current.Hash)
	if w.opts.Evidence != "" {
		dir := filepath.Join(w.opts.Evidence, ev.Alarm+"-"+now.UTC().Format("20060102T150405.000000000Z"))
		if paths, werr := tlog.WriteEvidence(dir, err); werr == nil {
			ev.Evidence = paths
		} else {
			ev.Reason += fmt.Sprintf(" (evidence not written: %v)", werr)
		}
	}
	return ev
}

func b64(h []byte) string { return base64.StdEncoding.EncodeToString(h) }
