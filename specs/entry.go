package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
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

var entrySchema = mustCompile("entry.schema.json")

// englishPrinter renders schema errors; messages are part of the CLI's
// output, so they do not follow the machine's locale.
var englishPrinter = message.NewPrinter(language.English)

func mustCompile(name string) *jsonschema.Schema {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	for _, f := range []string{"entry.schema.json", "registry.schema.json"} {
		raw, err := Files.ReadFile(f)
		if err != nil {
			panic(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			panic(fmt.Sprintf("specs/%s: %v", f, err))
		}
		if err := c.AddResource(f, doc); err != nil {
			panic(err)
		}
	}
	return c.MustCompile(name)
}

// ParseEntry decodes an entry payload and checks it against
// specs/entry.schema.json. A failure is a *Violation with rule "schema" that
// names the first offending field.
func ParseEntry(payload []byte) (*Entry, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return nil, violation("", "", RuleSchema, "payload is not one JSON value: %v", err)
	}
	id := ""
	if m, ok := doc.(map[string]any); ok {
		id, _ = m["id"].(string)
	}
	if err := checkSealedShape(id, doc); err != nil {
		return nil, err
	}
	if err := entrySchema.Validate(doc); err != nil {
		return nil, schemaViolation(id, err)
	}
	e := &Entry{doc: doc}
	if err := json.Unmarshal(payload, e); err != nil {
		// The schema accepted it, so this is a document Go's decoder reads
		// differently (e.g. a number past uint64): still a schema failure.
		return nil, violation(id, "", RuleSchema, "%v", err)
	}
	return e, nil
}

// schemaViolation reduces a schema validation error to its deepest cause,
// which names the field that is actually wrong.
func schemaViolation(id string, err error) *Violation {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return violation(id, "", RuleSchema, "%v", err)
	}
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	msg := ve.ErrorKind.LocalizedString(englishPrinter)
	loc := ve.InstanceLocation
	// Name the missing or unexpected field itself, not the object around it.
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		loc = append(slices.Clip(loc), k.Missing[0])
	case *kind.AdditionalProperties:
		loc = append(slices.Clip(loc), k.Properties[0])
	}
	return violation(id, fieldPath(loc), RuleSchema, "%s", msg)
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
	return walkContent(e.ID, e.doc, nil)
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

// BodyRefs returns the body's reference fields (see RefFields) and their
// values, in field-name order.
func (e *Entry) BodyRefs() [][2]string {
	body, _ := e.doc.(map[string]any)["body"].(map[string]any)
	var out [][2]string
	for _, f := range RefFields[e.Kind] {
		if v, ok := body[f].(string); ok {
			out = append(out, [2]string{f, v})
		}
	}
	return out
}
