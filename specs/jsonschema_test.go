package specs

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The general JSON Schema validator the run time used before specs/shape,
// kept in tests only as the reference the differential tests compare
// specs/shape with (shape_diff_test.go). This is the code ParseEntry ran.

var (
	refCompiler     = sync.OnceValue(newRefCompiler)
	refEntry        = refSchema("entry.schema.json")
	refRegistry     = refSchema("registry.schema.json")
	refSealedValues = refSchema("entry.schema.json#/$defs/sealed_values")
	refRefersTo     = refSchema("entry.schema.json#/$defs/refers_to")
	refMu           sync.Mutex
)

func refSchema(name string) func() *jsonschema.Schema {
	return sync.OnceValue(func() *jsonschema.Schema {
		c := refCompiler()
		refMu.Lock()
		defer refMu.Unlock()
		return c.MustCompile(schemaBase + name)
	})
}

var englishPrinter = message.NewPrinter(language.English)

func newRefCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: func(v any) error {
		s, ok := v.(string)
		if !ok {
			return nil // the schema's "type" speaks to non-strings
		}
		return checkTime(s)
	}})
	for _, f := range schemaFiles {
		raw, err := Files.ReadFile(f)
		if err != nil {
			panic(err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			panic(fmt.Sprintf("specs/%s: %v", f, err))
		}
		if err := c.AddResource(schemaBase+f, doc); err != nil {
			panic(err)
		}
	}
	return c
}

// refVerdict is the reference validator's verdict on a document: nil if
// valid; else the field the old schemaViolation named, and every field
// any failure in the error tree is about (the validator visits an
// object's members in Go's random map order, so which of several failing
// members it names first varies from run to run).
type refVerdict struct {
	field  string
	msg    string
	fields []string
}

func refValidate(s *jsonschema.Schema, doc any) *refVerdict {
	err := s.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return &refVerdict{field: "(entry)", msg: err.Error()}
	}
	v := &refVerdict{}
	if lc := refLetterCase(ve); lc != "" {
		v.field = lc
		v.fields = []string{lc}
		return v
	}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if k, ok := e.ErrorKind.(*kind.AdditionalProperties); ok {
			// Properties are listed in map order: any may come first.
			for _, p := range k.Properties {
				v.fields = append(v.fields, fieldPath(append(slices.Clip(e.InstanceLocation), p)))
			}
		} else if len(e.Causes) == 0 {
			v.fields = append(v.fields, fieldPath(leafLoc(e)))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	for len(ve.Causes) > 0 {
		ve = ve.Causes[0]
	}
	v.field, v.msg = fieldPath(leafLoc(ve)), ve.ErrorKind.LocalizedString(englishPrinter)
	return v
}

// leafLoc names the missing or unexpected field itself, not the object
// around it, as the old schemaViolation did.
func leafLoc(ve *jsonschema.ValidationError) []string {
	loc := ve.InstanceLocation
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		loc = append(slices.Clip(loc), k.Missing[0])
	case *kind.AdditionalProperties:
		loc = append(slices.Clip(loc), k.Properties[0])
	}
	return loc
}

// refLetterCase is the old letterCase: a required member missing because
// it was written in another letter case.
func refLetterCase(top *jsonschema.ValidationError) string {
	var missing, extra []*jsonschema.ValidationError
	var walk func(ve *jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		switch ve.ErrorKind.(type) {
		case *kind.Required:
			missing = append(missing, ve)
		case *kind.AdditionalProperties:
			extra = append(extra, ve)
		}
		for _, c := range ve.Causes {
			walk(c)
		}
	}
	walk(top)
	for _, m := range missing {
		for _, x := range extra {
			if !slices.Equal(m.InstanceLocation, x.InstanceLocation) {
				continue
			}
			for _, want := range m.ErrorKind.(*kind.Required).Missing {
				for _, got := range x.ErrorKind.(*kind.AdditionalProperties).Properties {
					if strings.EqualFold(want, got) {
						return fieldPath(append(slices.Clip(x.InstanceLocation), got))
					}
				}
			}
		}
	}
	return ""
}
