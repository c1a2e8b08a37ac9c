// Package watch follows a live acdledger log as an auditor: at each poll it
// verifies the log's new checkpoint (signature, witness quorum, consistency
// with the last one it trusted), reads only the entries added since,
// checks that they extend its tree to the signed root, re-runs admission on
// each and the compliance rules (verifier/rules) incrementally, and reports
// every new entry, violation and integrity alarm as an Event. Its state is
// two files (specs/watch-state.md): a small head (the trusted checkpoint,
// the tree's right edge, when it was seen, the next rule deadline) read on
// every poll, and the bulk (admission state, rules engine, trust history)
// read only when there is something to check. Both are saved atomically
// after each checkpoint it processed, the head last, so a restart carries
// on without reading or reporting anything twice.
package watch

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier"
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
	// State is the state file (specs/watch-state.md), created on first
	// use; the bulk of the state lives beside it (State + ".bulk-…").
	State string
	// Evidence, if set, is a directory where a fork, rollback or
	// inconsistency leaves both signed checkpoints (a fresh subdirectory
	// per incident).
	Evidence string
	// Emit receives every event, in order. The events of a poll that
	// reads new entries are given once its state is saved, so a crash
	// before that reports nothing and the next poll reports them once.
	Emit func(Event)
	// Progress, if set, is called as new entries are checked.
	Progress func(done, total uint64)
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Workers are the signature-checking goroutines (default GOMAXPROCS).
	Workers int
}

// Watcher follows one log. What it holds is split in two (specs/watch-state.md):
// the head — the trusted checkpoint, the tree's right edge, when the
// checkpoint was first seen, the next rule deadline — read on every poll,
// and the bulk — the admission state, the rules engine, the trust history,
// as large as the log — read only when a poll has entries to check or a
// deadline to judge.
type Watcher struct {
	src  *tlog.Source
	opts Options
	cp   *tlog.Checkpoint // the trusted checkpoint; nil before the first
	edge *tlog.Edge
	seen time.Time // when cp was first seen
	next time.Time // when a deadline can next pass (rules.Engine.NextDeadline); zero: none open
	sum  string    // hex SHA-256 of the saved bulk file ("" before the first save)
	bulk *bulk     // nil until needed (then loaded from the file named by sum)
}

// bulk is the part of the state that grows with the log.
type bulk struct {
	adm  *specs.LogState
	eng  *rules.Engine
	hist *registrylog.History // the trust history so far (with Root; nil before the genesis)
}

// Open reads the watcher's state file, verifying the checkpoint it holds
// against the trust and the saved tree edge against that checkpoint; with
// no state file it starts from an empty log (trust on first use). A state
// file of version 2 (one file holding everything) is rewritten in the
// current form.
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
	w := &Watcher{src: src, opts: opts}
	raw, err := os.ReadFile(opts.State)
	if errors.Is(err, fs.ErrNotExist) {
		w.bulk = w.emptyBulk()
		return w, nil
	}
	if err != nil {
		return nil, fmt.Errorf("watch: state: %w", err)
	}
	migrated, err := w.load(raw)
	if err != nil {
		return nil, fmt.Errorf("watch: state file %s: %w", opts.State, err)
	}
	if migrated {
		if err := w.save(w.cp, w.edge, w.seen); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func (w *Watcher) emptyBulk() *bulk {
	return &bulk{adm: specs.NewLogState(), eng: rules.New(w.opts.Rules)}
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
// not be read (network, missing files…) or the state not saved: nothing
// was concluded, nothing reported and the saved state is unchanged. After
// a checkpoint alarm (fork, rollback, inconsistency, quorum, signature,
// root) the state is unchanged too, so the next poll checks again against
// the last trusted checkpoint; after an admission alarm the checkpoint is
// processed and saved like any other.
//
// A poll with nothing new reads nothing but the checkpoint (the same tree,
// or a consistency proof for a larger one) unless a rule deadline has
// passed since the last save; only then is the bulk of the state read.
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
		if w.next.IsZero() || !now.After(w.next) {
			return false, nil
		}
		if err := w.loadBulk(); err != nil {
			return false, err
		}
		vs := w.bulk.eng.Finish(now)
		if len(vs) == 0 {
			return false, nil
		}
		if err := w.save(w.cp, w.edge, w.seen); err != nil {
			w.bulk = nil // Finish marked them reported: read the saved bulk again
			return false, err
		}
		w.emitAll(w.violationEvents(nil, vs, now))
		return false, nil
	}
	if err := w.loadBulk(); err != nil {
		return false, err
	}
	cp := res.Current
	evs, alarm, edge, err := w.check(ctx, cp, now)
	if err != nil {
		// The bulk may have seen some leaves: read it again next time.
		w.bulk = nil
		var rm *tlog.RootMismatchError
		if errors.As(err, &rm) {
			w.opts.Emit(Event{Type: TypeAlarm, Alarm: AlarmRoot, Size: &cp.Size, Root: b64(cp.Hash), Reason: err.Error(), Seen: now})
			return true, nil
		}
		return false, err
	}
	evs = append(evs, Event{Type: TypeCheckpoint, Size: &cp.Size, Root: b64(cp.Hash), Cosigners: cp.Cosigners, FirstUse: res.FirstUse, Seen: now})
	if err := w.save(cp, edge, now); err != nil {
		w.bulk = nil
		return false, err
	}
	w.cp, w.edge, w.seen = cp, edge, now
	w.emitAll(evs)
	return alarm, nil
}

func (w *Watcher) emitAll(evs []Event) {
	for _, ev := range evs {
		w.opts.Emit(ev)
	}
}

// check reads the leaves cp adds to the trusted tree, proves that they
// extend it to cp's root, and checks them as an audit does — signatures
// and stateless rules on the workers, in batches, while the previous
// batch's admission state and rules run in log order (verifier.Replay) —
// then judges the deadlines as of now. It returns the events to report,
// whether one is an alarm, and the edge of cp's tree; on an error the bulk
// is spoilt.
func (w *Watcher) check(ctx context.Context, cp *tlog.Checkpoint, now time.Time) ([]Event, bool, *tlog.Edge, error) {
	b := w.bulk
	cov := rules.Coverage{After: w.seen, By: now}
	if w.cp == nil {
		cov.After = time.Time{} // first use: when these entries were logged is unknown
	}
	var evs, pending []Event // pending: the rules' findings in the leaf not yet reported
	alarm := false
	pins := &verifier.Pins{Trust: w.opts.Trust, Registry: w.opts.Registry, Root: w.opts.Root}
	opts := verifier.AuditOptions{
		Workers: w.opts.Workers, Rules: b.eng, RulesAsOf: now, Coverage: &cov, MaxFailures: 1, MaxViolations: 1,
		Resume: &verifier.Resume{Size: w.Size(), Admission: b.adm, History: b.hist},
		OnViolation: func(v rules.Violation, atEnd bool) {
			if atEnd {
				evs = w.violationEvents(evs, []rules.Violation{v}, now)
			} else {
				pending = w.violationEvents(pending, []rules.Violation{v}, now)
			}
		},
		OnLeaf: func(i uint64, leaf []byte, a *specs.Admitted, err error) {
			evs = append(evs, w.entryEvents(i, leaf, a, err, now)...)
			evs, pending = append(evs, pending...), pending[:0]
			alarm = alarm || err != nil
		},
	}
	if w.opts.Root == "" {
		opts.Resume.History = nil // the pinned registry file is the implicit genesis
	}
	rp := pins.NewReplay(cp, opts)
	edge, err := w.src.Extend(ctx, w.edge, cp, w.opts.Progress, func(i uint64, leaf []byte) error {
		rp.Add(i, leaf)
		return nil
	})
	if err != nil {
		return nil, false, nil, err
	}
	r := rp.Finish()
	if w.opts.Root != "" {
		b.hist = r.History
	}
	return evs, alarm, edge, nil
}

// entryEvents are the events of one new leaf: the entry, and an alarm if
// it breaks an admission rule.
func (w *Watcher) entryEvents(i uint64, leaf []byte, a *specs.Admitted, err error, now time.Time) []Event {
	idx := i
	ev := Event{Type: TypeEntry, Index: &idx, Seen: now}
	if a != nil {
		e := a.Entry
		ev.EntryID, ev.Kind, ev.Agency, ev.Seq, ev.Case, ev.OccurredAt = e.ID, e.Kind, e.Agency, e.Seq, e.Case, e.OccurredAt
	} else if h, herr := specs.PeekHeader(leaf); herr == nil {
		ev.EntryID, ev.Agency, ev.Seq = h.ID, h.Agency, h.Seq
	}
	if err == nil {
		return []Event{ev}
	}
	al := Event{Type: TypeAlarm, Alarm: AlarmAdmission, Index: &idx, EntryID: ev.EntryID, Reason: err.Error(), Seen: now}
	var v *specs.Violation
	if errors.As(err, &v) {
		al.Rule, al.Field, al.Reason = v.Rule, v.Field, v.Message
	}
	return []Event{ev, al}
}

func (w *Watcher) violationEvents(evs []Event, vs []rules.Violation, now time.Time) []Event {
	for _, v := range vs {
		idx := v.Index
		evs = append(evs, Event{Type: TypeViolation, Index: &idx, EntryID: v.EntryID, Case: v.Case, Rule: v.Rule, Name: v.Name(), Reason: v.Reason, Seen: now})
	}
	return evs
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
