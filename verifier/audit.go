package verifier

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"github.com/acdledger/acdledger/specs/registrylog"
	"runtime"
	"sync"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// AuditOptions tune a full replay.
type AuditOptions struct {
	Workers     int                               // signature-checking goroutines (default: GOMAXPROCS)
	MaxFailures int                               // entry failures listed in the report (default 100; all are counted)
	Progress    func(done, total uint64)          // called as entries are checked
	OnEntry     func(i uint64, a *specs.Admitted) // optional: every admitted entry, in log order
	// OnFailure, if set, sees every leaf that fails admission, in log
	// order, with its bytes: evidence packages are built from it, and the
	// report's integrity tables class a rogue leaf by what it claims to be.
	OnFailure func(f EntryFailure, leaf []byte)
	// OnLeaf, if set, sees every leaf in log order once its checks are
	// done: what verified of it (nil if its signature or schema did not)
	// and the admission error (nil if admitted). The violations the rules
	// found in it went to OnViolation just before. A watcher reports each
	// leaf from it.
	OnLeaf func(i uint64, leaf []byte, a *specs.Admitted, err error)

	// Rules, if set, runs the compliance rules (specs/rules.md) over every
	// entry whose agency signature verifies, admitted or not (so a log
	// written by a build that admitted too much is also judged by the
	// rules), then reports the deadlines passed by RulesAsOf.
	Rules *rules.Engine
	// RulesAsOf is when deadlines are judged; zero means the checkpoint's
	// newest witness cosignature, or without one the time of the audit.
	RulesAsOf     time.Time
	MaxViolations int // violations listed in the report (default 1000; all are counted)
	// Checkpoint, if set, is a checkpoint already verified against the
	// pins (e.g. one a report is bound to): the audit replays the tree it
	// commits to, which may be smaller than the log's current one, instead
	// of fetching the current checkpoint.
	Checkpoint *tlog.Checkpoint

	// WitnessTime makes Audit read the log's cosigned-checkpoint archive
	// (specs/checkpoints.md) and give R15 (time.recorded) each entry's
	// witness-time bounds, so back-dating is caught on a log never
	// watched. Without a witness quorum in the pins, or an archive in the
	// log, R15 falls back as before and the report says so (log_time).
	WitnessTime bool
	// Coverage, if set, is what R15 takes for every leaf instead of the
	// bounds above: a watcher knows when it saw the previous checkpoint
	// and this one.
	Coverage *rules.Coverage
	// Archive, if set, is an archive already read (ReadWitnessTime) for a
	// replay (NewReplay) with witness time; LogTime describes it.
	Archive *ckptarchive.Archive
	LogTime *LogTime

	// OnViolation, if set, sees every violation, also those beyond
	// MaxViolations; atEnd is set for those found by the final deadline
	// check (no closing entry up to the checkpoint), not when an entry was
	// read. Evidence packages are built from it and OnFailure.
	OnViolation func(v rules.Violation, atEnd bool)

	// Resume, if set, starts the replay at leaf Resume.Size with the state
	// a replay of the leaves before it ended in (a saved state a quorum of
	// commission members vouched for, verifier/compliance): only the
	// leaves from Resume.Size on are given, and the counts start from the
	// ones carried over. Rules must then be the engine restored from the
	// same saved state.
	Resume *Resume
}

// Resume is where a replay resumes: the admission state after the leaves
// [0, Size), and the admission failures and rule violations counted over
// them. The report's lists (failures, violations, by kind, by agency) hold
// only what the leaves from Size on show; its counts are of the whole
// tree.
type Resume struct {
	Size       uint64
	Admission  *specs.LogState
	Failures   uint64
	Violations uint64
	// History is the trust history replayed over [0, Size), for a log
	// pinned by its root key (Pins.Root); a watcher keeps it.
	History *registrylog.History
}

// AuditReport is the outcome of a full replay.
type AuditReport struct {
	Origin       string                    `json:"origin"`
	Size         uint64                    `json:"tree_size"`
	Root         string                    `json:"root_hash"`
	Cosigners    []string                  `json:"cosigners,omitempty"`
	TreeVerified bool                      `json:"tree_verified"`
	Entries      uint64                    `json:"entries"`
	ByKind       map[string]uint64         `json:"by_kind"`
	ByAgency     map[string]*AgencySummary `json:"by_agency"`
	FailureCount uint64                    `json:"failure_count"`
	// ResumedAt is the tree size a resumed replay started at (0: the whole
	// tree was replayed); see AuditOptions.Resume.
	ResumedAt uint64         `json:"resumed_at,omitempty"`
	Failures  []EntryFailure `json:"failures"`
	Rules     *RulesReport   `json:"rules,omitempty"`
	// AdmissionState is the admission state after the last leaf (each
	// agency's seq, every id seen): what a compliance statement digests.
	AdmissionState *specs.LogState `json:"-"`
	// Trust is where the registry came from and, for a log with a
	// genesis, its history (specs/registry.md).
	Trust *TrustReport `json:"trust,omitempty"`
	// History is the trust history replayed (nil if it could not be).
	History *registrylog.History `json:"-"`
	// WitnessPolicy is the log's policy (policy.set) the checkpoint's
	// cosignatures were checked against (Pins.CheckLogPolicy); nil when
	// the log sets none below the checkpoint's size.
	WitnessPolicy *PolicyInForce `json:"witness_policy_in_force,omitempty"`
	// RulesAdopted is the log's rules.adopted entry the rules
	// configuration matched (Pins.CheckAdoptedRules).
	RulesAdopted *RulesInForce `json:"rules_adopted,omitempty"`
}

// TrustReport says which registry the audit checked each entry against.
type TrustReport struct {
	// Source is "genesis" (replayed from the log, pinned by RootKey) or
	// "registry-file" (a log without a genesis: the pinned file is its
	// implicit genesis).
	Source   string         `json:"source"`
	RootKey  string         `json:"root_key_fingerprint,omitempty"`
	Versions []TrustVersion `json:"versions"`
	// CrossCheck lists where the --registry file differs from the registry
	// in force at the end of the log (given both a root key and a file).
	CrossCheck []string `json:"registry_file_differences,omitempty"`
}

// TrustVersion is one registry of the history: made at Index by EntryID.
type TrustVersion struct {
	Index      uint64 `json:"index"`
	EntryID    string `json:"entry_id,omitempty"`
	Change     string `json:"change"`
	OccurredAt string `json:"occurred_at,omitempty"`
}

// RulesReport is the outcome of the compliance rules over the log.
type RulesReport struct {
	// AsOf is when deadlines were judged. CoveredBy is the time R15
	// (time.recorded) took as "a checkpoint covering every entry had been
	// seen": the newest witness cosignature, or the time of the audit. A
	// whole-log audit knows no earlier bound, so it cannot tell back-dating
	// (only a watcher can); it does catch entries dated in the future.
	AsOf           time.Time         `json:"as_of"`
	CoveredBy      time.Time         `json:"covered_by"`
	Rules          []rules.RuleInfo  `json:"rules"`
	Checked        uint64            `json:"entries_checked"`
	ViolationCount uint64            `json:"violation_count"`
	ByRule         map[string]uint64 `json:"by_rule"`
	Violations     []rules.Violation `json:"violations"` // by index, then rule; at most MaxViolations
	// LogTime says which bounds of when each entry was logged R15 used
	// (with AuditOptions.WitnessTime or LogTime).
	LogTime *LogTime `json:"log_time,omitempty"`
}

// AgencySummary is one agency's part of the log. LastSeq lets an agency
// check that nothing it appended after it is missing from the log.
type AgencySummary struct {
	Entries uint64 `json:"entries"`
	LastSeq uint64 `json:"last_seq"`
}

// EntryFailure is one leaf that breaks an admission rule.
type EntryFailure struct {
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

// OK reports whether the whole log verified: tree, signatures, admission.
func (r *AuditReport) OK() bool { return r.TreeVerified && r.FailureCount == 0 }

// Compliant reports whether the rules, if they ran, found nothing.
func (r *AuditReport) Compliant() bool { return r.Rules == nil || r.Rules.ViolationCount == 0 }

// Audit replays the whole log at its current checkpoint: it verifies the
// checkpoint, recomputes the tree from every entry bundle (and checks every
// hash tile), re-verifies every envelope against the registry and re-runs
// every admission rule in log order, so each agency's seq must run 1, 2, 3…
// with no gap. An error means the tree itself could not be verified; rule
// failures of single entries are listed in the report.
func (p *Pins) Audit(ctx context.Context, src *tlog.Source, opts AuditOptions) (*AuditReport, error) {
	if p.Registry == nil && p.Root == "" {
		return nil, inputErr("an audit needs the commission root key fingerprint (--root-key) or, for a log without a genesis, the agency registry")
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 100
	}
	cp := opts.Checkpoint
	if cp == nil {
		var err error
		if cp, err = src.Checkpoint(ctx, p.Trust); err != nil {
			return nil, err
		}
	}
	if opts.WitnessTime && opts.Rules != nil && opts.Archive == nil {
		var err error
		if opts.Archive, opts.LogTime, err = p.ReadWitnessTime(ctx, src, cp); err != nil {
			return nil, err
		}
	}
	rp := p.NewReplay(cp, opts)
	err := src.Replay(ctx, cp, tlog.ReplayOptions{Workers: opts.Workers}, func(i uint64, leaf []byte) error {
		rp.Add(i, leaf)
		return nil
	})
	if err != nil {
		rp.a.drain()
		return rp.a.report, err
	}
	return rp.Finish(), nil
}

// Replay runs the admission and compliance checks of [Pins.Audit] over
// leaves given in log order from index 0, with no tree to read: the same
// code path for an audit and for an evidence package's leaves (the caller
// has proven them against the checkpoint).
type Replay struct {
	a  *auditor
	cp *tlog.Checkpoint
}

// NewReplay starts a replay of the tree of cp (already verified). Rules
// and deadlines are as for Audit. With opts.Resume, the first leaf to add
// is the one at index opts.Resume.Size.
func (p *Pins) NewReplay(cp *tlog.Checkpoint, opts AuditOptions) *Replay {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 100
	}
	r := &AuditReport{
		Origin: cp.Origin, Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Hash), Cosigners: cp.Cosigners,
		ByKind: map[string]uint64{}, ByAgency: map[string]*AgencySummary{}, Failures: []EntryFailure{},
	}
	a := &auditor{pins: p, opts: opts, report: r, state: specs.NewLogState(), batch: make([][]byte, 0, auditBatch)}
	if p.Root == "" {
		a.hist = registrylog.Implicit(p.Registry)
	}
	if opts.Rules != nil {
		if a.opts.MaxViolations <= 0 {
			a.opts.MaxViolations = 1000
		}
		by := cp.CosignedAt
		if by.IsZero() {
			by = time.Now()
		}
		asOf := opts.RulesAsOf
		if asOf.IsZero() {
			asOf = by
		}
		r.Rules = &RulesReport{AsOf: asOf.UTC(), CoveredBy: by.UTC(), Rules: rules.Rules(), ByRule: map[string]uint64{}, Violations: []rules.Violation{}, LogTime: opts.LogTime}
		a.times = &logTimes{archive: opts.Archive, by: by}
		if opts.Archive != nil {
			a.times.current = ckptarchive.TimesOf(p.Trust.Policy, cp.Raw)
		}
		// Reasons name the fallback bound only where the report says
		// which bounds were used (witness time asked for).
		switch {
		case opts.LogTime == nil:
		case opts.LogTime.Source == LogTimeAuditClock:
			a.times.byNote = "the time of the audit: no witness time"
		default:
			a.times.byNote = "the newest witness cosignature of the audited checkpoint"
		}
	}
	if rs := opts.Resume; rs != nil {
		a.state = rs.Admission
		switch {
		case rs.History != nil:
			a.hist = rs.History
		case p.Root != "" && rs.Size > 0:
			a.genesisErr = errors.New("no trust history carried over from the leaves before the resumed one")
		}
		r.Entries, r.FailureCount, r.ResumedAt = rs.Size, rs.Failures, rs.Size
		if r.Rules != nil {
			r.Rules.ViolationCount = rs.Violations
		}
	}
	return &Replay{a: a, cp: cp}
}

// Add checks the leaf at index i, which must be the next one.
func (rp *Replay) Add(i uint64, leaf []byte) {
	a := rp.a
	a.batch = append(a.batch, leaf)
	if len(a.batch) == cap(a.batch) || i+1 == rp.cp.Size {
		a.flush(i + 1 - uint64(len(a.batch)))
	}
}

// Finish checks what is left and, if every leaf of the tree was added,
// the deadlines; it returns the report. Without every leaf, TreeVerified is
// false and no deadline is judged (a shorter range cannot show a closing
// entry absent).
func (rp *Replay) Finish() *AuditReport {
	a := rp.a
	a.drain() // a.report.Entries counts every flushed leaf only after this
	if len(a.batch) > 0 {
		a.flush(a.report.Entries)
		a.drain()
	}
	r := a.report
	if r.Entries != rp.cp.Size {
		if r.Rules != nil {
			rules.SortViolations(r.Rules.Violations)
		}
		return r
	}
	r.TreeVerified = true
	r.AdmissionState = a.state
	a.trustReport()
	if a.opts.Rules != nil {
		a.atEnd = true
		a.violations(a.opts.Rules.Finish(r.Rules.AsOf))
		rules.SortViolations(r.Rules.Violations)
	}
	return r
}

func (a *auditor) violations(vs []rules.Violation) {
	rr := a.report.Rules
	for _, v := range vs {
		if a.opts.OnViolation != nil {
			a.opts.OnViolation(v, a.atEnd)
		}
		rr.ViolationCount++
		rr.ByRule[v.Rule]++
		if len(rr.Violations) < a.opts.MaxViolations {
			rr.Violations = append(rr.Violations, v)
		}
	}
}

// auditor checks leaves in batches: signatures (the costly part) in
// parallel, then the stateful rules in log order.
type auditor struct {
	pins   *Pins
	opts   AuditOptions
	report *AuditReport
	state  *specs.LogState
	batch  [][]byte
	atEnd  bool // the final deadline check is running
	times  *logTimes

	pending *verifying // the last flushed batch, verified in the background (see flush)

	// hist is the trust history so far: from the genesis at index 0 (with
	// a root key pinned; nil until it is read, and for good if it does not
	// verify) or the pinned registry file as an implicit genesis.
	hist       *registrylog.History
	genesisErr error
}

const auditBatch = 1024

func (a *auditor) flush(first uint64) {
	// The batch's signatures and stateless rules are checked on the
	// workers while this goroutine runs the previous batch's serial part
	// (admission state, rules, accounting), which must go in log order:
	// the serial tail (11% of audit, with the other core idle, issue 12)
	// then overlaps the next batch's verification. A new batch slice is
	// taken because the workers still read this one.
	v := &verifying{first: first, batch: a.batch, admitted: make([]*specs.Admitted, len(a.batch)), errs: make([]error, len(a.batch))}
	if a.opts.Rules != nil {
		v.decoded = make([]*rules.Decoded, len(a.batch))
	}
	n := len(v.batch)
	start := 0
	if first == 0 && n > 0 && a.pins.Root != "" {
		v.admitted[0], v.errs[0] = a.genesis(v.batch[0])
		start = 1
	}
	v.start = start
	// The registry the workers check against is the one in force now,
	// before the previous batch's serial part runs: drain checks again
	// every entry that a registry change since then may judge otherwise.
	if a.hist != nil {
		v.reg = a.hist.Current()
	}
	per := (n + a.opts.Workers - 1) / a.opts.Workers
	for lo := start; lo < n; lo += per {
		hi := min(lo+per, n)
		v.wg.Go(func() {
			for j := lo; j < hi; j++ {
				v.admitted[j], v.errs[j] = a.verifyAgainst(v.reg, v.batch[j])
				if v.decoded != nil && v.admitted[j] != nil {
					// What the rules read of the body needs no state:
					// decoded here, not in the serial part.
					v.decoded[j] = rules.Decode(v.admitted[j].Entry)
				}
			}
		})
	}
	a.drain()
	a.pending = v
	a.batch = make([][]byte, 0, auditBatch)
}

// verifyAgainst checks one leaf's signature and schema under reg (nil when
// the genesis did not verify: then nothing can be checked).
func (a *auditor) verifyAgainst(reg *specs.Registry, leaf []byte) (*specs.Admitted, error) {
	if reg == nil {
		return nil, fmt.Errorf("no registry to check against: %w", a.genesisErr)
	}
	return reg.VerifySigned(leaf)
}

// verifying is a batch whose stateless checks are running.
type verifying struct {
	first    uint64
	start    int // 1 when the batch begins with the genesis, which flush read itself
	batch    [][]byte
	reg      *specs.Registry // what the workers checked against
	admitted []*specs.Admitted
	errs     []error
	decoded  []*rules.Decoded // with rules: each admitted entry's body, for the rules
	wg       sync.WaitGroup
}

// drain waits for the batch being verified, if any, and runs its serial
// part. Whoever reads the report (Finish, an early return) drains first.
func (a *auditor) drain() {
	v := a.pending
	if v == nil {
		return
	}
	a.pending = nil
	v.wg.Wait()
	for j := range v.batch {
		idx := v.first + uint64(j)
		if j >= v.start && a.hist != nil && a.hist.Current() != v.reg {
			// A registry entry before this one (in this batch or the
			// previous one) changed the registry after the workers
			// checked it: it is checked again against the one in force.
			v.admitted[j], v.errs[j] = a.verifyAgainst(a.hist.Current(), v.batch[j])
			if v.decoded != nil {
				v.decoded[j] = nil
			}
		}
		err := v.errs[j]
		if err == nil {
			err = a.state.CheckVerified(v.admitted[j])
		}
		if err == nil && idx > 0 && specs.RootKinds[v.admitted[j].Entry.Kind] {
			if _, aerr := a.hist.Add(idx, v.admitted[j]); aerr != nil {
				err = aerr
			}
		}
		if a.opts.Rules != nil && v.admitted[j] != nil {
			a.report.Rules.Checked++
			cov := a.opts.Coverage
			if cov == nil {
				c := a.times.coverage(idx)
				cov = &c
			}
			d := v.decoded[j]
			if d == nil {
				d = rules.Decode(v.admitted[j].Entry)
			}
			a.violations(a.opts.Rules.AddDecoded(idx, v.admitted[j].Entry, d, *cov))
		}
		a.account(idx, v.batch[j], v.admitted[j], err)
	}
	if a.opts.Progress != nil {
		a.opts.Progress(v.first+uint64(len(v.batch)), a.report.Size)
	}
}

func (a *auditor) account(idx uint64, leaf []byte, adm *specs.Admitted, err error) {
	if a.opts.OnLeaf != nil {
		a.opts.OnLeaf(idx, leaf, adm, err)
	}
	r := a.report
	r.Entries++
	if err != nil {
		r.FailureCount++
		f := EntryFailure{Index: idx, Rule: "unknown", Message: err.Error()}
		var v *specs.Violation
		if errors.As(err, &v) {
			f = EntryFailure{Index: idx, EntryID: v.EntryID, Field: v.Field, Rule: v.Rule, Message: v.Message}
		}
		if a.opts.OnFailure != nil {
			a.opts.OnFailure(f, leaf)
		}
		if len(r.Failures) < a.opts.MaxFailures {
			r.Failures = append(r.Failures, f)
		}
		// Record what the leaf claims so one bad entry does not make every
		// later entry of its agency fail the seq rule as well.
		if h, err := specs.PeekHeader(leaf); err == nil && h.ID != "" && h.Agency != "" {
			a.state.Record(*h, idx)
		}
		return
	}
	a.state.Accept(adm, idx)
	e := adm.Entry
	r.ByKind[e.Kind]++
	s := r.ByAgency[e.Agency]
	if s == nil {
		s = &AgencySummary{}
		r.ByAgency[e.Agency] = s
	}
	s.Entries++
	s.LastSeq = e.Seq
	if a.opts.OnEntry != nil {
		a.opts.OnEntry(idx, adm)
	}
}

// genesis reads leaf 0 as the log's genesis, checked against the pinned
// root key fingerprint and origin, and starts the trust history.
func (a *auditor) genesis(leaf []byte) (*specs.Admitted, error) {
	reg, adm, err := registrylog.ReadGenesis(leaf, registrylog.Pins{Origin: a.pins.Trust.Origin, RootKeyID: a.pins.Root})
	if err != nil {
		a.genesisErr = fmt.Errorf("the genesis at index 0 does not verify against the pinned root key: %w", err)
		return nil, err
	}
	a.hist = registrylog.NewHistory(reg, adm)
	return adm, nil
}

// trustReport fills the report's trust section at the end of the replay.
func (a *auditor) trustReport() {
	if a.hist == nil {
		return
	}
	r := a.report
	r.History = a.hist
	tr := &TrustReport{Source: "genesis", RootKey: a.pins.Root}
	if a.hist.IsImplicit() {
		tr.Source = "registry-file"
	}
	for _, v := range a.hist.Versions() {
		tr.Versions = append(tr.Versions, TrustVersion{Index: v.Index, EntryID: v.EntryID, Change: v.Change, OccurredAt: v.OccurredAt})
	}
	if a.pins.Registry != nil && !a.hist.IsImplicit() {
		tr.CrossCheck = registrylog.Diff(a.pins.Registry, a.hist.Current())
	}
	r.Trust = tr
}
