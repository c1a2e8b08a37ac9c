package report

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Violation is one finding of a compliance rule engine. Its fields are
// those of verifier/rules.Violation, in the same order, so a value of that
// type converts with report.Violation(v).
type Violation struct {
	Rule    string `json:"rule"`
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id"`
	Case    string `json:"case"`
	Reason  string `json:"reason"`
}

// RuleRunner is a compliance rule engine replaying the log: Add sees every
// admitted entry in log order, Finish reports what is still open at asOf
// (deadlines passed without the entry that should have met them).
type RuleRunner interface {
	Add(index uint64, e *specs.Entry) []Violation
	Finish(asOf time.Time) []Violation
}

// Options say what to build.
type Options struct {
	Period     Period
	Parameters Parameters
	// Rules, if set, are run over the whole log and their violations of
	// entries in the period reported; RulesConfig identifies their
	// configuration in the report (specs/report.md, "rules").
	Rules       RuleRunner
	RulesConfig string

	Workers  int                      // signature-checking goroutines (default GOMAXPROCS)
	Progress func(done, total uint64) // optional, as entries are checked

	// Resume, if set, starts the replay at a compliance statement's tree
	// (verifier/compliance.ResumeAt: the admission state carried over, the
	// statement's tree edge, and Rules restored from the same saved state)
	// instead of at leaf 0; see [Resumable] for when that gives the full
	// report.
	Resume     *verifier.Resume
	ResumeEdge *tlog.Edge
}

// Resumable says whether a report of period can start at a statement's
// tree (as of asOf, with failures admission failures before it) and equal
// the report of the whole log. The statement must be judged no later than
// the period's start, so the leaves it covers were logged before the
// period (an entry among them dated in the period was dated in the future
// when logged, which R15 reports; a resumed report does not count it), and
// without admission failures, since the rules of a statement also run over
// the signed entries that fail admission and the report's only over the
// admitted ones. Entries of the period that refer to entries of earlier
// years (a decision to its request, a batch to its acquisition…) are
// read from the log by the index the carried admission state gives.
func Resumable(period Period, asOf time.Time, failures uint64) error {
	from, _ := period.bounds()
	switch {
	case asOf.After(from):
		return fmt.Errorf("the statement's as-of %s is after the period's start %s: its tree may hold entries of the period", asOf.UTC().Format(time.RFC3339), period.From)
	case failures > 0:
		return fmt.Errorf("the statement counts %d admission failures: its rules state is not the one the report's rules reach (they see admitted entries only); report over the whole log", failures)
	}
	return nil
}

// Build makes the report over the log at its current checkpoint (verified
// against pins). Entries that fail admission are left out of every figure
// and counted in log.admission_failures; run `acdledger audit` to see them.
func Build(ctx context.Context, pins *verifier.Pins, src *tlog.Source, opts Options) (*Report, error) {
	cp, err := src.Checkpoint(ctx, pins.Trust)
	if err != nil {
		return nil, err
	}
	return BuildAt(ctx, pins, src, cp, opts)
}

// BuildAt makes the report over the tree cp commits to; cp must already be
// verified against pins. The log may have grown past it.
func BuildAt(ctx context.Context, pins *verifier.Pins, src *tlog.Source, cp *tlog.Checkpoint, opts Options) (*Report, error) {
	b, err := NewBuilder(opts)
	if err != nil {
		return nil, err
	}
	ao := verifier.AuditOptions{
		Workers: opts.Workers, Progress: opts.Progress, Checkpoint: cp,
		OnEntry:   func(i uint64, a *specs.Admitted) { b.Add(i, a.Entry) },
		OnFailure: func(f verifier.EntryFailure, leaf []byte) { b.AddFailure(f.Index, leaf) },
	}
	var ar *verifier.AuditReport
	if rs := opts.Resume; rs != nil {
		if opts.ResumeEdge == nil || opts.ResumeEdge.Size != rs.Size {
			return nil, errors.New("report: a resumed report needs the tree edge at the resumed size")
		}
		b.resolve = func(id string) (*specs.Entry, error) { return earlier(ctx, pins, src, cp, rs, id) }
		// One replay, as audit's: signatures on the workers while the
		// previous batch's admission and figures run in log order.
		ao.Resume = rs
		rp := pins.NewReplay(cp, ao)
		if _, err := src.Extend(ctx, opts.ResumeEdge, cp, nil, func(i uint64, leaf []byte) error {
			rp.Add(i, leaf)
			return nil
		}); err != nil {
			return nil, err
		}
		ar = rp.Finish()
	} else if ar, err = pins.Audit(ctx, src, ao); err != nil {
		return nil, err
	}
	return b.Finish(cp, ar.FailureCount)
}

// earlier reads the entry id from the leaves before a resumed replay's
// start: nil if the carried admission state has no such entry there. The
// leaf is proven in cp's tree by an inclusion proof and its signature
// checked, as every leaf the report counts.
func earlier(ctx context.Context, pins *verifier.Pins, src *tlog.Source, cp *tlog.Checkpoint, rs *verifier.Resume, id string) (*specs.Entry, error) {
	i, ok := rs.Admission.IndexOf(id)
	if !ok || i >= rs.Size {
		return nil, nil
	}
	leaf, err := src.Leaf(ctx, i, cp)
	if err != nil {
		return nil, err
	}
	proof, err := src.InclusionProof(ctx, i, cp)
	if err != nil {
		return nil, err
	}
	if err := tlog.VerifyInclusion(leaf, i, proof, cp); err != nil {
		return nil, fmt.Errorf("entry %s at index %d: %w", id, i, err)
	}
	a, err := pins.RegistryAt(i).VerifySigned(leaf)
	if err != nil {
		return nil, fmt.Errorf("entry %s at index %d (before the resumed tree): %w", id, i, err)
	}
	return a.Entry, nil
}

// Builder computes a report from admitted entries fed in log order. Its
// memory is the counters plus, for entries that later entries refer to by
// id (requests, measures, acquisitions, agreements, oversight actions), one
// short string each, and one bit per leaf for period membership.
type Builder struct {
	opts        Options
	from, until time.Time
	tallies     map[string]*tally
	order       []string

	requestRow  map[string]string // approval.requested id → approvals row
	measureType map[string]string // measure.executed id → measure
	acqChannel  map[string]string // acquisition.started id → channel
	agreeSector map[string]string // agreement.concluded/amended id → sector
	actionKind  map[string]string // notice/demand/recommendation id → kind

	inPeriod    []uint64 // bitset by leaf index
	entries     uint64
	first, last uint64
	violations  []ViolationRef
	byRuleEntry map[ruleEntry]int // → position in violations
	failures    uint64            // leaves given to AddFailure
	err         error
	// resolve, in a resumed report, reads an entry of the leaves before the
	// replay's start that an entry refers to (nil: none there).
	resolve  func(id string) (*specs.Entry, error)
	resolved map[string]bool
}

// ruleEntry is what a violation is counted by: one rule, one entry.
type ruleEntry struct {
	rule  string
	index uint64
}

// NewBuilder starts a report for opts.Period.
func NewBuilder(opts Options) (*Builder, error) {
	want, err := NewPeriod(opts.Period.Basis, opts.Period.Year)
	if err != nil {
		return nil, err
	}
	if opts.Period != want {
		return nil, fmt.Errorf("period %s–%s is not the %s year %d (%s–%s)", opts.Period.From, opts.Period.Until, want.Basis, want.Year, want.From, want.Until)
	}
	if opts.Parameters.ImmediateDeletionSeconds < 0 || opts.Parameters.RetentionLimitSeconds < 0 || opts.Parameters.DeadlineGraceSeconds < 0 {
		return nil, fmt.Errorf("parameters: negative duration")
	}
	b := &Builder{opts: opts, tallies: map[string]*tally{},
		requestRow: map[string]string{}, measureType: map[string]string{}, acqChannel: map[string]string{},
		agreeSector: map[string]string{}, actionKind: map[string]string{}, byRuleEntry: map[ruleEntry]int{}}
	b.from, b.until = want.bounds()
	specsList := append(tableSpecs(want), integritySpecs()...)
	if opts.Rules != nil {
		specsList = append(specsList, violationsSpec)
	}
	for _, s := range specsList {
		b.tallies[s.id] = newTally(s)
		b.order = append(b.order, s.id)
	}
	return b, nil
}

// body holds the public body fields any figure uses; a kind uses some of
// them. It never looks at sealed.
type body struct {
	Measure        string `json:"measure"`
	Direction      string `json:"direction"`
	Request        string `json:"request"`
	Decision       string `json:"decision"`
	Executor       string `json:"executor"`
	TargetLocation string `json:"target_location"`
	Approval       string `json:"approval"`
	Emergency      bool   `json:"emergency"`
	Outcome        string `json:"outcome"`
	Channel        string `json:"channel"`
	Acquisition    string `json:"acquisition"`
	Agreement      string `json:"agreement"`
	Sector         string `json:"sector"`
	NIn            uint64 `json:"n_in"`
	NSelected      uint64 `json:"n_selected"`
	NDeleted       uint64 `json:"n_deleted"`
	N              uint64 `json:"n"`
	NRecords       uint64 `json:"n_records"`
	Counts         []struct {
		Direction string `json:"direction"`
		Category  string `json:"category"`
		N         uint64 `json:"n"`
	} `json:"counts"`
	Nonidentified  *bool  `json:"nonidentified"`
	WindowEnd      string `json:"window_end"`
	DeletedAt      string `json:"deleted_at"`
	CreatedAt      string `json:"created_at"`
	RecipientClass string `json:"recipient_class"`
	DataClass      string `json:"data_class"`
	Deidentified   bool   `json:"deidentified"`
	Paragraph      string `json:"paragraph"`
	Findings       uint64 `json:"findings"`
	To             string `json:"to"`
	Status         string `json:"status"`
}

// Add accounts for the admitted entry at leaf index. Entries must come in
// log order; entries outside the period only feed the cross-references
// (and the rules).
func (b *Builder) Add(index uint64, e *specs.Entry) {
	if b.err != nil {
		return
	}
	var bd body
	if err := json.Unmarshal(e.Body, &bd); err != nil {
		// The schema accepted the body, so this is a bug, not bad input.
		b.err = fmt.Errorf("entry %s at index %d: reading body: %v", e.ID, index, err)
		return
	}
	at := e.Occurred()
	in := !at.Before(b.from) && at.Before(b.until)
	b.remember(e, &bd)
	if in {
		word := index / 64
		for uint64(len(b.inPeriod)) <= word {
			b.inPeriod = append(b.inPeriod, 0)
		}
		b.inPeriod[word] |= 1 << (index % 64)
		if b.entries == 0 {
			b.first = index
		}
		b.entries++
		b.last = index
		b.count(e, &bd, at)
	}
	// The rules run after the period bit is set: what they report is
	// about this entry or an earlier one, whose membership is now known.
	if b.opts.Rules != nil {
		for _, v := range b.opts.Rules.Add(index, e) {
			b.keep(v)
		}
	}
}

// remember keeps what later entries refer to, whatever its period.
func (b *Builder) remember(e *specs.Entry, bd *body) {
	switch e.Kind {
	case "approval.requested":
		b.requestRow[e.ID] = approvalRow(bd)
	case "measure.executed":
		b.measureType[e.ID] = bd.Measure
	case "acquisition.started":
		b.acqChannel[e.ID] = bd.Channel
	case "agreement.concluded", "agreement.amended":
		b.agreeSector[e.ID] = bd.Sector
	case "notice", "demand", "recommendation":
		b.actionKind[e.ID] = e.Kind
	}
}

// approvalRow is the approvals row of a request: its measure, and for an
// extension (art. 19) the channel its direction implies.
func approvalRow(bd *body) string {
	if bd.Measure != "extension" {
		return bd.Measure
	}
	switch bd.Direction {
	case "GAIGAI":
		return "extension_transit"
	case "GAINAI":
		return "extension_incoming"
	case "NAIGAI":
		return "extension_outgoing"
	}
	return "extension_unspecified"
}

// lookup is what m remembers of entry id, or unknown. In a resumed report
// an id not seen yet may be an entry before the replay's start: it is read
// from the log (once) and remembered as if it had been replayed.
func (b *Builder) lookup(m map[string]string, id, unknown string) string {
	if v, ok := m[id]; ok && v != "" {
		return v
	}
	if b.resolve != nil && id != "" && !b.resolved[id] {
		if b.resolved == nil {
			b.resolved = map[string]bool{}
		}
		b.resolved[id] = true
		e, err := b.resolve(id)
		if err != nil && b.err == nil {
			b.err = err
		}
		if e != nil {
			var bd body
			if err := json.Unmarshal(e.Body, &bd); err == nil {
				b.remember(e, &bd)
			}
			if v, ok := m[id]; ok && v != "" {
				return v
			}
		}
	}
	return unknown
}

// count adds an entry in the period to every figure it belongs to.
func (b *Builder) count(e *specs.Entry, bd *body, at time.Time) {
	t := b.tallies
	month := at.In(JST).Format("2006-01")
	t[TMonthly].add(month, "entries", 1)
	t[TEntriesByKind].add(e.Kind, "entries", 1)
	t[TEntriesByAgency].add(e.Agency, "entries", 1)
	switch e.Kind {
	case "approval.requested":
		t[TApprovals].add(approvalRow(bd), "requests", 1)
		t[TMonthly].add(month, "requests", 1)
	case "approval.decided":
		row := b.lookup(b.requestRow, bd.Request, rowUnknownRequest)
		t[TApprovals].add(row, "decided", 1)
		t[TApprovals].add(row, bd.Decision, 1)
		t[TMonthly].add(month, "decisions", 1)
	case "measure.executed":
		m := t[TMeasures]
		m.add(bd.Measure, "executed", 1)
		switch {
		case bd.Emergency:
			m.add(bd.Measure, "emergency", 1)
			t[TMonthly].add(month, "emergency_measures", 1)
		case bd.Approval != "":
			m.add(bd.Measure, "approved_in_advance", 1)
		default:
			m.add(bd.Measure, "without_authority", 1)
		}
		m.add(bd.Measure, bd.TargetLocation+"_target", 1)
		t[TMeasureOutcomes].add(bd.Outcome, bd.Executor, 1)
		t[TMonthly].add(month, "measures", 1)
	case "emergency.notice":
		t[TMeasures].add(b.lookup(b.measureType, bd.Measure, rowUnknownMeasure), "emergency_notices", 1)
	case "selection.batch":
		sb := t[TSelectionBatches]
		row := b.lookup(b.acqChannel, bd.Acquisition, rowUnknownAcquisition)
		sb.add(row, "batches", 1)
		sb.add(row, "records_in", bd.NIn)
		sb.add(row, "records_selected", bd.NSelected)
		sb.add(row, "records_deleted", bd.NDeleted)
		if bd.Nonidentified != nil && !*bd.Nonidentified {
			sb.add(row, "not_nonidentified", 1)
		}
		for _, c := range bd.Counts {
			t[TSelectionVolumes].add(c.Direction, c.Category, c.N)
			t[TSelectionVolumes].add(c.Direction, "total", c.N)
		}
		b.deletion("unselected", bd.WindowEnd, bd.DeletedAt, b.opts.Parameters.ImmediateDeletionSeconds, bd.NDeleted)
		t[TMonthly].add(month, "batches", 1)
		t[TMonthly].add(month, "records_selected", bd.NSelected)
	case "retention.deleted":
		b.deletion("retention", bd.CreatedAt, bd.DeletedAt, b.opts.Parameters.RetentionLimitSeconds, bd.N)
	case "provision":
		p := t[TProvisions]
		r := bd.RecipientClass
		p.add(r, "provisions", 1)
		p.add(r, "records", bd.NRecords)
		if bd.Deidentified {
			p.add(r, "deidentified", 1)
		} else {
			p.add(r, "not_deidentified", 1)
		}
		p.add(r, bd.DataClass, 1)
		if bd.Approval != "" {
			p.add(r, "with_approval", 1)
		}
	case "agreement.concluded":
		t[TAgreements].add(bd.Sector, "concluded", 1)
	case "agreement.amended":
		t[TAgreements].add(bd.Sector, "amended", 1)
	case "agreement.terminated":
		t[TAgreements].add(b.lookup(b.agreeSector, bd.Agreement, rowUnknownAgreement), "terminated", 1)
	case "acquisition.started":
		t[TAcquisitions].add(bd.Channel, "started", 1)
	case "acquisition.stopped":
		t[TAcquisitions].add(b.lookup(b.acqChannel, bd.Acquisition, rowUnknownAcquisition), "stopped", 1)
	case "inspection":
		row := "paragraph_" + bd.Paragraph
		t[TInspections].add(row, "inspections", 1)
		t[TInspections].add(row, "findings", bd.Findings)
		if bd.Findings > 0 {
			t[TInspections].add(row, "with_findings", 1)
		}
	case "notice", "demand", "recommendation":
		t[TOversightActions].add(e.Kind, "issued", 1)
	case "response":
		row := b.lookup(b.actionKind, bd.To, rowOtherTarget)
		t[TOversightActions].add(row, "responses", 1)
		t[TOversightActions].add(row, bd.Status, 1)
	}
}

// deletion counts one deletion as on time or late: late when deleted_at is
// more than limit seconds after start.
func (b *Builder) deletion(row, start, deleted string, limit int64, records uint64) {
	s, err1 := time.Parse(time.RFC3339Nano, start)
	d, err2 := time.Parse(time.RFC3339Nano, deleted)
	onTime := err1 == nil && err2 == nil && d.Sub(s) <= time.Duration(limit)*time.Second
	t := b.tallies[TDeletions]
	if onTime {
		t.add(row, "on_time", 1)
		t.add(row, "records_on_time", records)
	} else {
		t.add(row, "late", 1)
		t.add(row, "records_late", records)
	}
}

func (b *Builder) isInPeriod(index uint64) bool {
	w := index / 64
	return w < uint64(len(b.inPeriod)) && b.inPeriod[w]&(1<<(index%64)) != 0
}

// keep lists a violation if its entry is in the period. The engine may
// report one rule several times for one entry (a measure breaking three
// conditions of R3): that is one violation, counted once, with every
// reason kept (sorted at Finish).
func (b *Builder) keep(v Violation) {
	if !b.isInPeriod(v.Index) {
		return
	}
	k := ruleEntry{v.Rule, v.Index}
	if i, ok := b.byRuleEntry[k]; ok {
		b.violations[i].Reasons = append(b.violations[i].Reasons, v.Reason)
		return
	}
	b.byRuleEntry[k] = len(b.violations)
	b.violations = append(b.violations, ViolationRef{Rule: v.Rule, Index: v.Index, EntryID: v.EntryID, Case: v.Case, Reasons: []string{v.Reason}})
	b.tallies[TViolations].add(v.Rule, "violations", 1)
}

// AsOf is the time deadline rules are evaluated at: the period's end plus
// the deadline grace. It does not depend on what the log holds, so a
// deadline missed at the end of the year is judged even when no later
// entry exists (specs/report.md, "Rules").
func (b *Builder) AsOf() time.Time {
	return b.until.Add(time.Duration(b.opts.Parameters.DeadlineGraceSeconds) * time.Second)
}

// Finish completes the report over the tree cp commits to; failures is the
// number of its leaves that failed admission, each of which must have been
// given to AddFailure (the integrity tables account for every one).
func (b *Builder) Finish(cp *tlog.Checkpoint, failures uint64) (*Report, error) {
	if b.err != nil {
		return nil, b.err
	}
	if failures != b.failures {
		return nil, fmt.Errorf("%d leaves fail admission but %d were classed for the integrity tables", failures, b.failures)
	}
	r := &Report{
		Format: Format, Schema: SchemaVersion, Period: b.opts.Period, Parameters: b.opts.Parameters,
		Log: LogBinding{
			Origin: cp.Origin, TreeSize: cp.Size, RootHash: base64.StdEncoding.EncodeToString(cp.Hash),
			Checkpoint: string(cp.Raw), Cosigners: append([]string{}, cp.Signers...),
			AdmissionFailures: failures, EntriesInPeriod: b.entries,
		},
	}
	if b.entries > 0 {
		first, last := b.first, b.last
		r.Log.FirstIndex, r.Log.LastIndex = &first, &last
	}
	if b.opts.Rules != nil {
		asOf := b.AsOf()
		for _, v := range b.opts.Rules.Finish(asOf) {
			b.keep(v)
		}
		for i := range b.violations {
			// The engine's order of reasons is deterministic, but a
			// verifier compares sets: keep them sorted.
			slices.Sort(b.violations[i].Reasons)
		}
		slices.SortFunc(b.violations, compareViolations)
		r.Rules = &Rules{Config: b.opts.RulesConfig, AsOf: asOf.In(JST).Format(time.RFC3339Nano), Violations: b.violations}
		if r.Rules.Violations == nil {
			r.Rules.Violations = []ViolationRef{}
		}
	}
	for _, id := range b.order {
		r.Tables = append(r.Tables, b.tallies[id].table())
	}
	return r, nil
}

// String summarises the binding for messages.
func (l LogBinding) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s at tree size %d, root %s", l.Origin, l.TreeSize, l.RootHash)
	if len(l.Cosigners) > 0 {
		fmt.Fprintf(&s, ", cosigned by %s", strings.Join(l.Cosigners, ", "))
	}
	return s.String()
}
