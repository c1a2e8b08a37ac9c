// Package rules replays an acdledger log, entry by entry in log order, and
// reports what breaks the mechanical compliance rules of the ACD laws
// (specs/rules.md): approvals before acquisitions and measures, deadlines
// for stops, notices, deletions and responses, directions that match their
// channel, no 内内, no essential content, references that point backward,
// entries that are not back-dated.
//
// Rules read only an entry's header and its public body, never its sealed
// fields: an auditor without the commission's keys must reach the same
// verdict. The engine streams: it keeps a small record per authority (an
// approval, an agreement, an acquisition, a consultation, an order) and
// per open obligation (a deadline not yet met), not the entries themselves.
package rules

// Rule ids. They are stable: scripts, reports and auditors match on them.
const (
	AcquisitionAuthorised = "R1"
	AcquisitionStop       = "R2"
	MeasureAuthorised     = "R3"
	EmergencyNotice       = "R4"
	MeasureAbroad         = "R5"
	MeasureSDFOrder       = "R6"
	NoNaiNai              = "R7"
	DirectionChannel      = "R8"
	SelectionBalance      = "R9"
	EssentialContent      = "R10"
	RetentionDeadline     = "R11"
	ForeignProvision      = "R12"
	OversightResponse     = "R13"
	LogReferences         = "R14"
	RecordTime            = "R15"
)

// RuleInfo names one rule: its id (R1…), its short name and a one-line title,
// and the version of its check. Version changes whenever what the rule
// finds on some log changes, so that evidence and compliance statements can
// name the exact check they apply (issue: oversight evidence).
type RuleInfo struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Title   string `json:"title"`
	Version int    `json:"version"`
}

// Info returns the rule with this id or name, and whether there is one.
func Info(idOrName string) (RuleInfo, bool) {
	if r := lookup(idOrName); r != nil {
		return *r, true
	}
	return RuleInfo{}, false
}

var ruleTable = []RuleInfo{
	{AcquisitionAuthorised, "acquisition.authorised", "an acquisition starts under an approval decided before it, or a consent agreement, within its period and for its channel", 1},
	{AcquisitionStop, "acquisition.stopped-in-time", "an acquisition stops by the end of its approval (as extended) or agreement", 1},
	{MeasureAuthorised, "measure.authorised", "a measure has an approval decided before its start, or is an emergency measure", 1},
	{EmergencyNotice, "measure.emergency-notice", "an emergency measure is notified to the commission within the configured time", 1},
	{MeasureAbroad, "measure.abroad", "a measure abroad is a police measure of an allowed agency, after consulting the Minister for Foreign Affairs", 1},
	{MeasureSDFOrder, "measure.sdf-order", "an SDF protection measure follows a Prime Minister's order", 1},
	{NoNaiNai, "direction.nainai", "no entry names the direction NAINAI (内内)", 1},
	{DirectionChannel, "direction.channel", "directions match the channel: agreements incoming only, transit transit only, 32 incoming, 33 outgoing", 1},
	{SelectionBalance, "selection.balance", "a selection batch balances (n_in = n_selected + n_deleted, counts add up) and deletes the rest promptly", 1},
	{EssentialContent, "content.essential", "no ESSENTIAL_CONTENT is counted or provided", 1},
	{RetentionDeadline, "retention.deadline", "selected data is deleted by its retention deadline", 1},
	{ForeignProvision, "provision.foreign", "a provision to a foreign government is de-identified (and approved, if configured)", 1},
	{OversightResponse, "oversight.response", "every demand and recommendation gets a response by its due date", 1},
	{LogReferences, "log.refs", "refs name earlier entries only, body references are listed in refs, ids are not reused", 1},
	{RecordTime, "time.recorded", "occurred_at is not after the covering checkpoint was seen, nor further before it than the record lag", 1},
}

// Rules lists every rule, in id order.
func Rules() []RuleInfo { return append([]RuleInfo(nil), ruleTable...) }

// lookup finds a rule by id or name.
func lookup(idOrName string) *RuleInfo {
	for i := range ruleTable {
		if ruleTable[i].ID == idOrName || ruleTable[i].Name == idOrName {
			return &ruleTable[i]
		}
	}
	return nil
}

// Violation is one breach of a rule, charged to one entry of the log.
// Deadline rules (R2, R4, R11, R13) charge the entry that opened the
// obligation (the acquisition, the measure, the batch, the demand), whether
// the breach is found when a late closing entry arrives or when Finish
// finds the deadline passed with none.
type Violation struct {
	Rule    string `json:"rule"`  // rule id
	Index   uint64 `json:"index"` // leaf index of the entry the violation is charged to
	EntryID string `json:"entry_id"`
	Case    string `json:"case,omitempty"`
	Reason  string `json:"reason"`
}

// Name returns the rule's short name (e.g. "acquisition.authorised").
func (v Violation) Name() string {
	if r := lookup(v.Rule); r != nil {
		return r.Name
	}
	return ""
}
