// Package jsonmsg rewrites encoding/json's errors for people: a message
// names the JSON field and the JSON type wanted, never a Go type or struct
// ("cannot unmarshal number 3.0 into Go struct field Entry.seq of type
// uint64" becomes "field seq: number 3.0 is not a non-negative integer").
package jsonmsg

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Describe returns err in those words; an error that is not encoding/json's
// is returned as it is. The result wraps err, so errors.As still finds
// the original.
func Describe(err error) error {
	if err == nil {
		return nil
	}
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		what := te.Value
		if te.Field != "" {
			return &described{fmt.Sprintf("field %s: %s is not %s", te.Field, what, want(te.Type)), err}
		}
		return &described{fmt.Sprintf("%s is not %s", what, want(te.Type)), err}
	case errors.As(err, &se):
		return &described{fmt.Sprintf("not valid JSON at byte %d: %s", se.Offset, se.Error()), err}
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return &described{"unexpected end of the JSON input", err}
	}
	if m, ok := strings.CutPrefix(err.Error(), "json: "); ok {
		return &described{m, err}
	}
	return err
}

type described struct {
	msg string
	err error
}

func (d *described) Error() string { return d.msg }
func (d *described) Unwrap() error { return d.err }

// want names, in JSON's terms, what a Go type accepts.
func want(t reflect.Type) string {
	if t == nil {
		return "of the expected type"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "of the expected type"
}
