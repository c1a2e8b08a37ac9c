package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acdledger/acdledger/specs/shape"
)

// LegalBasis names the provision an entry is made under.
type LegalBasis struct {
	Law       string `json:"law"`
	Article   string `json:"article"`
	Paragraph string `json:"paragraph,omitempty"`
	Item      string `json:"item,omitempty"`
}

// Entry is the payload of an agency's envelope: the common header, the
// kind-specific public body and the sealed (operationally secret) fields.
type Entry struct {
	ID         string          `json:"id"`
	Kind       string          `json:"kind"`
	Schema     int             `json:"schema"`
	Agency     string          `json:"agency"`
	Seq        uint64          `json:"seq"`
	OccurredAt string          `json:"occurred_at"`
	Case       string          `json:"case"`
	LegalBasis LegalBasis      `json:"legal_basis"`
	Refs       []string        `json:"refs"`
	Body       json.RawMessage `json:"body"`
	Sealed     json.RawMessage `json:"sealed,omitempty"`

	// doc is the generic decoding the schema was checked against; the
	// content rules walk it so that they see every field, known or not.
	doc any
}

// Occurred returns occurred_at as a time; the schema has already checked it
// is RFC 3339.
func (e *Entry) Occurred() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, e.OccurredAt)
	return t
}

// The schemas are compiled on first use, both documents at once (the entry
// schema refers to the registry schema), by specs/shape: nothing is
// compiled at package init, so a command that never checks an entry
// (keygen, --help) pays nothing, and `verify receipt` pays for one
// compilation of about a millisecond (BENCHMARKS.md, "verify receipt").
// specs/shape refuses any keyword it does not implement, so the schemas
// stay the one definition of an entry: they cannot say more than is checked.
var (
	schemaSet          = sync.OnceValue(compileSchemas)
	entrySchema        = lazySchema("entry.schema.json")
	registrySchema     = lazySchema("registry.schema.json")
	sealedValuesSchema = lazySchema("entry.schema.json#/$defs/sealed_values")
)

// schemaFiles are the embedded schema documents, compiled as one set.
var schemaFiles = []string{"entry.schema.json", "registry.schema.json"}

func compileSchemas() *shape.Set {
	var docs [][]byte
	for _, f := range schemaFiles {
		raw, err := Files.ReadFile(f)
		if err != nil {
			panic(err)
		}
		docs = append(docs, raw)
	}
	set, err := shape.Compile(docs, schemaOptions)
	if err != nil {
		panic("specs: " + err.Error())
	}
	return set
}

// schemaOptions: the one format the schemas use, and acdledger's own
// annotation (x-refers-to, read by RefTargets), which carries no
// validation.
var schemaOptions = shape.Options{
	Formats:     map[string]func(string) error{"date-time": checkTime},
	Annotations: []string{"x-refers-to"},
}

func lazySchema(name string) func() *shape.Schema {
	return sync.OnceValue(func() *shape.Schema {
		s, err := schemaSet().Schema(schemaBase + name)
		if err != nil {
			panic("specs: " + err.Error())
		}
		return s
	})
}

// schemaBase is the $id prefix of the embedded schemas.
const schemaBase = "https://github.com/acdledger/acdledger/specs/"

// timeLiteral is the one spelling of a time: RFC 3339 with an upper-case
// T, seconds, at most nine fraction digits and an explicit offset (Z or
// ±hh:mm). JSON Schema's date-time also takes a lower-case t or z and leap
// seconds, which Go's time package (and so the rules and the report)
// would read differently or not at all.
//
// It is the regular expression timeLiteralPattern, checked byte by byte:
// every entry has a few times, and the regexp machine was most of their
// check in an audit (TestTimeLiteralMatchesPattern holds the two equal).
const timeLiteralPattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$`

func isTimeLiteral(s string) bool {
	// digits reports that s[i:j] are all ASCII digits.
	digits := func(i, j int) bool {
		for ; i < j; i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return true
	}
	// 2006-01-02T15:04:05, then the fraction and the offset.
	const head = len("2006-01-02T15:04:05")
	if len(s) < head+1 || !digits(0, 4) || s[4] != '-' || !digits(5, 7) || s[7] != '-' || !digits(8, 10) ||
		s[10] != 'T' || !digits(11, 13) || s[13] != ':' || !digits(14, 16) || s[16] != ':' || !digits(17, 19) {
		return false
	}
	rest := s[head:]
	if rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		if n == 1 || n > 10 {
			return false
		}
		rest = rest[n:]
	}
	if rest == "Z" {
		return true
	}
	return len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':' &&
		rest[1] >= '0' && rest[1] <= '9' && rest[2] >= '0' && rest[2] <= '9' && rest[4] >= '0' && rest[4] <= '9' && rest[5] >= '0' && rest[5] <= '9'
}

// checkTime is the schemas' format date-time.
func checkTime(s string) error {
	if !isTimeLiteral(s) {
		return errors.New("not an RFC 3339 time of the form 2026-06-01T10:00:00+09:00 (upper-case T, seconds, offset Z or ±hh:mm)")
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
		return errors.New("not a valid time (no leap seconds, hours ≤ 23, a real date)")
	}
	return nil
}

// ParseEntry reads an entry payload (specs/strict.md): strictly (rule
// payload.json: no duplicate names, integers only, UTF-8, no byte-order
// mark), at the current schema version, in its canonical RFC 8785 form
// (rule payload.canonical), then checks it against
// specs/entry.schema.json (rule schema, naming the first offending field).
// The entry's fields are taken from that one reading: nothing decodes the
// payload a second time.
func ParseEntry(payload []byte) (*Entry, error) {
	sd, err := readStrictDoc(payload)
	if err != nil {
		se := err.(*StrictError)
		return nil, violation(peekID(payload), orEntry(se.Field), RulePayloadJSON, "%s", se.Reason)
	}
	doc := sd.value
	m, _ := doc.(map[string]any)
	id, _ := m["id"].(string)
	if v, ok := m["schema"].(json.Number); ok && v != json.Number(strconv.Itoa(EntrySchemaVersion)) {
		return nil, violation(id, "schema", RuleSchema, "entry schema %s is not admitted; this log takes schema %d (specs/entries.md, \"Versions\"): sign the entry again with acdledger sign", v, EntrySchemaVersion)
	}
	// The reader checked canonical form while reading; only a payload it
	// found otherwise is canonicalised, to say where it differs (and the
	// library's canonicalisation decides).
	if !sd.canonical {
		if d, err := canonicalDiff(payload); err != nil || d != "" {
			if err != nil {
				d = err.Error()
			}
			return nil, violation(id, "(entry)", RulePayloadCanonical, "the payload is not in canonical form (RFC 8785, as acdledger sign writes it): %s", d)
		}
	}
	if err := checkSealedShape(id, doc); err != nil {
		return nil, err
	}
	if err := entrySchema().Validate(doc); err != nil {
		return nil, schemaViolation(id, err)
	}
	return entryFromDoc(m, payload, sd), nil
}

// CanonicalEntry is how an agency's tools prepare a draft payload for
// signing: read strictly, then written in canonical form. A draft the
// strict reader refuses is a *Violation with rule payload.json, so the
// agency hears of a duplicate name or a 10.0 before anything is signed.
func CanonicalEntry(draft []byte) ([]byte, error) {
	out, err := Canonical(draft)
	if err != nil {
		if se, ok := err.(*StrictError); ok {
			return nil, violation(peekID(draft), orEntry(se.Field), RulePayloadJSON, "%s", se.Reason)
		}
		return nil, err
	}
	return out, nil
}

// entryFromDoc fills an Entry from a payload the schema has accepted, so
// every type assertion holds. Body and Sealed are the members' bytes in
// the canonical payload.
func entryFromDoc(m map[string]any, payload []byte, sd *strictDoc) *Entry {
	num := func(v any) uint64 { n, _ := strconv.ParseUint(string(v.(json.Number)), 10, 64); return n }
	str := func(v any) string { s, _ := v.(string); return s }
	e := &Entry{
		ID: str(m["id"]), Kind: str(m["kind"]), Schema: int(num(m["schema"])), Agency: str(m["agency"]),
		Seq: num(m["seq"]), OccurredAt: str(m["occurred_at"]), Case: str(m["case"]), doc: m,
	}
	lb := m["legal_basis"].(map[string]any)
	e.LegalBasis = LegalBasis{Law: str(lb["law"]), Article: str(lb["article"]), Paragraph: str(lb["paragraph"]), Item: str(lb["item"])}
	e.Refs = make([]string, 0, len(m["refs"].([]any)))
	for _, r := range m["refs"].([]any) {
		e.Refs = append(e.Refs, r.(string))
	}
	e.Body = json.RawMessage(bytes.Clone(sd.member(payload, "body")))
	if _, ok := m["sealed"]; ok {
		e.Sealed = json.RawMessage(bytes.Clone(sd.member(payload, "sealed")))
	}
	return e
}

// peekID reads the id of a payload the strict reader refused, for the
// error message only: as far as it can be read at all.
func peekID(payload []byte) string {
	var h struct {
		ID string `json:"id"`
	}
	json.Unmarshal(payload, &h)
	if !entryIDPattern().MatchString(h.ID) {
		return ""
	}
	return h.ID
}

var entryIDPattern = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`) })

func orEntry(field string) string {
	if field == "" {
		return "(entry)"
	}
	return field
}

// schemaViolation names the field a schema error is about, in the path
// form of every violation (body.counts[2].direction).
func schemaViolation(id string, err *shape.Error) *Violation {
	return violation(id, fieldPath(err.Path), RuleSchema, "%s", err.Message)
}

// fieldPath renders a JSON instance location as body.counts[2].direction.
func fieldPath(loc []string) string {
	var b strings.Builder
	for _, tok := range loc {
		if _, err := strconv.Atoi(tok); err == nil {
			b.WriteString("[" + tok + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tok)
	}
	if b.Len() == 0 {
		return "(entry)"
	}
	return b.String()
}

// CheckContent applies the forbidden-content rules to every field of the
// entry, wherever it stands: no NAINAI (内内) value anywhere, and no
// ESSENTIAL_CONTENT category with a count above zero or in a category list.
// Walking the whole document, not known fields only, keeps the rule true
// for kinds and fields added later.
func (e *Entry) CheckContent() error {
	// Almost every entry is clean: a walk that allocates nothing says so;
	// only an entry it finds something in is walked again, in the
	// deterministic order, to name the field (the walk below).
	if contentClean(e.doc, false) {
		return nil
	}
	return walkContent(e.ID, e.doc, nil)
}

// contentClean reports that walkContent finds nothing in v; inCategories
// says v's member name is "categories". It must agree with walkContent
// on every document (TestContentCleanAgrees).
func contentClean(v any, inCategories bool) bool {
	switch v := v.(type) {
	case string:
		return v != "NAINAI"
	case []any:
		for _, x := range v {
			if s, ok := x.(string); ok && s == "ESSENTIAL_CONTENT" && inCategories {
				return false
			}
			if !contentClean(x, false) {
				return false
			}
		}
	case map[string]any:
		if v["category"] == "ESSENTIAL_CONTENT" && positive(v["n"]) {
			return false
		}
		for k, x := range v {
			if !contentClean(x, k == "categories") {
				return false
			}
		}
	}
	return true
}

func walkContent(id string, v any, path []string) error {
	switch v := v.(type) {
	case string:
		if v == "NAINAI" {
			return violation(id, fieldPath(path), RuleNaiNai, "direction NAINAI (domestic-to-domestic, 内内) may never be acquired or recorded")
		}
	case []any:
		for i, x := range v {
			p := append(slices.Clip(path), strconv.Itoa(i))
			if s, ok := x.(string); ok && s == "ESSENTIAL_CONTENT" && len(path) > 0 && path[len(path)-1] == "categories" {
				return violation(id, fieldPath(p), RuleEssentialContent, "the essential content of communications (ESSENTIAL_CONTENT) may not be handled")
			}
			if err := walkContent(id, x, p); err != nil {
				return err
			}
		}
	case map[string]any:
		if v["category"] == "ESSENTIAL_CONTENT" && positive(v["n"]) {
			return violation(id, fieldPath(append(slices.Clip(path), "n")), RuleEssentialContent, "ESSENTIAL_CONTENT count is %v; it must be 0", v["n"])
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic: the same entry always names the same field
		for _, k := range keys {
			if err := walkContent(id, v[k], append(slices.Clip(path), k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func positive(n any) bool {
	num, ok := n.(json.Number)
	if !ok {
		return false
	}
	f, err := num.Float64()
	return err == nil && f > 0
}

// BodyDoc returns the body as the strict reading of the payload decoded
// it (objects as map[string]any, arrays as []any, numbers as json.Number,
// what encoding/json gives with UseNumber): ok is false for an Entry not
// made by ParseEntry. The caller must not change it: it is the document
// admission checked.
func (e *Entry) BodyDoc() (doc any, ok bool) {
	m, isMap := e.doc.(map[string]any)
	if !isMap {
		return nil, false
	}
	doc, ok = m["body"]
	return doc, ok
}

// BodyRefs returns the body's reference fields (see RefFields) and their
// values, in field-name order.
func (e *Entry) BodyRefs() [][2]string {
	body, _ := e.doc.(map[string]any)["body"].(map[string]any)
	var out [][2]string
	for _, f := range RefFields()[e.Kind] {
		if v, ok := body[f].(string); ok {
			out = append(out, [2]string{f, v})
		}
	}
	return out
}
