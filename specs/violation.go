package specs

import "fmt"

// Rule identifiers, as used in errors, in specs/admission.md and in the test
// vectors. They are stable: scripts and auditors match on them.
const (
	RuleSize     = "envelope.size"
	RuleEnvelope = "envelope.format"
	// RuleEnvelopeCanonical is checked of leaves only: a ledger stores the
	// canonical re-encoding of what was submitted, so a leaf that is not
	// canonical was written around the ledger.
	RuleEnvelopeCanonical = "envelope.canonical"
	RulePayloadJSON       = "payload.json"
	RulePayloadCanonical  = "payload.canonical"
	RuleSchema            = "schema"
	RuleAgencyUnknown     = "agency.unknown"
	RuleKeyUnknown        = "key.unknown"
	RuleSignature         = "signature.invalid"
	RuleKindNotAllowed    = "kind.not-allowed"
	RuleSeq               = "seq.order"
	RuleNaiNai            = "direction.nainai"
	RuleEssentialContent  = "content.essential"
	RuleDuplicateID       = "id.duplicate"
	RuleRefUnknown        = "refs.unknown"
	RuleRefMissing        = "refs.body-not-listed"
	RuleRefKind           = "refs.kind"
	// RuleRegistry is a registry entry (specs/registry.md) that cannot be
	// applied: a genesis anywhere but index 0, a change naming an agency,
	// key or member that is not there, a second agency of one id…
	RuleRegistry         = "registry.change"
	RuleSealedPlaintext  = "sealed.plaintext"
	RuleSealedInPublic   = "sealed.public"
	RuleSealedField      = "sealed.field"
	RuleSealedRecipients = "sealed.recipients"
	RuleSealedBox        = "sealed.box"
	// RuleSealedCommitment is not an admission rule (the ledger cannot open
	// a box): it is what opening an entry finds when the agency sealed
	// values other than those it committed to.
	RuleSealedCommitment = "sealed.commitment"
)

// Violation is why an entry is not admitted: which entry, which field, which
// rule. Its Error() is the one line the CLI prints.
type Violation struct {
	EntryID string `json:"entry_id"`
	Field   string `json:"field"`
	Rule    string `json:"rule"`
	Message string `json:"message"`
}

func (v *Violation) Error() string {
	id := v.EntryID
	if id == "" {
		id = "(unknown id)"
	}
	if v.Field == "" {
		return fmt.Sprintf("entry %s: rule %s: %s", id, v.Rule, v.Message)
	}
	return fmt.Sprintf("entry %s: field %s: rule %s: %s", id, v.Field, v.Rule, v.Message)
}

func violation(id, field, rule, format string, args ...any) *Violation {
	return &Violation{EntryID: id, Field: field, Rule: rule, Message: fmt.Sprintf(format, args...)}
}
