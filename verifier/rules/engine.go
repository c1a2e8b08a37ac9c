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
	c := &checker{e: e, index: index, entry: entry}
	st := e.st
	if st.ids.has(entry.ID) {
		// A replayed entry: report it and do not count it twice.
		c.report(LogReferences, "id %s is already used by an earlier entry", entry.ID)
		return c.out
	}
	var b body
	json.Unmarshal(entry.Body, &b) // a body that does not decode leaves its fields empty: rules needing them do not apply
	var doc any
	dec := json.NewDecoder(bytes.NewReader(entry.Body))
	dec.UseNumber()
	dec.Decode(&doc)

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
		if o := st.Obligations[key(AcquisitionStop, b.Acquisition)]; o != nil {
			if at := tm(b.StoppedAt); !at.IsZero() && at.After(o.Due) {
				c.late(o, "stopped at %s (entry %s at index %d), after its authority ended at %s", ts(at), entry.ID, index, ts(o.Due))
			}
			delete(st.Obligations, key(AcquisitionStop, b.Acquisition))
		}
	case "selection.batch":
		c.batch(&b)
	case "retention.deleted":
		k := key(RetentionDeadline, entry.Agency+"/"+b.Dataset)
		if o := st.Obligations[k]; o != nil {
			if at := tm(b.DeletedAt); !at.IsZero() && at.After(o.Due) {
				c.late(o, "dataset %s deleted at %s (entry %s at index %d), after its retention deadline %s", b.Dataset, ts(at), entry.ID, index, ts(o.Due))
			}
			delete(st.Obligations, k)
		}
	case "provision":
		c.provision(&b)
	case "measure.executed":
		c.measure(&b)
	case "emergency.notice":
		if o := st.Obligations[key(EmergencyNotice, b.Measure)]; o != nil {
			if at := tm(b.NotifiedAt); !at.IsZero() && at.After(o.Due) {
				c.late(o, "emergency measure notified at %s (entry %s at index %d), later than %s after its start (due %s)", ts(at), entry.ID, index, e.cfg.EmergencyNoticeWithin.D(), ts(o.Due))
			}
			delete(st.Obligations, key(EmergencyNotice, b.Measure))
		}
	case "mofa.consulted":
		at := tm(b.ConsultedAt)
		st.Consults[entry.ID] = at
		if r := st.Requests[b.Request]; r != nil && !at.IsZero() && (r.Mofa.IsZero() || at.Before(r.Mofa)) {
			r.Mofa = at
		}
	case "pm.ordered":
		st.Orders[entry.ID] = tm(b.OrderedAt)
	case "demand", "recommendation":
		if due := tm(b.Due); !due.IsZero() {
			st.Obligations[key(OversightResponse, entry.ID)] = &obligation{Rule: OversightResponse, Index: index, EntryID: entry.ID, Case: entry.Case,
				Due: due, What: "response", Agency: b.TargetAgency}
		}
	case "response":
		k := key(OversightResponse, b.To)
		if o := st.Obligations[k]; o != nil && (o.Agency == "" || o.Agency == entry.Agency) {
			if at := tm(b.RespondedAt); !at.IsZero() && at.After(o.Due) {
				c.late(o, "responded at %s (entry %s at index %d), after the due date %s", ts(at), entry.ID, index, ts(o.Due))
			}
			delete(st.Obligations, k)
		}
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

// --- R14 log.refs and R15 time.recorded ---

func (c *checker) refs(doc any) {
	listed := map[string]bool{}
	for _, r := range c.entry.Refs {
		listed[r] = true
		switch {
		case r == c.entry.ID:
			c.report(LogReferences, "refs names the entry itself")
		case !c.e.st.ids.has(r):
			c.report(LogReferences, "ref %s is not an earlier entry of the log", r)
		}
	}
	m, _ := doc.(map[string]any)
	for _, f := range specs.RefFields[c.entry.Kind] {
		if v, ok := m[f].(string); ok && !listed[v] {
			c.report(LogReferences, "body.%s names %s, which refs does not list", f, v)
		}
	}
}

func (c *checker) recorded(cov Coverage) {
	occ := tm(c.entry.OccurredAt)
	if occ.IsZero() {
		return
	}
	if !cov.By.IsZero() && occ.After(cov.By.Add(c.e.cfg.ClockSkew.D())) {
		c.report(RecordTime, "occurred_at %s is after %s, when a checkpoint covering the entry was already seen", ts(occ), ts(cov.By))
	}
	if !cov.After.IsZero() && occ.Before(cov.After.Add(-c.e.cfg.MaxRecordLag.D())) {
		c.report(RecordTime, "occurred_at %s is more than %s before the entry was logged (it was not in the log at %s): back-dated", ts(occ), c.e.cfg.MaxRecordLag.D(), ts(cov.After))
	}
}

// --- R7 direction.nainai and R10 content.essential ---

func (c *checker) nainai(doc any) {
	e := c.entry
	header := [][2]string{{"id", e.ID}, {"kind", e.Kind}, {"agency", e.Agency}, {"occurred_at", e.OccurredAt}, {"case", e.Case},
		{"legal_basis.law", e.LegalBasis.Law}, {"legal_basis.article", e.LegalBasis.Article}, {"legal_basis.paragraph", e.LegalBasis.Paragraph}, {"legal_basis.item", e.LegalBasis.Item}}
	for i, r := range e.Refs {
		header = append(header, [2]string{fmt.Sprintf("refs[%d]", i), r})
	}
	for _, h := range header {
		if h[1] == "NAINAI" {
			c.report(NoNaiNai, "%s is NAINAI (domestic-to-domestic, 内内), which may never be acquired or recorded", h[0])
		}
	}
	walkStrings(doc, "body", func(path, s string) {
		if s == "NAINAI" {
			c.report(NoNaiNai, "%s is NAINAI (domestic-to-domestic, 内内), which may never be acquired or recorded", path)
		}
	})
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch v := v.(type) {
	case string:
		fn(path, v)
	case []any:
		for i, x := range v {
			walkStrings(x, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			walkStrings(v[k], path+"."+k, fn)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// walkEssential finds ESSENTIAL_CONTENT counted above zero or listed in a
// categories array, anywhere in the body (so kinds added later are covered).
// p is the path so far in the one notation every message uses, a.b[1]; key
// is the last object key on it (a categories array is known by its key).
func walkEssential(v any, p, key string, c *checker) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			if s, ok := x.(string); ok && s == "ESSENTIAL_CONTENT" && key == "categories" {
				c.report(EssentialContent, "%s[%d] provides ESSENTIAL_CONTENT, the essential content of communications", p, i)
			}
			walkEssential(x, fmt.Sprintf("%s[%d]", p, i), "", c)
		}
	case map[string]any:
		if v["category"] == "ESSENTIAL_CONTENT" {
			if n, ok := v["n"].(json.Number); ok {
				if f, err := n.Float64(); err == nil && f > 0 {
					c.report(EssentialContent, "%s counts %s ESSENTIAL_CONTENT; it must be 0", p, n)
				}
			}
		}
		for _, k := range sortedKeys(v) {
			walkEssential(v[k], p+"."+k, k, c)
		}
	}
}

// --- agreements and approvals: the authorities ---

// channelDirection is the one direction each channel may carry (acd-act
// 22(1)): agreement data incoming, transit sending transit, 32 incoming,
// 33 outgoing.
var channelDirection = map[string]string{
	"agreement":        "GAINAI",
	"transit_sending":  "GAIGAI",
	"incoming_sending": "GAINAI",
	"outgoing_sending": "NAIGAI",
}

func (c *checker) agreement(b *body) {
	if b.Direction != "GAINAI" {
		c.report(DirectionChannel, "a consent agreement covers incoming (GAINAI) traffic only, not %s", b.Direction)
	}
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
	measure := b.Measure
	if measure == "extension" {
		if d := st.Decisions[b.Extends]; d != nil {
			measure = d.Measure
		}
	}
	if want, ok := channelDirection[measure]; ok && b.Direction != "" && b.Direction != want {
		c.report(DirectionChannel, "a %s request must be for %s traffic, not %s", measure, want, b.Direction)
	}
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

// --- R1, R2, R8: acquisitions and selection ---

func (c *checker) acquisitionStarted(b *body) {
	st := c.e.st
	start := tm(b.StartedAt)
	if want, ok := channelDirection[b.Channel]; ok && b.Direction != want {
		c.report(DirectionChannel, "channel %s carries %s traffic only, not %s", b.Channel, want, b.Direction)
	}
	st.Acquisitions[c.entry.ID] = &acquisition{Direction: b.Direction}
	auth := ""
	if b.Channel == "agreement" {
		if b.Agreement == "" {
			c.report(AcquisitionAuthorised, "an agreement-channel acquisition must name its consent agreement")
			return
		}
		root, a := c.e.agreementOf(b.Agreement)
		switch {
		case a == nil:
			c.report(AcquisitionAuthorised, "names %s, which is not a consent agreement earlier in the log", b.Agreement)
			return
		case !a.Terminated.IsZero() && !start.Before(a.Terminated):
			c.report(AcquisitionAuthorised, "started at %s, after its agreement was terminated at %s", ts(start), ts(a.Terminated))
		case !start.IsZero() && (!a.From.IsZero() && start.Before(a.From) || !a.Until.IsZero() && start.After(a.Until)):
			c.report(AcquisitionAuthorised, "started at %s, outside the agreement's validity %s – %s", ts(start), ts(a.From), ts(a.Until))
		}
		auth = root
	} else {
		if b.Approval == "" {
			c.report(AcquisitionAuthorised, "a %s acquisition needs the commission's approval; it names none", b.Channel)
			return
		}
		d := c.approved(AcquisitionAuthorised, b.Approval, "acquisition", start, true)
		if d == nil {
			return
		}
		if d.Measure != "" && d.Measure != b.Channel {
			c.report(AcquisitionAuthorised, "approval %s is for %s, not %s", b.Approval, d.Measure, b.Channel)
		}
		auth = d.Root
	}
	if end := c.e.authorityEnd(auth); !end.IsZero() {
		st.Obligations[key(AcquisitionStop, c.entry.ID)] = &obligation{Rule: AcquisitionStop, Index: c.index, EntryID: c.entry.ID,
			Case: c.entry.Case, Due: end, What: "acquisition.stopped", Auth: auth}
	}
}

func (c *checker) batch(b *body) {
	st := c.e.st
	if b.NIn != nil && b.NSelected != nil && b.NDeleted != nil && *b.NIn != *b.NSelected+*b.NDeleted {
		c.report(SelectionBalance, "n_in %d ≠ n_selected %d + n_deleted %d", *b.NIn, *b.NSelected, *b.NDeleted)
	}
	var sum uint64
	for _, r := range b.Counts {
		sum += r.N
	}
	if b.NSelected != nil && len(b.Counts) > 0 && sum != *b.NSelected {
		c.report(SelectionBalance, "counts add up to %d, but n_selected is %d", sum, *b.NSelected)
	}
	wStart, wEnd, del := tm(b.WindowStart), tm(b.WindowEnd), tm(b.DeletedAt)
	if !wStart.IsZero() && wEnd.Before(wStart) {
		c.report(SelectionBalance, "window ends at %s, before it starts at %s", ts(wEnd), ts(wStart))
	}
	if within := c.e.cfg.SelectionDeleteWithin.D(); !del.IsZero() && !wEnd.IsZero() && del.Sub(wEnd) > within {
		c.report(SelectionBalance, "unselected data deleted at %s, %s after the window ended; the limit is %s", ts(del), span(wEnd, del), within)
	}
	if a := st.Acquisitions[b.Acquisition]; a != nil {
		for i, r := range b.Counts {
			if r.N > 0 && r.Direction != a.Direction {
				c.report(DirectionChannel, "counts[%d] selects %d %s records from an acquisition of %s traffic", i, r.N, r.Direction, a.Direction)
			}
		}
	}
	if b.NSelected != nil && *b.NSelected > 0 && b.Dataset != "" && !wEnd.IsZero() {
		k := key(RetentionDeadline, c.entry.Agency+"/"+b.Dataset)
		if st.Obligations[k] == nil {
			st.Obligations[k] = &obligation{Rule: RetentionDeadline, Index: c.index, EntryID: c.entry.ID, Case: c.entry.Case,
				Due: wEnd.Add(c.e.cfg.RetentionMax.D()), What: "retention.deleted of dataset " + b.Dataset}
		}
	}
}

// --- R12 provisions ---

func (c *checker) provision(b *body) {
	at := tm(b.ProvidedAt)
	if b.Approval != "" {
		c.approved(ForeignProvision, b.Approval, "provision", time.Time{}, false)
		if d := c.e.st.Decisions[b.Approval]; d != nil && d.Approved && !at.IsZero() && d.DecidedAt.After(at) {
			c.report(ForeignProvision, "provided at %s, before its approval %s was decided at %s", ts(at), b.Approval, ts(d.DecidedAt))
		}
	}
	if b.RecipientClass != "foreign_government" {
		return
	}
	if b.Deidentified == nil || !*b.Deidentified {
		c.report(ForeignProvision, "provision to a foreign government is not de-identified")
	}
	if c.e.cfg.ForeignProvisionNeedsApproval && b.Approval == "" {
		c.report(ForeignProvision, "provision to a foreign government names no approval (foreign_provision_needs_approval is set)")
	}
}

// --- R3–R6 measures ---

func (c *checker) measure(b *body) {
	st := c.e.st
	start := tm(b.StartedAt)
	var d *decision
	switch {
	case b.Approval != "":
		if d = c.approved(MeasureAuthorised, b.Approval, "measure", start, true); d != nil && d.Measure != "" && d.Measure != b.Measure {
			c.report(MeasureAuthorised, "approval %s is for %s, not %s", b.Approval, d.Measure, b.Measure)
		}
	case b.Emergency:
	default:
		c.report(MeasureAuthorised, "the measure names no approval and is not marked emergency")
	}
	if b.Emergency && !start.IsZero() {
		st.Obligations[key(EmergencyNotice, c.entry.ID)] = &obligation{Rule: EmergencyNotice, Index: c.index, EntryID: c.entry.ID,
			Case: c.entry.Case, Due: start.Add(c.e.cfg.EmergencyNoticeWithin.D()), What: "emergency.notice"}
	}
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
	if b.Measure == "police_measure_abroad" || b.TargetLocation == "foreign" {
		switch {
		case b.Measure != "police_measure_abroad":
			c.report(MeasureAbroad, "a measure against a foreign target must be a police_measure_abroad, not %s", b.Measure)
		case b.TargetLocation != "foreign":
			c.report(MeasureAbroad, "a police_measure_abroad must have a foreign target, not %s", b.TargetLocation)
		}
		if b.Executor != "police" {
			c.report(MeasureAbroad, "a measure abroad is executed by the police only, not %s", b.Executor)
		}
		if !c.e.abroad[c.entry.Agency] {
			c.report(MeasureAbroad, "agency %s may not execute measures abroad (abroad_agencies: %s)", c.entry.Agency, strings.Join(c.e.cfg.AbroadAgencies, ", "))
		}
		mofa := linked(st.Consults, func(r *request) time.Time { return r.Mofa })
		switch {
		case mofa.IsZero():
			c.report(MeasureAbroad, "no mofa.consulted is linked to the measure (in its refs or its approval's request)")
		case !start.IsZero() && mofa.After(start):
			c.report(MeasureAbroad, "the Minister for Foreign Affairs was consulted at %s, after the measure started at %s", ts(mofa), ts(start))
		}
	}
	if b.Measure == "sdf_protection" {
		if b.Executor != "sdf" {
			c.report(MeasureSDFOrder, "an sdf_protection measure is executed by the SDF, not %s", b.Executor)
		}
		pm := linked(st.Orders, func(r *request) time.Time { return r.PM })
		switch {
		case pm.IsZero():
			c.report(MeasureSDFOrder, "no pm.ordered is linked to the measure (in its refs or its approval's request)")
		case !start.IsZero() && pm.After(start):
			c.report(MeasureSDFOrder, "the Prime Minister's order came at %s, after the measure started at %s", ts(pm), ts(start))
		}
	}
}

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
