package shape

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

const base = "https://example.org/s.json"

func compileOne(t *testing.T, schema string) (*Schema, error) {
	t.Helper()
	doc := `{"$schema":"` + Draft + `","$id":"` + base + `",` + strings.TrimPrefix(schema, "{")
	set, err := Compile([][]byte{[]byte(doc)}, Options{Formats: map[string]func(string) error{"date-time": func(s string) error {
		if !strings.Contains(s, "T") {
			return errors.New("not a time")
		}
		return nil
	}}})
	if err != nil {
		return nil, err
	}
	return set.Schema(base)
}

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestCompileRefuses: a keyword, format or reference the validator does
// not implement is refused when the schema is compiled, naming where it is,
// so that no schema can carry a rule that validation would skip.
func TestCompileRefuses(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{"anyOf":[{"type":"string"}]}`, `s.json#/anyOf: keyword "anyOf" is not implemented`},
		{`{"properties":{"a":{"patternProperties":{"x":true}}}}`, `#/properties/a/patternProperties: keyword "patternProperties" is not implemented`},
		{`{"$defs":{"unused":{"type":"string","exclusiveMaximum":3}}}`, `#/$defs/unused/exclusiveMaximum: keyword "exclusiveMaximum" is not implemented`},
		{`{"x-refers-to":{}}`, `keyword "x-refers-to" is not implemented`},
		{`{"items":{"unevaluatedProperties":false}}`, `#/items/unevaluatedProperties`},
		{`{"if":{"type":"string"},"then":true,"else":false}`, `keyword "else" is not implemented`},
		{`{"format":"email"}`, `format "email" is not one the validator checks`},
		{`{"$ref":"#/$defs/missing"}`, `$ref "#/$defs/missing": no schema at`},
		{`{"$ref":"#anchor"}`, `only JSON Pointer fragments`},
		{`{"$ref":"other.json"}`, `no schema at https://example.org/other.json#`},
		{`{"properties":{"a":{"$id":"https://example.org/a"}}}`, `$id is only supported at the root`},
		{`{"const":{"a":1}}`, `#/const: only a string, number, boolean or null`},
		{`{"enum":["a","a"]}`, `value 1 is listed twice`},
		{`{"type":"float"}`, `"float" is not a JSON Schema type`},
		{`{"required":["a","a"]}`, `distinct member names`},
		{`{"maxLength":-1}`, `must be a non-negative integer`},
		{`{"pattern":"("}`, `#/pattern: error parsing regexp`},
		{`{"then":true}`, `then without if`},
		{`{"properties":{"a":3}}`, `a schema must be an object or a boolean`},
	} {
		_, err := compileOne(t, tc.schema)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.schema, err, tc.want)
		}
	}
	if _, err := Compile([][]byte{[]byte(`{"$id":"` + base + `"}`)}, Options{}); err == nil || !strings.Contains(err.Error(), "$schema must be") {
		t.Errorf("no $schema: %v", err)
	}
	if _, err := Compile([][]byte{[]byte(`{"$schema":"` + Draft + `"}`)}, Options{}); err == nil || !strings.Contains(err.Error(), "not an absolute URL") {
		t.Errorf("no $id: %v", err)
	}
}

// TestPublishedSchemasCompile: the schemas acdledger publishes compile
// with exactly the format and annotation specs registers, and not
// without them (the refusal above is not only for made-up schemas).
func TestPublishedSchemasCompile(t *testing.T) {
	var docs [][]byte
	for _, f := range []string{"../entry.schema.json", "../registry.schema.json"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, raw)
	}
	formats := map[string]func(string) error{"date-time": func(string) error { return nil }}
	set, err := Compile(docs, Options{Formats: formats, Annotations: []string{"x-refers-to"}})
	if err != nil {
		t.Fatal(err)
	}
	for loc, prop := range map[string]string{"https://github.com/acdledger/acdledger/specs/entry.schema.json": "kind",
		"https://github.com/acdledger/acdledger/specs/entry.schema.json#/$defs/registry_change": "change"} {
		s, err := set.Schema(loc)
		if err != nil {
			t.Fatal(err)
		}
		if s.n.dispatch == nil || s.n.dispatch.prop != prop {
			t.Errorf("%s: the per-%s allOf is not indexed", loc, prop)
		}
	}
	if _, err := Compile(docs, Options{Formats: formats}); err == nil || !strings.Contains(err.Error(), `keyword "x-refers-to" is not implemented`) {
		t.Errorf("without the x-refers-to annotation: %v", err)
	}
	if _, err := Compile(docs, Options{Annotations: []string{"x-refers-to"}}); err == nil || !strings.Contains(err.Error(), `format "date-time"`) {
		t.Errorf("without the date-time format: %v", err)
	}
}

const dispatchSchema = `{"allOf":[{"if":{"properties":{"k":{"const":"a"}}},"then":{"required":["a"]}},` +
	`{"if":{"properties":{"k":{"const":"b"}}},"then":{"required":["b"]}},` +
	`{"if":{"properties":{"k":{"const":"x"}}},"then":{"type":"object"}}]}`

// TestValidateErrors shows each keyword's failure: the path it names and
// the message.
func TestValidateErrors(t *testing.T) {
	for _, tc := range []struct{ schema, doc, path, keyword, msg string }{
		{`{"type":"object"}`, `[]`, "", "type", "must be an object, not an array"},
		{`{"properties":{"n":{"type":"integer"}}}`, `{"n":1.5}`, "n", "type", "must be an integer, not the number 1.5"},
		{`{"properties":{"n":{"type":"integer"}}}`, `{"n":1.0}`, "", "", ""},
		{`{"properties":{"s":{"const":2}}}`, `{"s":3}`, "s", "const", "must be 2, not 3"},
		{`{"properties":{"s":{"const":2}}}`, `{"s":2.0}`, "", "", ""},
		{`{"enum":["a","b"]}`, `"c"`, "", "enum", `must be one of "a", "b"; it is "c"`},
		{`{"format":"date-time"}`, `"2026-01-01"`, "", "format", "not a time"},
		{`{"format":"date-time"}`, `7`, "", "", ""},
		{`{"required":["a","b"]}`, `{"c":1}`, "a", "required", `required member "a" is missing`},
		{`{"additionalProperties":false,"properties":{"a":true}}`, `{"b":1,"a":1,"c":2}`, "b", "additionalProperties", `unknown member "b" (the members allowed here are a)`},
		{`{"additionalProperties":false}`, `{"b":1}`, "b", "additionalProperties", `unknown member "b" (no member is allowed here)`},
		{`{"additionalProperties":{"type":"string"}}`, `{"b":"x","c":1}`, "c", "type", "must be a string"},
		{`{"required":["kind"],"additionalProperties":false,"properties":{"kind":true}}`, `{"Kind":1}`, "Kind", "additionalProperties", `unknown member "Kind": member names are case-sensitive, it must be "kind"`},
		{`{"minProperties":2}`, `{"a":1}`, "", "minProperties", "has 1 members; at least 2 are required"},
		{`{"maxProperties":1}`, `{"a":1,"b":2}`, "", "maxProperties", "has 2 members; at most 1 are allowed"},
		{`{"minItems":1}`, `[]`, "", "minItems", "has 0 items; at least 1 are required"},
		{`{"maxItems":1}`, `[1,2]`, "", "maxItems", "has 2 items; at most 1 are allowed"},
		{`{"uniqueItems":true}`, `[1,{"a":[2]},{"a":[2]}]`, "", "uniqueItems", "items 1 and 2 are equal"},
		{`{"uniqueItems":true}`, `[1,1.0]`, "", "uniqueItems", "items 0 and 1 are equal"},
		{`{"items":{"type":"string"}}`, `["a",2]`, "1", "type", "must be a string, not the integer 2"},
		{`{"minLength":2}`, `"é"`, "", "minLength", "is 1 characters long; at least 2 are required"},
		{`{"maxLength":1}`, `"éé"`, "", "maxLength", "is 2 characters long; at most 1 are allowed"},
		{`{"pattern":"^[a-z]+$"}`, `"A"`, "", "pattern", `"A" does not have the required form ^[a-z]+$`},
		{`{"minimum":1}`, `0`, "", "minimum", "is 0; the minimum is 1"},
		{`{"maximum":9007199254740991}`, `9007199254740992`, "", "maximum", "is 9007199254740992; the maximum is 9007199254740991"},
		{`{"maximum":10}`, `1e3`, "", "maximum", "is 1e3; the maximum is 10"},
		{`{"properties":{"s":{"not":{}}}}`, `{"s":{}}`, "s", "not", "may not be present here"},
		{`{"properties":{"s":false}}`, `{"s":1}`, "s", "false", "no value is allowed here"},
		{`{"oneOf":[{"required":["a"]},{"required":["b"]}]}`, `{"a":1,"b":2}`, "", "oneOf", `must have exactly one of the members "a", "b"; it has "a" and "b"`},
		{`{"oneOf":[{"required":["a"]},{"required":["b"]}]}`, `{}`, "a", "required", `required member "a" is missing`},
		{`{"if":{"properties":{"k":{"const":"x"}}},"then":{"required":["y"]}}`, `{"k":"x"}`, "y", "required", ""},
		{`{"if":{"properties":{"k":{"const":"x"}}},"then":{"required":["y"]}}`, `{"k":"z"}`, "", "", ""},
		{`{"allOf":[true,{"$ref":"#/$defs/d"}],"$defs":{"d":{"type":"string"}}}`, `1`, "", "type", "must be a string"},
		// $ref first, then the object's own keywords: required before members.
		{`{"$ref":"#/$defs/d","required":["z"],"$defs":{"d":{"properties":{"a":{"type":"string"}}}}}`, `{"a":1}`, "a", "type", ""},
		{`{"required":["z"],"properties":{"a":{"type":"string"}}}`, `{"a":1}`, "z", "required", ""},
		// An allOf of "if k is K then …" branches, looked up by K: the
		// branch of K only; every branch when k is absent or the value is
		// not an object (their "if" holds); none when k is no branch's K.
		{dispatchSchema, `{"k":"a"}`, "a", "required", ""},
		{dispatchSchema, `{"k":"b","a":1}`, "b", "required", ""},
		{dispatchSchema, `{"k":"c"}`, "", "", ""},
		{dispatchSchema, `{"k":7}`, "", "", ""},
		{dispatchSchema, `{"b":1}`, "a", "required", ""},
		{dispatchSchema, `{"a":1}`, "b", "required", ""},
		{dispatchSchema, `[]`, "", "type", "must be an object"},
		// type ends the evaluation of a schema: nothing else is reported.
		{`{"type":"string","allOf":[{"required":["a"]}]}`, `{}`, "", "type", ""},
	} {
		s, err := compileOne(t, tc.schema)
		if err != nil {
			t.Fatalf("%s: %v", tc.schema, err)
		}
		got := s.Validate(decode(t, tc.doc))
		if tc.keyword == "" {
			if got != nil {
				t.Errorf("%s on %s: %v, want valid", tc.schema, tc.doc, got)
			}
			continue
		}
		if got == nil || strings.Join(got.Path, "/") != tc.path || got.Keyword != tc.keyword || !strings.Contains(got.Message, tc.msg) {
			t.Errorf("%s on %s: got %+v, want %s at %q: %q", tc.schema, tc.doc, got, tc.keyword, tc.path, tc.msg)
		}
	}
}

// TestDispatchRecognised: the entry schema's per-kind allOf is indexed.
func TestDispatchRecognised(t *testing.T) {
	s, err := compileOne(t, dispatchSchema)
	if err != nil {
		t.Fatal(err)
	}
	if d := s.n.dispatch; d == nil || d.prop != "k" || len(d.byValue) != 3 {
		t.Fatalf("dispatch %+v", d)
	}
	// Not when a branch has more than if/then, or two branches share a constant.
	for _, sc := range []string{
		`{"allOf":[{"if":{"properties":{"k":{"const":"a"}}},"then":true,"type":"object"},{"if":{"properties":{"k":{"const":"b"}}},"then":true}]}`,
		`{"allOf":[{"if":{"properties":{"k":{"const":"a"}}},"then":true},{"if":{"properties":{"k":{"const":"a"}}},"then":true}]}`,
		`{"allOf":[{"if":{"properties":{"k":{"const":"a"}}},"then":true},{"if":{"properties":{"j":{"const":"b"}}},"then":true}]}`,
		`{"allOf":[{"if":{"properties":{"k":{"const":1}}},"then":true},{"if":{"properties":{"k":{"const":"b"}}},"then":true}]}`,
	} {
		s, err := compileOne(t, sc)
		if err != nil {
			t.Fatal(err)
		}
		if s.n.dispatch != nil {
			t.Errorf("%s: indexed", sc)
		}
	}
}

// BenchmarkCompilePublished: compiling both published schemas, what the
// first ParseEntry or ParseRegistry of a process pays.
func BenchmarkCompilePublished(b *testing.B) {
	var docs [][]byte
	for _, f := range []string{"../entry.schema.json", "../registry.schema.json"} {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		docs = append(docs, raw)
	}
	opt := Options{Formats: map[string]func(string) error{"date-time": func(string) error { return nil }}, Annotations: []string{"x-refers-to"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(docs, opt); err != nil {
			b.Fatal(err)
		}
	}
}
