package specs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
)

// The strict reader (specs/strict.md): the one reading of JSON that comes
// from outside — envelopes, entry payloads, registries. JSON itself leaves
// room for two readers to see different documents in the same bytes
// (duplicate member names, numbers past what a double holds, invalid UTF-8,
// a byte-order mark), and Go's encoding/json adds its own (names matched
// without regard to case, 10.0 read as an integer by some decoders and not
// by others). Every such input is refused here, naming the field, so that
// whatever this reader accepts means the same to any JSON reader.
//
// Tokenising is go-json-experiment's jsontext (the implementation behind
// the proposed encoding/json/v2): it refuses duplicate names at any depth
// and invalid UTF-8 by default and reports where, and it implements RFC 8785
// canonicalisation, so neither is hand-written here.

// MaxSafeInteger is the largest integer magnitude an entry may carry:
// 2^53 − 1, the largest that every JSON reader (an IEEE 754 double, as in
// JavaScript and RFC 8785) holds exactly.
const MaxSafeInteger = 1<<53 - 1

// integerLiteral is the only spelling of a number the strict reader takes:
// an integer in its shortest decimal form (no fraction, no exponent, no
// leading zero, no "-0"), which is also its RFC 8785 form.
var integerLiteral = regexp.MustCompile(`^(0|-?[1-9][0-9]{0,15})$`)

var bom = []byte{0xEF, 0xBB, 0xBF}

// StrictError says where and why the strict reader refused a document.
// Field is a path in the form the violations use (body.counts[2].n), or
// empty for the document as a whole.
type StrictError struct {
	Field  string
	Reason string
}

func (e *StrictError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

// readStrict reads one JSON document strictly into a generic tree: objects
// as map[string]any, arrays as []any, strings, integers as json.Number,
// booleans and nil. Whitespace and member order are free; see
// canonicalDiff for documents that must also be canonical.
func readStrict(data []byte) (any, error) {
	if bytes.HasPrefix(data, bom) {
		return nil, &StrictError{Reason: "the JSON text starts with a byte-order mark (U+FEFF), which JSON does not allow"}
	}
	if !utf8.Valid(data) {
		// jsontext would report it too, but only inside strings; say
		// plainly that the text as a whole is not UTF-8.
		off := invalidUTF8At(data)
		return nil, &StrictError{Reason: fmt.Sprintf("the JSON text is not valid UTF-8 (first bad byte at offset %d)", off)}
	}
	r := strictReader{dec: jsontext.NewDecoder(bytes.NewReader(data))}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.ReadToken(); err != io.EOF {
		return nil, &StrictError{Reason: "trailing data after the JSON value"}
	}
	return v, nil
}

type strictReader struct {
	dec *jsontext.Decoder
}

func (r *strictReader) value() (any, error) {
	switch r.dec.PeekKind() {
	case '{':
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		m := map[string]any{}
		for r.dec.PeekKind() != '}' {
			tok, err := r.dec.ReadToken()
			if err != nil {
				return nil, r.syntax(err)
			}
			name := tok.String() // a token is valid only until the next read
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			m[name] = v
		}
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		return m, nil
	case '[':
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		a := []any{}
		for r.dec.PeekKind() != ']' {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		return a, nil
	case '0':
		raw, err := r.dec.ReadValue()
		if err != nil {
			return nil, r.syntax(err)
		}
		lit := string(raw)
		if !integerLiteral.MatchString(lit) {
			return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: fmt.Sprintf(
				"number %s is not an integer in its shortest form (every number in an entry is an integer written with digits only, e.g. %s)", lit, suggestInteger(lit))}
		}
		if n, err := strconv.ParseInt(lit, 10, 64); err != nil || n > MaxSafeInteger || n < -MaxSafeInteger {
			return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: fmt.Sprintf(
				"integer %s is out of range; the limit is ±%d (2^53−1, what every JSON reader holds exactly)", lit, int64(MaxSafeInteger))}
		}
		return json.Number(lit), nil
	default:
		tok, err := r.dec.ReadToken()
		if err != nil {
			return nil, r.syntax(err)
		}
		switch tok.Kind() {
		case '"':
			return tok.String(), nil
		case 't', 'f':
			return tok.Bool(), nil
		case 'n':
			return nil, nil
		}
		return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: "unexpected " + tok.String()}
	}
}

// syntax turns jsontext's error into a StrictError naming the field.
func (r *strictReader) syntax(err error) error {
	var se *jsontext.SyntacticError
	if !errors.As(err, &se) {
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			return &StrictError{Reason: "the JSON text ends before its value is complete"}
		}
		return &StrictError{Reason: err.Error()}
	}
	field := pointerPath(se.JSONPointer)
	switch {
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		return &StrictError{Field: field, Reason: fmt.Sprintf("member name %q appears twice in one object; a reader taking the first and one taking the last would see different entries", se.JSONPointer.LastToken())}
	case errors.Is(se.Err, io.ErrUnexpectedEOF):
		return &StrictError{Field: field, Reason: "the JSON text ends before its value is complete"}
	}
	msg := se.Err.Error()
	msg = strings.TrimPrefix(msg, "jsontext: ")
	return &StrictError{Field: field, Reason: fmt.Sprintf("not valid JSON at byte %d: %s", se.ByteOffset, msg)}
}

// pointerPath renders a JSON Pointer in the path form violations use.
func pointerPath(p jsontext.Pointer) string {
	var loc []string
	for tok := range p.Tokens() {
		loc = append(loc, tok)
	}
	if len(loc) == 0 {
		return ""
	}
	return fieldPath(loc)
}

// suggestInteger names the integer a non-integer literal may have meant,
// for the error message only.
func suggestInteger(lit string) string {
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || f != float64(int64(f)) {
		return "10"
	}
	return strconv.FormatInt(int64(f), 10)
}

func invalidUTF8At(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// decodeStrict decodes a JSON document into v after reading it strictly:
// member names matched exactly (not case-insensitively, as encoding/json
// does), unknown members refused. For the smaller formats (boxes,
// disclosures) whose Go types are their whole definition.
func decodeStrict(data []byte, v any) error {
	if _, err := readStrict(data); err != nil {
		return err
	}
	return jsonv2.Unmarshal(data, v, jsonv2.RejectUnknownMembers(true))
}

// Canonical returns the RFC 8785 (JCS) canonical form of a JSON document
// that the strict reader accepts: members sorted, no whitespace, strings
// minimally escaped, integers in their shortest form. It is how
// `acdledger sign` writes every payload, and what admission requires.
func Canonical(doc []byte) ([]byte, error) {
	if _, err := readStrict(doc); err != nil {
		return nil, err
	}
	return canonicalize(doc)
}

func canonicalize(doc []byte) ([]byte, error) {
	v := jsontext.Value(bytes.Clone(doc))
	if err := v.Canonicalize(); err != nil {
		return nil, err
	}
	return v, nil
}

// canonicalDiff returns "" if doc, already read strictly, is in canonical
// form, or else a description of the first byte where it differs.
func canonicalDiff(doc []byte) (string, error) {
	c, err := canonicalize(doc)
	if err != nil {
		return "", err
	}
	if bytes.Equal(c, doc) {
		return "", nil
	}
	i := 0
	for i < len(c) && i < len(doc) && c[i] == doc[i] {
		i++
	}
	return fmt.Sprintf("first difference at byte %d: it has %s where the canonical form has %s", i, excerpt(doc, i), excerpt(c, i)), nil
}

// excerpt quotes a few bytes of b from offset i, for error messages.
func excerpt(b []byte, i int) string {
	if i >= len(b) {
		return "the end"
	}
	end := min(len(b), i+16)
	for end < len(b) && !utf8.RuneStart(b[end]) {
		end++
	}
	return strconv.Quote(string(b[i:end]))
}
