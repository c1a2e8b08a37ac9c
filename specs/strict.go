package specs

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
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

// isIntegerLiteral is the only spelling of a number the strict reader takes:
// an integer in its shortest decimal form (no fraction, no exponent, no
// leading zero, no "-0"), which is also its RFC 8785 form.
// (A loop rather than a regular expression: compiling one at package init
// was part of every process start.)
func isIntegerLiteral(b []byte) bool {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 16 || (b[0] == '0' && (len(b) > 1 || neg)) {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var bom = []byte{0xEF, 0xBB, 0xBF}

// smallNumbers are the integers 0 to 255 as the reader returns them
// (json.Number in an interface), made once: most numbers of an entry
// (schema, seq of a young agency, counts) are small.
var smallNumbers = func() (out [256]any) {
	for i := range out {
		out[i] = json.Number(strconv.Itoa(i))
	}
	return
}()

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
// readStrictDoc for documents that must also be canonical.
func readStrict(data []byte) (any, error) {
	d, err := readStrictDoc(data)
	if err != nil {
		return nil, err
	}
	return d.value, nil
}

// strictDoc is one strict reading of a document, with what the same pass
// learnt about its bytes: whether it looks canonical, and where each
// member of the top-level object is.
type strictDoc struct {
	value any
	// canonical reports that no byte of the document differs from its RFC
	// 8785 form: members in order, no whitespace, strings minimally
	// escaped (integers are always in their shortest form, or the reader
	// refuses them). It is checked while reading, so that admission need
	// not canonicalise every payload to compare; when it is false,
	// canonicalDiff (the library's canonicalisation) has the last word
	// and says where the document differs.
	canonical bool
	top       []topMember
}

// topMember is a member of the top-level object: its value is
// data[start:end], after the ':' that starts it.
type topMember struct {
	name       string
	start, end int64
}

// member returns the bytes of a top-level member's value in a canonical
// document, or nil.
func (d *strictDoc) member(data []byte, name string) []byte {
	for _, m := range d.top {
		if m.name == name && m.start < m.end && data[m.start] == ':' {
			return data[m.start+1 : m.end]
		}
	}
	return nil
}

func readStrictDoc(data []byte) (*strictDoc, error) { return readStrictDocOpt(data, false) }

func readStrictDocOpt(data []byte, rawStrings bool) (*strictDoc, error) {
	if bytes.HasPrefix(data, bom) {
		return nil, &StrictError{Reason: "the JSON text starts with a byte-order mark (U+FEFF), which JSON does not allow"}
	}
	if !utf8.Valid(data) {
		// jsontext would report it too, but only inside strings; say
		// plainly that the text as a whole is not UTF-8.
		off := invalidUTF8At(data)
		return nil, &StrictError{Reason: fmt.Sprintf("the JSON text is not valid UTF-8 (first bad byte at offset %d)", off)}
	}
	r := getStrictReader(data, rawStrings)
	defer putStrictReader(r)
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if _, err := r.dec.ReadToken(); err != io.EOF {
		return nil, &StrictError{Reason: "trailing data after the JSON value"}
	}
	// Every token's canonical length and the separators between them add
	// up to the document's length exactly when it has no whitespace.
	return &strictDoc{value: v, canonical: r.canon && r.size == len(data), top: slices.Clone(r.top)}, nil
}

// strictReaders keeps readers, each with its jsontext.Decoder, between
// documents: a decoder made anew for each document allocated its state
// and, for every object, the namespace that catches duplicate names
// (about a fifth of an audit's allocations, issue 12); Reset keeps them.
var strictReaders = sync.Pool{New: func() any {
	r := &strictReader{buf: new(bytes.Buffer), interned: internTable()}
	r.dec = jsontext.NewDecoder(r.buf)
	return r
}}

func getStrictReader(data []byte, rawStrings bool) *strictReader {
	r := strictReaders.Get().(*strictReader)
	// A bytes.Buffer, which jsontext reads in place rather than copying.
	*r.buf = *bytes.NewBuffer(data)
	r.dec.Reset(r.buf)
	r.data, r.rawStrings = data, rawStrings
	r.depth, r.canon, r.size, r.top = 0, true, 0, r.top[:0]
	return r
}

func putStrictReader(r *strictReader) {
	// Drop the document so that a pooled reader does not keep it alive.
	*r.buf = bytes.Buffer{}
	r.dec.Reset(r.buf)
	r.data = nil
	strictReaders.Put(r)
}

// rawString is a long string the reader did not copy (see
// strictReader.rawStrings): its bytes in the document, between the
// quotes, with no escape in them, so they are the string's UTF-8 itself.
type rawString []byte

// readStrictRaw is readStrictDoc for a caller that takes long unescaped
// strings as rawString, valid as long as data is: an envelope's payload
// and signature are decoded from base64 straight from the document's
// bytes instead of being copied into a string first.
func readStrictRaw(data []byte) (*strictDoc, error) { return readStrictDocOpt(data, true) }

type strictReader struct {
	dec  *jsontext.Decoder
	buf  *bytes.Buffer // what dec reads: data
	data []byte
	// rawStrings: a string longer than any interned one and with no
	// escape is returned as a rawString of data, not copied.
	rawStrings bool
	depth      int
	canon      bool        // nothing seen so far differs from canonical form
	size       int         // the canonical length of what was read
	top        []topMember // the top-level object's members
	quote      []byte      // scratch for re-quoting escaped strings
	// interned are strings the reader need not allocate (see internTable).
	interned map[string]internedString
}

// intern looks a quoted string up in the intern table; long strings (an
// envelope's payload) are not hashed at all.
func (r *strictReader) intern(raw []byte) (internedString, bool) {
	if len(raw) > maxInterned+2 {
		return internedString{}, false
	}
	in, ok := r.interned[string(raw[1:len(raw)-1])]
	return in, ok
}

// maxInterned bounds the length of the strings interned: the schemas'
// names and enum values are all shorter.
const maxInterned = 64

// internedString is one string of internTable, alone and boxed as a value.
type internedString struct {
	s string
	v any
}

// internTable holds the strings the schemas name (member names, kinds,
// laws, directions…): most strings of an entry are among them, and the
// reader returns the one copy instead of allocating each time (about half
// of ParseEntry's allocations were such strings).
var internTable = sync.OnceValue(func() map[string]internedString {
	out := map[string]internedString{}
	for _, s := range slices.Concat(schemaSet().Strings(), envelopeMembers, signatureMembers) {
		if len(s) <= maxInterned {
			out[s] = internedString{s, s}
		}
	}
	return out
})

func (r *strictReader) value() (any, error) {
	switch r.dec.PeekKind() {
	case '{':
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		r.depth++
		m := map[string]any{}
		var prev string
		for r.dec.PeekKind() != '}' {
			raw, err := r.dec.ReadValue()
			if err != nil {
				return nil, r.syntax(err)
			}
			name := r.str(raw) // raw is valid only until the next read
			if len(m) > 0 && compareUTF16(prev, name) >= 0 {
				r.canon = false // RFC 8785 §3.2.3: members sorted by UTF-16 code units
			}
			start := r.dec.InputOffset()
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			if r.depth == 1 {
				r.top = append(r.top, topMember{name, start, r.dec.InputOffset()})
			}
			m[name] = v
			prev = name
		}
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		r.depth--
		r.size += 2 + 2*len(m) - min(len(m), 1) // braces, a colon per member, commas between
		return m, nil
	case '[':
		if _, err := r.dec.ReadToken(); err != nil {
			return nil, r.syntax(err)
		}
		r.depth++
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
		r.depth--
		r.size += 2 + len(a) - min(len(a), 1)
		return a, nil
	case '0':
		raw, err := r.dec.ReadValue()
		if err != nil {
			return nil, r.syntax(err)
		}
		if !isIntegerLiteral(raw) {
			lit := string(raw)
			return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: fmt.Sprintf(
				"number %s is not an integer in its shortest form (every number in an entry is an integer written with digits only, e.g. %s)", lit, suggestInteger(lit))}
		}
		if len(raw) <= 3 && raw[0] != '-' {
			// A small count or version: one boxed copy of each (see
			// smallNumbers), not two allocations per number.
			n := 0
			for _, c := range raw {
				n = 10*n + int(c-'0')
			}
			if n < len(smallNumbers) {
				r.size += len(raw)
				return smallNumbers[n], nil
			}
		}
		lit := string(raw)
		if n, err := strconv.ParseInt(lit, 10, 64); err != nil || n > MaxSafeInteger || n < -MaxSafeInteger {
			return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: fmt.Sprintf(
				"integer %s is out of range; the limit is ±%d (2^53−1, what every JSON reader holds exactly)", lit, int64(MaxSafeInteger))}
		}
		r.size += len(raw)
		return json.Number(lit), nil
	case '"':
		raw, err := r.dec.ReadValue()
		if err != nil {
			return nil, r.syntax(err)
		}
		if in, ok := r.intern(raw); ok && bytes.IndexByte(raw, '\\') < 0 {
			r.size += len(raw)
			return in.v, nil
		}
		if r.rawStrings && len(raw) > maxInterned+2 && bytes.IndexByte(raw, '\\') < 0 {
			// raw may be the decoder's buffer; the same bytes in data
			// end where the decoder now stands.
			end := int(r.dec.InputOffset())
			r.size += len(raw)
			return rawString(r.data[end-len(raw)+1 : end-1]), nil
		}
		return r.str(raw), nil
	default:
		tok, err := r.dec.ReadToken()
		if err != nil {
			return nil, r.syntax(err)
		}
		switch tok.Kind() {
		case 't':
			r.size += len("true")
			return true, nil
		case 'f':
			r.size += len("false")
			return false, nil
		case 'n':
			r.size += len("null")
			return nil, nil
		}
		return nil, &StrictError{Field: pointerPath(r.dec.StackPointer()), Reason: "unexpected " + tok.String()}
	}
}

// str decodes a string the decoder has already validated (raw is its
// quoted form) and checks it is minimally escaped (RFC 8785 §3.2.2.2): an
// unescaped string always is, since JSON text cannot hold a quote,
// backslash or control character unescaped; an escaped one is compared
// with the library's minimal quoting of its value.
func (r *strictReader) str(raw []byte) string {
	r.size += len(raw)
	if bytes.IndexByte(raw, '\\') < 0 {
		if in, ok := r.intern(raw); ok {
			return in.s
		}
		return string(raw[1 : len(raw)-1])
	}
	s, err := jsontext.AppendUnquote(nil, raw)
	if err != nil { // cannot happen: the decoder has read raw as a string
		r.canon = false
		return string(raw)
	}
	r.quote, _ = jsontext.AppendQuote(r.quote[:0], s)
	if !bytes.Equal(r.quote, raw) {
		r.canon = false
	}
	return string(s)
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names (it differs from byte order only between characters
// above U+FFFF, written with surrogates, and those from U+E000 to U+FFFF).
func compareUTF16(a, b string) int {
	for a != "" && b != "" {
		ra, na := utf8.DecodeRuneInString(a)
		rb, nb := utf8.DecodeRuneInString(b)
		if ra != rb {
			ka, kb := ra, rb
			if (ra > 0xFFFF) != (rb > 0xFFFF) {
				if ra > 0xFFFF {
					ka, _ = utf16.EncodeRune(ra)
				} else {
					kb, _ = utf16.EncodeRune(rb)
				}
			}
			return cmp.Compare(ka, kb)
		}
		a, b = a[na:], b[nb:]
	}
	return cmp.Compare(len(a), len(b))
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
