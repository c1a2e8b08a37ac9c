package rules

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acdledger/acdledger/specs"
)

// Coverage is what is known of when an entry entered the log, for R15
// (time.recorded). Either bound may be zero: unknown.
type Coverage struct {
	// By: a checkpoint covering the entry had been seen at this time, so the
	// entry was logged by then. An audit of a whole log knows only a loose
	// bound (its newest witness cosignature, or the time of the audit); a
	// watcher knows when it first saw the checkpoint covering the entry.
	By time.Time
	// After: a checkpoint that did not yet cover the entry had been seen at
	// this time, so the entry was logged after it. Only a watcher that saw
	// the previous checkpoint knows this; without it, back-dating cannot be
	// told apart from an old entry, and is not checked.
	After time.Time
	// ByNote and AfterNote, if set, say where the bounds come from (e.g.
	// the archived checkpoint whose witness time it is), for the
	// violation's reason.
	ByNote, AfterNote string
}

// Engine runs the rules over a log's entries in log order. It is not safe
// for concurrent use.
type Engine struct {
	cfg      Config
	disabled map[string]bool
	abroad   map[string]bool
	st       *state
}

// New returns an engine for an empty log.
func New(cfg Config) *Engine {
	return newEngine(cfg, newState())
}

func newEngine(cfg Config, st *state) *Engine {
	e := &Engine{cfg: cfg, disabled: map[string]bool{}, abroad: map[string]bool{}, st: st}
	for _, r := range cfg.Disabled {
		if info := lookup(r); info != nil {
			e.disabled[info.ID] = true
		}
	}
	for _, a := range cfg.AbroadAgencies {
		e.abroad[a] = true
	}
	return e
}

// state is everything the engine remembers between entries. Records are
// kept for entries that later entries depend on under the rules (requests,
// decisions, agreements, acquisitions, consultations, orders); obligations
// for deadlines not yet met, dropped when the closing entry arrives.
type state struct {
	Requests     map[string]*request     `json:"requests"`
	Decisions    map[string]*decision    `json:"decisions"`
	Agreements   map[string]*agreement   `json:"agreements"`   // by the concluded entry's id
	AgreementOf  map[string]string       `json:"agreement_of"` // amended entry id → concluded entry id
	Acquisitions map[string]*acquisition `json:"acquisitions"`
	Consults     map[string]time.Time    `json:"consultations"` // mofa.consulted id → consulted_at
	Orders       map[string]time.Time    `json:"orders"`        // pm.ordered id → ordered_at
	Obligations  map[string]*obligation  `json:"obligations"`
	ids          idSet
}

func newState() *state {
	return &state{
		Requests: map[string]*request{}, Decisions: map[string]*decision{}, Agreements: map[string]*agreement{},
		AgreementOf: map[string]string{}, Acquisitions: map[string]*acquisition{}, Consults: map[string]time.Time{},
		Orders: map[string]time.Time{}, Obligations: map[string]*obligation{}, ids: idSet{},
	}
}

type request struct {
	Measure   string    `json:"measure"`
	Direction string    `json:"direction,omitempty"`
	Extends   string    `json:"extends,omitempty"`
	Mofa      time.Time `json:"mofa,omitzero"` // earliest linked mofa.consulted
	PM        time.Time `json:"pm,omitzero"`   // earliest linked pm.ordered
}

type decision struct {
	Request   string    `json:"request"`
	Approved  bool      `json:"approved"`
	Decision  string    `json:"decision"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	From      time.Time `json:"from,omitzero"`
	Until     time.Time `json:"until,omitzero"`
	Measure   string    `json:"measure"` // the measure approved, through extensions
	Root      string    `json:"root"`    // the first approval of an extension chain (itself if none)
	EffUntil  time.Time `json:"eff_until,omitzero"`
}

type agreement struct {
	From       time.Time `json:"from,omitzero"`
	Until      time.Time `json:"until,omitzero"`
	Terminated time.Time `json:"terminated,omitzero"`
}

func (a *agreement) end() time.Time {
	if !a.Terminated.IsZero() && (a.Until.IsZero() || a.Terminated.Before(a.Until)) {
		return a.Terminated
	}
	return a.Until
}

type acquisition struct {
	Direction string `json:"direction"`
}

// obligation is a deadline opened by one entry, waiting for its closing
// entry. Reported is set once its breach has been reported, so it never is
// again.
type obligation struct {
	Rule     string    `json:"rule"`
	Index    uint64    `json:"index"`
	EntryID  string    `json:"entry_id"`
	Case     string    `json:"case,omitempty"`
	Due      time.Time `json:"due,omitzero"`
	What     string    `json:"what"`
	Auth     string    `json:"auth,omitempty"`   // R2: the authority whose end is Due
	Agency   string    `json:"agency,omitempty"` // R13: who must respond
	Reported bool      `json:"reported,omitempty"`
}

// body holds every public body field any rule reads. The key "measure" is
// a reference in emergency.notice and a measure kind elsewhere.
type body struct {
	Agreement      string  `json:"agreement"`
	Extends        string  `json:"extends"`
	Request        string  `json:"request"`
	Approval       string  `json:"approval"`
	Acquisition    string  `json:"acquisition"`
	Source         string  `json:"source"`
	Measure        string  `json:"measure"`
	To             string  `json:"to"`
	Direction      string  `json:"direction"`
	Channel        string  `json:"channel"`
	Decision       string  `json:"decision"`
	Dataset        string  `json:"dataset"`
	RecipientClass string  `json:"recipient_class"`
	Executor       string  `json:"executor"`
	TargetLocation string  `json:"target_location"`
	TargetAgency   string  `json:"target_agency"`
	ValidFrom      string  `json:"valid_from"`
	ValidUntil     string  `json:"valid_until"`
	TerminatedAt   string  `json:"terminated_at"`
	ApprovedFrom   string  `json:"approved_from"`
	ApprovedUntil  string  `json:"approved_until"`
	DecidedAt      string  `json:"decided_at"`
	StartedAt      string  `json:"started_at"`
	StoppedAt      string  `json:"stopped_at"`
	WindowStart    string  `json:"window_start"`
	WindowEnd      string  `json:"window_end"`
	DeletedAt      string  `json:"deleted_at"`
	ProvidedAt     string  `json:"provided_at"`
	NotifiedAt     string  `json:"notified_at"`
	ConsultedAt    string  `json:"consulted_at"`
	OrderedAt      string  `json:"ordered_at"`
	Due            string  `json:"due"`
	RespondedAt    string  `json:"responded_at"`
	NIn            *uint64 `json:"n_in"`
	NSelected      *uint64 `json:"n_selected"`
	NDeleted       *uint64 `json:"n_deleted"`
	Counts         []count `json:"counts"`
	Deidentified   *bool   `json:"deidentified"`
	Emergency      bool    `json:"emergency"`
}

type count struct {
	Direction string `json:"direction"`
	Category  string `json:"category"`
	N         uint64 `json:"n"`
}

// tm parses an RFC 3339 time; zero if absent or malformed (the schema has
// checked entries from a log; a rule needing a zero time does not apply).
func tm(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func ts(t time.Time) string { return t.Format(time.RFC3339) }

// span says how long it is from a to b. time.Time.Sub saturates at about
// 292 years (2562047h47m16.854775807s) and an entry may carry any date of
// years 1 to 9999, so a long span is counted in days from the Unix seconds.
func span(a, b time.Time) string {
	secs := b.Unix() - a.Unix()
	if secs < 0 {
		return "-" + span(b, a)
	}
	if secs < 2*86400 {
		return b.Sub(a).String()
	}
	days, rest := secs/86400, time.Duration(secs%86400)*time.Second
	if rest == 0 {
		return fmt.Sprintf("%d days", days)
	}
	return fmt.Sprintf("%d days %s", days, rest)
}

// Add runs the rules on the entry at index, which must follow the entries
// given before it in log order. R15 (time.recorded) needs to know when the
// entry was logged: use AddCovered when that is known.
func (e *Engine) Add(index uint64, entry *specs.Entry) []Violation {
	return e.AddCovered(index, entry, Coverage{})
}

// checker collects the violations of one Add.
type checker struct {
	e     *Engine
	index uint64
	entry *specs.Entry
	out   []Violation
}

func (c *checker) report(rule, format string, args ...any) {
	if c.e.disabled[rule] {
		return
	}
	c.out = append(c.out, Violation{Rule: rule, Index: c.index, EntryID: c.entry.ID, Case: c.entry.Case, Reason: fmt.Sprintf(format, args...)})
}

// late reports an obligation's breach, once, charged to the entry that
// opened it.
func (c *checker) late(o *obligation, format string, args ...any) {
	if o.Reported || c.e.disabled[o.Rule] {
		return
	}
	o.Reported = true
	c.out = append(c.out, Violation{Rule: o.Rule, Index: o.Index, EntryID: o.EntryID, Case: o.Case, Reason: fmt.Sprintf(format, args...)})
}

// AddCovered is Add with what is known of when the entry was logged.
func (e *Engine) AddCovered(index uint64, entry *specs.Entry, cov Coverage) []Violation {
	return e.AddDecoded(index, entry, Decode(entry), cov)
}

// Decoded is what the rules read of an entry's body, decoded ahead of
// AddDecoded. Decoding needs no engine state, so an audit decodes on its
// workers, beside the signature checks, and only the rules themselves run
// in log order (issue 12: the serial tail).
type Decoded struct {
	b   body
	doc any
}

// Decode decodes the entry's body for AddDecoded. The generic document is
// the one admission read (Entry.BodyDoc) where there is one, not a second
// decoding of the same bytes.
func Decode(entry *specs.Entry) *Decoded {
	d := &Decoded{}
	json.Unmarshal(entry.Body, &d.b) // a body that does not decode leaves its fields empty: rules needing them do not apply
	if doc, ok := entry.BodyDoc(); ok {
		d.doc = doc
		return d
	}
	dec := json.NewDecoder(bytes.NewReader(entry.Body))
	dec.UseNumber()
	dec.Decode(&d.doc)
	return d
}

// AddDecoded is AddCovered with the body decoded by Decode(entry).
func (e *Engine) AddDecoded(index uint64, entry *specs.Entry, d *Decoded, cov Coverage) []Violation {
	c := &checker{e: e, index: index, entry: entry}
	st := e.st
	if c.reusedID() {
		return c.out
	}
	b, doc := d.b, d.doc

	c.refs(doc)
	c.recorded(cov)
	c.nainai(doc)
	walkEssential(doc, "body", "", c)
	switch entry.Kind {
	case "agreement.concluded", "agreement.amended":
		c.agreement(&b)
	case "agreement.terminated":
		if root, a := e.agreementOf(b.Agreement); a != nil {
			a.Terminated = tm(b.TerminatedAt)
			e.moveDeadlines(root)
		}
	case "approval.requested":
		c.request(&b)
	case "approval.decided":
		c.decision(&b)
	case "acquisition.started":
		c.acquisitionStarted(&b)
	case "acquisition.stopped":
		c.acquisitionStopped(&b)
	case "selection.batch":
		// R9, then R8, then R11: the order their violations come in.
		c.selectionBalance(&b)
		c.batchDirections(&b)
		c.openRetention(&b)
	case "retention.deleted":
		c.retentionDeleted(&b)
	case "provision":
		c.provision(&b)
	case "measure.executed":
		c.measure(&b)
	case "emergency.notice":
		c.emergencyNotified(&b)
	case "mofa.consulted":
		at := tm(b.ConsultedAt)
		st.Consults[entry.ID] = at
		if r := st.Requests[b.Request]; r != nil && !at.IsZero() && (r.Mofa.IsZero() || at.Before(r.Mofa)) {
			r.Mofa = at
		}
	case "pm.ordered":
		st.Orders[entry.ID] = tm(b.OrderedAt)
	case "demand", "recommendation":
		c.openResponse(&b)
	case "response":
		c.responded(&b)
	}
	st.ids.add(entry.ID)
	return c.out
}

func key(rule, id string) string { return rule + " " + id }

// Finish reports the deadlines that had passed by asOf with no closing
// entry in the log: acquisitions not stopped by the end of their authority,
// emergency measures not notified, datasets not deleted, demands and
// recommendations not answered. A deadline counts as passed once it is
// max_record_lag behind asOf, since the closing entry may be recorded that
// late. Each breach is reported once: not by a later Finish, nor when the
// late closing entry arrives. Finish keeps the obligations open, so it may
// be called after every checkpoint.
func (e *Engine) Finish(asOf time.Time) []Violation {
	var out []Violation
	for _, o := range e.st.Obligations {
		if o.Reported || o.Due.IsZero() || !asOf.After(o.Due.Add(e.cfg.MaxRecordLag.D())) || e.disabled[o.Rule] {
			continue
		}
		o.Reported = true
		out = append(out, Violation{Rule: o.Rule, Index: o.Index, EntryID: o.EntryID, Case: o.Case,
			Reason: fmt.Sprintf("no %s by %s (none in the log as of %s)", o.What, ts(o.Due), ts(asOf))})
	}
	SortViolations(out)
	return out
}

// NextDeadline is when Finish can next report a breach: Finish(asOf)
// reports nothing unless asOf is after it. It is the earliest due time plus
// max_record_lag of the obligations not yet reported, of rules not
// disabled; zero when there is none. A watcher with nothing new to read
// keeps it in its small state file, so it loads the engine only once a
// deadline can have passed.
func (e *Engine) NextDeadline() time.Time {
	var next time.Time
	for _, o := range e.st.Obligations {
		if o.Reported || o.Due.IsZero() || e.disabled[o.Rule] {
			continue
		}
		if at := o.Due.Add(e.cfg.MaxRecordLag.D()); next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}

// SortViolations orders violations by index, then rule number.
func SortViolations(vs []Violation) {
	slices.SortStableFunc(vs, func(a, b Violation) int {
		if c := cmp.Compare(a.Index, b.Index); c != 0 {
			return c
		}
		return cmp.Compare(ruleNumber(a.Rule), ruleNumber(b.Rule))
	})
}

func ruleNumber(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "R"))
	return n
}

// OpenObligations is how many deadlines are waiting for their closing entry.
func (e *Engine) OpenObligations() int { return len(e.st.Obligations) }

// --- agreements and approvals: the authorities ---

func (c *checker) agreement(b *body) {
	c.agreementDirection(b)
	st := c.e.st
	terms := agreement{From: tm(b.ValidFrom), Until: tm(b.ValidUntil)}
	if c.entry.Kind == "agreement.concluded" {
		st.Agreements[c.entry.ID] = &terms
		return
	}
	root, a := c.e.agreementOf(b.Agreement)
	if a == nil {
		return
	}
	a.From, a.Until = terms.From, terms.Until
	st.AgreementOf[c.entry.ID] = root
	c.e.moveDeadlines(root)
}

// agreementOf resolves a concluded or amended agreement entry id.
func (e *Engine) agreementOf(id string) (string, *agreement) {
	if root, ok := e.st.AgreementOf[id]; ok {
		id = root
	}
	return id, e.st.Agreements[id]
}

func (c *checker) request(b *body) {
	st := c.e.st
	r := &request{Measure: b.Measure, Direction: b.Direction, Extends: b.Extends}
	for _, ref := range c.entry.Refs {
		if at, ok := st.Consults[ref]; ok && !at.IsZero() && (r.Mofa.IsZero() || at.Before(r.Mofa)) {
			r.Mofa = at
		}
		if at, ok := st.Orders[ref]; ok && !at.IsZero() && (r.PM.IsZero() || at.Before(r.PM)) {
			r.PM = at
		}
	}
	c.requestDirection(b)
	st.Requests[c.entry.ID] = r
}

func (c *checker) decision(b *body) {
	st := c.e.st
	d := &decision{Request: b.Request, Decision: b.Decision, Approved: b.Decision == "approved" || b.Decision == "conditional",
		DecidedAt: tm(b.DecidedAt), From: tm(b.ApprovedFrom), Until: tm(b.ApprovedUntil), Root: c.entry.ID}
	if r := st.Requests[b.Request]; r != nil {
		d.Measure = r.Measure
		if r.Measure == "extension" {
			if ext := st.Decisions[r.Extends]; ext != nil {
				d.Root, d.Measure = ext.Root, ext.Measure
			}
		}
	}
	st.Decisions[c.entry.ID] = d
	if !d.Approved {
		return
	}
	root := st.Decisions[d.Root]
	if root == d {
		d.EffUntil = d.Until
		return
	}
	if root.Approved && d.Until.After(root.EffUntil) {
		root.EffUntil = d.Until
		c.e.moveDeadlines(d.Root)
	}
}

// authorityEnd is when the authority (a root approval or a concluded
// agreement) ends: approved_until as extended, or the agreement's validity
// or termination.
func (e *Engine) authorityEnd(auth string) time.Time {
	if d := e.st.Decisions[auth]; d != nil {
		return d.EffUntil
	}
	if a := e.st.Agreements[auth]; a != nil {
		return a.end()
	}
	return time.Time{}
}

// moveDeadlines updates the stop deadlines of acquisitions under an
// authority whose end changed (an extension, an amendment, a termination).
func (e *Engine) moveDeadlines(auth string) {
	end := e.authorityEnd(auth)
	for _, o := range e.st.Obligations {
		if o.Rule == AcquisitionStop && o.Auth == auth {
			o.Due = end
		}
	}
}

// approved checks that id names an approval decision that approved, was
// decided by at, and (when at is within a period) whose period covers at.
// It returns the decision, or nil after reporting why not.
func (c *checker) approved(rule, id, what string, at time.Time, inPeriod bool) *decision {
	d := c.e.st.Decisions[id]
	switch {
	case d == nil:
		c.report(rule, "%s names %s, which is not an approval.decided earlier in the log", what, id)
		return nil
	case !d.Approved:
		c.report(rule, "%s names approval decision %s, which is %s", what, id, d.Decision)
		return nil
	}
	if at.IsZero() {
		return d
	}
	if !d.DecidedAt.IsZero() && d.DecidedAt.After(at) {
		c.report(rule, "started at %s, before its approval %s was decided at %s", ts(at), id, ts(d.DecidedAt))
	}
	if inPeriod && (!d.From.IsZero() && at.Before(d.From) || !d.Until.IsZero() && at.After(d.Until)) {
		c.report(rule, "started at %s, outside the approved period %s – %s of %s", ts(at), ts(d.From), ts(d.Until), id)
	}
	return d
}

// --- acquisitions and measures: R1, R2, R8 and R3–R6 in their files ---

func (c *checker) acquisitionStarted(b *body) {
	start := tm(b.StartedAt)
	c.acquisitionDirection(b)
	c.e.st.Acquisitions[c.entry.ID] = &acquisition{Direction: b.Direction}
	if auth, ok := c.acquisitionAuthorised(b, start); ok {
		c.openStop(auth)
	}
}

func (c *checker) measure(b *body) {
	st := c.e.st
	start := tm(b.StartedAt)
	d := c.measureAuthorised(b, start)
	c.openNotice(b, start)
	var req *request
	if d != nil {
		req = st.Requests[d.Request]
	}
	// The earliest consultation or order linked to the measure: named in its
	// refs, or in its approval's request.
	linked := func(times map[string]time.Time, fromReq func(*request) time.Time) time.Time {
		var first time.Time
		consider := func(t time.Time) {
			if !t.IsZero() && (first.IsZero() || t.Before(first)) {
				first = t
			}
		}
		for _, r := range c.entry.Refs {
			if t, ok := times[r]; ok {
				consider(t)
			}
		}
		if req != nil {
			consider(fromReq(req))
		}
		return first
	}
	c.measureAbroad(b, start, linked)
	c.measureSDFOrder(b, start, linked)
}

// linkFunc finds the earliest consultation or order linked to a measure.
type linkFunc func(times map[string]time.Time, fromReq func(*request) time.Time) time.Time

// --- the id set for R14 ---

// idSet remembers every entry id seen as the first 8 bytes of its SHA-256:
// 8 bytes an entry rather than the id itself. Two ids would collide with a
// probability of about n²/2⁶⁵ (3·10⁻⁶ for n = 10⁷ entries); a collision
// could hide a forward reference or flag a new id as reused.
type idSet map[uint64]struct{}

func idKey(id string) uint64 {
	h := sha256.Sum256([]byte(id))
	return binary.BigEndian.Uint64(h[:8])
}

func (s idSet) has(id string) bool { _, ok := s[idKey(id)]; return ok }
func (s idSet) add(id string)      { s[idKey(id)] = struct{}{} }
