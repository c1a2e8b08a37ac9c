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

// Rule is one rule as an evidence package or a compliance statement cites
// it: its id, name and version, and the text of specs/rules.md it
// implements (the cells of its row; a test keeps them equal). Each rule is
// in its own file, rule_rNN_name.go, with the checks that report it.
type Rule struct {
	RuleInfo
	Charged string `json:"charged"` // "the entry charged…"
	When    string `json:"when"`    // "is a violation when…"
	Reads   string `json:"reads"`   // the fields it reads
}

// Definition returns the rule with this id or name, with its spec text.
func Definition(idOrName string) (Rule, bool) {
	for _, r := range definitions {
		if r.ID == idOrName || r.Name == idOrName {
			return r, true
		}
	}
	return Rule{}, false
}

// Definitions lists every rule with its spec text, in id order.
func Definitions() []Rule { return append([]Rule(nil), definitions...) }

var definitions = []Rule{ruleR1, ruleR2, ruleR3, ruleR4, ruleR5, ruleR6, ruleR7, ruleR8, ruleR9, ruleR10, ruleR11, ruleR12, ruleR13, ruleR14, ruleR15}

var ruleTable = func() []RuleInfo {
	out := make([]RuleInfo, len(definitions))
	for i, r := range definitions {
		out[i] = r.RuleInfo
	}
	return out
}()

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
