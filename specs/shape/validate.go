package shape

import (
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// node is one compiled subschema. Absent bounds are -1.
type node struct {
	loc    string
	always int8 // 1: the schema true or {}, -1: the schema false

	types      typeSet
	hasConst   bool
	constV     any
	enum       []any
	format     func(string) error
	formatName string
	ref        *node

	props      map[string]*node
	propNames  []string // sorted
	propNodes  []*node  // the schemas of propNames
	addFalse   bool
	additional *node
	required   []string
	minProps   int
	maxProps   int

	items    *node
	minItems int
	maxItems int
	unique   bool

	minLen  int
	maxLen  int
	pattern *lazyRegexp

	minimum, maximum *big.Rat

	keywords []string // the schema's keywords, sorted (annotations left out)
	dispatch *dispatch

	not        *node
	allOf      []*node
	oneOf      []*node
	ifN, thenN *node
}

// dispatch indexes an allOf of "if member prop is const K then …"
// branches by K (see dispatchOf).
type dispatch struct {
	prop    string
	byValue map[string]int
}

type typeSet uint8

const (
	tObject typeSet = 1 << iota
	tArray
	tString
	tInteger
	tNumber
	tBoolean
	tNull
)

var typeBits = map[string]typeSet{"object": tObject, "array": tArray, "string": tString,
	"integer": tInteger, "number": tNumber, "boolean": tBoolean, "null": tNull}

// Error is why a document does not validate: the member or item at Path
// (member names and array indexes from the document's root) breaks the
// rule Keyword. For a missing required member or an unknown one, Path
// ends with that member's name.
type Error struct {
	Path    []string
	Keyword string
	Message string

	missing, extra []string // required: the missing names; additionalProperties: the unknown ones
}

func (e *Error) Error() string {
	if len(e.Path) == 0 {
		return e.Message
	}
	return strings.Join(e.Path, "/") + ": " + e.Message
}

// Validate checks a document decoded as encoding/json does with UseNumber
// (map[string]any, []any, string, json.Number, bool, nil), as the strict
// reader decodes it. It returns nil if the document is valid, without
// allocating. Otherwise it returns the first failure in the order a
// JSON Schema validator evaluates keywords (type, const, enum, format,
// $ref, then the keywords of the value's type, then not, allOf, oneOf,
// if/then), members in name order; except that an unknown member that
// differs only in letter case from a missing required one ("Kind" for
// "kind") is reported as that, being the likelier mistake.
func (s *Schema) Validate(v any) *Error {
	if s.n.eval(v, nil) {
		return nil
	}
	r := &run{}
	s.n.eval(v, r)
	if len(r.errs) == 0 {
		// eval with and without a run must agree; this would be a bug here.
		return &Error{Keyword: "internal", Message: "specs/shape: the document fails validation but no failure was recorded"}
	}
	if e := letterCase(r.errs); e != nil {
		return e
	}
	return r.errs[0]
}

// run records failures. eval with a nil run only answers valid or not,
// stops at the first failure and never allocates (it is also how "if",
// "not" and "oneOf" test their subschemas). With a run it evaluates every
// keyword and records each failure, in evaluation order, at its path.
type run struct {
	path []string
	errs []*Error
}

func (r *run) add(keyword, format string, args ...any) {
	r.addAt(nil, keyword, fmt.Sprintf(format, args...))
}

func (r *run) addAt(last []string, keyword, msg string) *Error {
	e := &Error{Path: append(slices.Clone(r.path), last...), Keyword: keyword, Message: msg}
	r.errs = append(r.errs, e)
	return e
}

func (n *node) eval(v any, r *run) bool {
	switch n.always {
	case 1:
		return true
	case -1:
		if r != nil {
			r.add("false", "no value is allowed here")
		}
		return false
	}
	// type, const, enum and format: a failure ends the evaluation of this
	// schema, as in the reference validators (nothing else is said about a
	// value of the wrong type).
	if n.types != 0 && !n.types.has(v) {
		if r != nil {
			r.add("type", "must be %s, not %s", n.types, describeType(v))
		}
		return false
	}
	if n.hasConst && !equal(v, n.constV) {
		if r != nil {
			r.add("const", "must be %s, not %s", show(n.constV), show(v))
		}
		return false
	}
	if n.enum != nil && !inEnum(v, n.enum) {
		if r != nil {
			r.add("enum", "must be one of %s; it is %s", showList(n.enum), show(v))
		}
		return false
	}
	if n.format != nil {
		if s, ok := v.(string); ok {
			if err := n.format(s); err != nil {
				if r != nil {
					r.add("format", "%s", err)
				}
				return false
			}
		}
	}
	ok := true
	if n.ref != nil && !n.ref.eval(v, r) {
		if r == nil {
			return false
		}
		ok = false
	}
	var typed bool
	switch v := v.(type) {
	case map[string]any:
		typed = n.object(v, r)
	case []any:
		typed = n.array(v, r)
	case string:
		typed = n.str(v, r)
	case json.Number:
		typed = n.number(v, r)
	default:
		typed = true
	}
	if !typed {
		if r == nil {
			return false
		}
		ok = false
	}
	return n.conditions(v, r) && ok
}

func (n *node) conditions(v any, r *run) bool {
	ok := true
	if n.not != nil && n.not.eval(v, nil) {
		if r == nil {
			return false
		}
		if n.not.always == 1 {
			r.add("not", "may not be present here")
		} else {
			r.add("not", "must not match the schema %s", n.not.loc)
		}
		ok = false
	}
	if d := n.dispatch; d != nil {
		// The "if" of every branch holds when the value is not an object
		// or lacks the member (properties then asserts nothing); when the
		// member is there, only the branch of its value holds, if any.
		m, isObject := v.(map[string]any)
		k, has := m[d.prop]
		if isObject && has {
			if s, isString := k.(string); isString {
				if i, found := d.byValue[s]; found && !n.allOf[i].thenN.eval(v, r) {
					if r == nil {
						return false
					}
					ok = false
				}
			}
		} else {
			for _, s := range n.allOf {
				if !s.thenN.eval(v, r) {
					if r == nil {
						return false
					}
					ok = false
				}
			}
		}
	} else {
		for _, s := range n.allOf {
			if !s.eval(v, r) {
				if r == nil {
					return false
				}
				ok = false
			}
		}
	}
	if len(n.oneOf) > 0 {
		first, second := -1, -1
		for i, s := range n.oneOf {
			if s.eval(v, nil) {
				if first < 0 {
					first = i
				} else {
					second = i
					break
				}
			}
		}
		switch {
		case first < 0:
			if r == nil {
				return false
			}
			for _, s := range n.oneOf {
				s.eval(v, r)
			}
			ok = false
		case second >= 0:
			if r == nil {
				return false
			}
			r.add("oneOf", "%s", n.oneOfMessage(first, second))
			ok = false
		}
	}
	if n.ifN != nil && n.thenN != nil && n.ifN.eval(v, nil) && !n.thenN.eval(v, r) {
		if r == nil {
			return false
		}
		ok = false
	}
	return ok
}

// oneOfMessage says which alternatives matched; alternatives that only
// require members ({"required": ["approval"]}) are named by those members.
func (n *node) oneOfMessage(i, j int) string {
	var names []string
	for _, s := range n.oneOf {
		if len(s.required) != 1 || s.types != 0 || s.props != nil || s.ref != nil || s.allOf != nil {
			return fmt.Sprintf("matches alternatives %d and %d of %s; exactly one must match", i, j, n.loc+"/oneOf")
		}
		names = append(names, strconv.Quote(s.required[0]))
	}
	return fmt.Sprintf("must have exactly one of the members %s; it has %s and %s", strings.Join(names, ", "), names[i], names[j])
}

func (n *node) object(m map[string]any, r *run) bool {
	ok := true
	if n.minProps >= 0 && len(m) < n.minProps {
		if r == nil {
			return false
		}
		r.add("minProperties", "has %d members; at least %d are required", len(m), n.minProps)
		ok = false
	}
	if n.maxProps >= 0 && len(m) > n.maxProps {
		if r == nil {
			return false
		}
		r.add("maxProperties", "has %d members; at most %d are allowed", len(m), n.maxProps)
		ok = false
	}
	var missing []string
	for _, name := range n.required {
		if _, has := m[name]; !has {
			if r == nil {
				return false
			}
			missing = append(missing, name)
		}
	}
	if missing != nil {
		e := r.addAt(missing[:1], "required", fmt.Sprintf("required member %q is missing", missing[0]))
		e.missing = missing
		ok = false
	}
	if r == nil {
		// Look the schema's members up rather than iterate the map (much
		// the dearer of the two, and the 21 "if kind is …" of an entry
		// each look at one member only); only when the document has
		// members the schema does not name are those visited.
		present := 0
		for i, name := range n.propNames {
			if val, has := m[name]; has {
				present++
				if !n.propNodes[i].eval(val, nil) {
					return false
				}
			}
		}
		if present == len(m) {
			return true
		}
		if n.addFalse {
			return false
		}
		if n.additional != nil {
			for k, val := range m {
				if n.props[k] == nil && !n.additional.eval(val, nil) {
					return false
				}
			}
		}
		return true
	}
	var extra []string
	for _, k := range slices.Sorted(keysOf(m)) {
		p := n.props[k]
		if p == nil && n.addFalse {
			extra = append(extra, k)
			continue
		}
		if p == nil {
			p = n.additional
		}
		if p != nil {
			r.path = append(r.path, k)
			ok = p.eval(m[k], r) && ok
			r.path = r.path[:len(r.path)-1]
		}
	}
	if extra != nil {
		msg := fmt.Sprintf("unknown member %q", extra[0])
		if len(n.propNames) > 0 {
			msg += fmt.Sprintf(" (the members allowed here are %s)", strings.Join(n.propNames, ", "))
		} else {
			msg += " (no member is allowed here)"
		}
		e := r.addAt(extra[:1], "additionalProperties", msg)
		e.extra = extra
		ok = false
	}
	return ok
}

func (n *node) array(a []any, r *run) bool {
	ok := true
	if n.minItems >= 0 && len(a) < n.minItems {
		if r == nil {
			return false
		}
		r.add("minItems", "has %d items; at least %d are required", len(a), n.minItems)
		ok = false
	}
	if n.maxItems >= 0 && len(a) > n.maxItems {
		if r == nil {
			return false
		}
		r.add("maxItems", "has %d items; at most %d are allowed", len(a), n.maxItems)
		ok = false
	}
	if n.unique {
	dup:
		for j := 1; j < len(a); j++ {
			for i := 0; i < j; i++ {
				if equal(a[i], a[j]) {
					if r == nil {
						return false
					}
					r.add("uniqueItems", "items %d and %d are equal (%s); every item must be different", i, j, show(a[i]))
					ok = false
					break dup
				}
			}
		}
	}
	if n.items != nil {
		for i, x := range a {
			if r == nil {
				if !n.items.eval(x, nil) {
					return false
				}
				continue
			}
			r.path = append(r.path, strconv.Itoa(i))
			ok = n.items.eval(x, r) && ok
			r.path = r.path[:len(r.path)-1]
		}
	}
	return ok
}

func (n *node) str(s string, r *run) bool {
	ok := true
	if n.minLen >= 0 || n.maxLen >= 0 {
		k := utf8.RuneCountInString(s)
		if n.minLen >= 0 && k < n.minLen {
			if r == nil {
				return false
			}
			r.add("minLength", "is %d characters long; at least %d are required", k, n.minLen)
			ok = false
		}
		if n.maxLen >= 0 && k > n.maxLen {
			if r == nil {
				return false
			}
			r.add("maxLength", "is %d characters long; at most %d are allowed", k, n.maxLen)
			ok = false
		}
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		if r == nil {
			return false
		}
		r.add("pattern", "%s does not have the required form %s", show(s), n.pattern)
		ok = false
	}
	return ok
}

func (n *node) number(num json.Number, r *run) bool {
	ok := true
	if n.minimum != nil && cmpNumber(num, n.minimum) < 0 {
		if r == nil {
			return false
		}
		r.add("minimum", "is %s; the minimum is %s", num, n.minimum.RatString())
		ok = false
	}
	if n.maximum != nil && cmpNumber(num, n.maximum) > 0 {
		if r == nil {
			return false
		}
		r.add("maximum", "is %s; the maximum is %s", num, n.maximum.RatString())
		ok = false
	}
	return ok
}

// cmpNumber compares a JSON number with a bound. Integers that fit an
// int64 (every number the strict reader passes) are compared without
// allocating; anything else exactly, as a rational.
func cmpNumber(num json.Number, bound *big.Rat) int {
	if bound.IsInt() && bound.Num().IsInt64() && isIntLiteral(string(num)) {
		if k, err := strconv.ParseInt(string(num), 10, 64); err == nil {
			return cmpInt(k, bound.Num().Int64())
		}
	}
	x, ok := new(big.Rat).SetString(string(num))
	if !ok {
		return 0 // not a number encoding/json would produce
	}
	return x.Cmp(bound)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// isIntLiteral reports whether s is an optional minus and 1 to 18 digits:
// an integer strconv.ParseInt reads without error.
func isIntLiteral(s string) bool {
	s = strings.TrimPrefix(s, "-")
	if len(s) == 0 || len(s) > 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (t typeSet) has(v any) bool {
	switch v := v.(type) {
	case map[string]any:
		return t&tObject != 0
	case []any:
		return t&tArray != 0
	case string:
		return t&tString != 0
	case bool:
		return t&tBoolean != 0
	case nil:
		return t&tNull != 0
	case json.Number:
		return t&tNumber != 0 || (t&tInteger != 0 && isInteger(v))
	}
	return false
}

// isInteger: JSON Schema counts 1.0 and 1e2 as integers, like any number
// with a zero fraction.
func isInteger(num json.Number) bool {
	if isIntLiteral(string(num)) {
		return true
	}
	x, ok := new(big.Rat).SetString(string(num))
	return ok && x.IsInt()
}

func (t typeSet) String() string {
	var names []string
	for _, x := range []struct {
		bit  typeSet
		name string
	}{{tObject, "an object"}, {tArray, "an array"}, {tString, "a string"}, {tInteger, "an integer"},
		{tNumber, "a number"}, {tBoolean, "a boolean (true or false)"}, {tNull, "null"}} {
		if t&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	return strings.Join(names, " or ")
}

func describeType(v any) string {
	switch v := v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	case json.Number:
		if isInteger(v) {
			return "the integer " + string(v)
		}
		return "the number " + string(v)
	}
	return fmt.Sprintf("a %T", v)
}

// equal is JSON equality: numbers by value (1 and 1.0 are equal), objects
// regardless of member order.
func equal(a, b any) bool {
	switch a := a.(type) {
	case string:
		b, ok := b.(string)
		return ok && a == b
	case bool:
		b, ok := b.(bool)
		return ok && a == b
	case nil:
		return b == nil
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		if a == b {
			return true
		}
		if isIntLiteral(string(a)) && isIntLiteral(string(b)) {
			return false // distinct integer literals of at most 18 digits: leading zeros cannot occur in JSON
		}
		x, okx := new(big.Rat).SetString(string(a))
		y, oky := new(big.Rat).SetString(string(b))
		return okx && oky && x.Cmp(y) == 0
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !equal(a[i], b[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, x := range a {
			y, has := b[k]
			if !has || !equal(x, y) {
				return false
			}
		}
		return true
	}
	return false
}

func inEnum(v any, enum []any) bool {
	for _, x := range enum {
		if equal(v, x) {
			return true
		}
	}
	return false
}

// show renders a value for a message: short, as JSON.
func show(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	}
	out, _ := json.Marshal(v)
	if len(out) > 80 {
		return string(out[:77]) + "…"
	}
	return string(out)
}

func showList(vals []any) string {
	var parts []string
	for _, v := range vals {
		parts = append(parts, show(v))
	}
	return strings.Join(parts, ", ")
}

// letterCase finds a required member reported missing beside an unknown
// member of the same object whose name differs only in letter case, and
// reports the unknown member: member names are case-sensitive, and Go's
// encoding/json (which an agency's tool may use) is not.
func letterCase(errs []*Error) *Error {
	for _, m := range errs {
		for _, x := range errs {
			if m.missing == nil || x.extra == nil || !slices.Equal(m.Path[:len(m.Path)-1], x.Path[:len(x.Path)-1]) {
				continue
			}
			for _, want := range m.missing {
				for _, got := range x.extra {
					if strings.EqualFold(want, got) {
						return &Error{Path: append(slices.Clone(x.Path[:len(x.Path)-1]), got), Keyword: "additionalProperties",
							Message: fmt.Sprintf("unknown member %q: member names are case-sensitive, it must be %q", got, want)}
					}
				}
			}
		}
	}
	return nil
}
