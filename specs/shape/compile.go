// Package shape is a compiled validator for the subset of JSON Schema
// 2020-12 that acdledger's published schemas (specs/entry.schema.json,
// specs/registry.schema.json) use. The schemas stay the contract and the
// single source of truth; this package only reads them.
//
// Why not a general JSON Schema library at run time: admission and audit
// validate every entry, and a general validator spent about half of
// specs.ParseEntry allocating, while its package init and schema
// compilation were most of the start-up of `acdledger verify receipt`. A
// validator of the few keywords the schemas use can check the strict
// reader's decoded document without allocating when it is valid.
//
// Because a keyword this package did not implement would be silently
// ignored, Compile refuses every keyword it does not implement, anywhere in
// a schema document (annotations the caller names are the only exception).
// A schema cannot gain a rule that the run time skips.
//
// Errors are reported as jsonschema-style validators report them (the
// keywords of one schema object in the same order, the first failure
// found), so the field an error names is the one a general validator names:
// specs' differential tests check that against santhosh-tekuri/jsonschema.
package shape

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Draft is the only dialect the compiler reads.
const Draft = "https://json-schema.org/draft/2020-12/schema"

// Options say what the compiler accepts beyond the keywords it implements.
type Options struct {
	// Formats are the "format" values the schemas may use, each with its
	// check of a string (an error is the reason, in English). Formats
	// assert: a format that is not listed here is refused at compile time.
	Formats map[string]func(string) error
	// Annotations are keywords that carry no validation and that the
	// compiler should accept (title, description and $comment always are).
	Annotations []string
}

// Set is a compiled set of schema documents.
type Set struct {
	nodes map[string]*node // by absolute location: $id#json-pointer
}

// Schema is one compiled schema of a Set.
type Schema struct {
	n *node
}

// keywords the compiler implements; every other keyword is refused.
var implemented = map[string]bool{
	"$schema": true, "$id": true, "$defs": true, "$ref": true,
	"type": true, "const": true, "enum": true, "format": true,
	"properties": true, "additionalProperties": true, "required": true,
	"minProperties": true, "maxProperties": true,
	"items": true, "minItems": true, "maxItems": true, "uniqueItems": true,
	"minLength": true, "maxLength": true, "pattern": true,
	"minimum": true, "maximum": true,
	"not": true, "allOf": true, "oneOf": true, "if": true, "then": true,
}

var alwaysAnnotations = []string{"title", "description", "$comment"}

// Compile reads schema documents (JSON, each with an absolute $id and
// "$schema" 2020-12), checks every keyword of every subschema, including
// definitions nothing refers to, and resolves every $ref.
func Compile(docs [][]byte, opt Options) (*Set, error) {
	c := &compiler{opt: opt, set: &Set{nodes: map[string]*node{}}, annotations: map[string]bool{}, patterns: map[string]*lazyRegexp{}}
	for _, a := range append(slices.Clone(alwaysAnnotations), opt.Annotations...) {
		c.annotations[a] = true
	}
	for i, raw := range docs {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var doc any
		if err := dec.Decode(&doc); err != nil {
			return nil, fmt.Errorf("schema document %d: %v", i, err)
		}
		m, ok := doc.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("schema document %d: not a JSON object", i)
		}
		id, _ := m["$id"].(string)
		u, err := url.Parse(id)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return nil, fmt.Errorf("schema document %d: $id %q is not an absolute URL without a fragment", i, id)
		}
		if m["$schema"] != Draft {
			return nil, fmt.Errorf("%s: $schema must be %s", id, Draft)
		}
		if c.set.nodes[id+"#"] != nil {
			return nil, fmt.Errorf("%s: two schema documents with that $id", id)
		}
		if _, err := c.compile(u, "", m); err != nil {
			return nil, err
		}
	}
	for _, p := range c.refs {
		target, err := p.base.Parse(p.ref)
		if err != nil {
			return nil, fmt.Errorf("%s: $ref %q: %v", p.n.loc, p.ref, err)
		}
		frag := target.Fragment
		target.Fragment = ""
		if frag != "" && !strings.HasPrefix(frag, "/") {
			return nil, fmt.Errorf("%s: $ref %q: only JSON Pointer fragments are supported (no anchors)", p.n.loc, p.ref)
		}
		t := c.set.nodes[target.String()+"#"+frag]
		if t == nil {
			return nil, fmt.Errorf("%s: $ref %q: no schema at %s#%s", p.n.loc, p.ref, target, frag)
		}
		p.n.ref = t
	}
	return c.set, nil
}

// Schema returns the compiled schema at an absolute location: a document's
// $id, optionally with a JSON Pointer fragment ("…/entry.schema.json#/$defs/time").
func (s *Set) Schema(location string) (*Schema, error) {
	if !strings.Contains(location, "#") {
		location += "#"
	}
	n := s.nodes[location]
	if n == nil {
		return nil, fmt.Errorf("no schema at %s", location)
	}
	return &Schema{n}, nil
}

type pendingRef struct {
	n    *node
	base *url.URL
	ref  string
}

type compiler struct {
	opt         Options
	set         *Set
	annotations map[string]bool
	refs        []pendingRef
	patterns    map[string]*lazyRegexp
	baseURL     *url.URL // the document being compiled, and its String()
	baseStr     string
}

// lazyRegexp is a pattern compiled on first use.
// A simple pattern is matched without a regexp at all (simple.go).
type lazyRegexp struct {
	src    string
	simple *simplePattern
	once   sync.Once
	re     *regexp.Regexp
}

func (l *lazyRegexp) MatchString(s string) bool {
	if l.simple != nil {
		return l.simple.MatchString(s)
	}
	l.once.Do(func() { l.re = regexp.MustCompile(l.src) }) // parsed at Compile: cannot fail
	return l.re.MatchString(s)
}

func (l *lazyRegexp) String() string { return l.src }

// compile compiles the subschema v found at ptr (a JSON Pointer) in the
// document base, and every subschema inside it.
func (c *compiler) compile(base *url.URL, ptr string, v any) (*node, error) {
	if c.baseURL != base {
		c.baseURL, c.baseStr = base, base.String()
	}
	n := &node{loc: c.baseStr + "#" + ptr, minProps: -1, maxProps: -1, minItems: -1, maxItems: -1, minLen: -1, maxLen: -1}
	c.set.nodes[n.loc] = n
	fail := func(kw, format string, args ...any) (*node, error) {
		return nil, fmt.Errorf("%s/%s: %s", n.loc, kw, fmt.Sprintf(format, args...))
	}
	switch v := v.(type) {
	case bool:
		n.always = 1
		if !v {
			n.always = -1
		}
		return n, nil
	case map[string]any:
	default:
		return nil, fmt.Errorf("%s: a schema must be an object or a boolean", n.loc)
	}
	m := v.(map[string]any)
	if len(m) == 0 {
		n.always = 1
	}
	keywords := make([]string, 0, len(m))
	for kw := range m {
		keywords = append(keywords, kw)
	}
	slices.Sort(keywords)
	for _, kw := range keywords {
		if !implemented[kw] && !c.annotations[kw] {
			return fail(kw, "keyword %q is not implemented by specs/shape (so a validator would ignore it); implement it there before a schema uses it", kw)
		}
		if (kw == "$id" || kw == "$schema") && ptr != "" {
			return fail(kw, "%s is only supported at the root of a schema document", kw)
		}
	}
	sub := func(kw string, raw any) (*node, error) {
		return c.compile(base, ptr+"/"+escape(kw), raw)
	}
	var err error
	for _, kw := range keywords {
		raw := m[kw]
		switch kw {
		case "$defs", "properties":
			defs, ok := raw.(map[string]any)
			if !ok {
				return fail(kw, "must be an object of schemas")
			}
			if kw == "properties" {
				n.props = map[string]*node{}
			}
			for _, name := range slices.Sorted(keysOf(defs)) {
				s, err := c.compile(base, ptr+"/"+kw+"/"+escape(name), defs[name])
				if err != nil {
					return nil, err
				}
				if kw == "properties" {
					n.props[name] = s
					n.propNames = append(n.propNames, name)
					n.propNodes = append(n.propNodes, s)
				}
			}
		case "$ref":
			ref, ok := raw.(string)
			if !ok {
				return fail(kw, "must be a string")
			}
			c.refs = append(c.refs, pendingRef{n, base, ref})
		case "type":
			names, ok := stringList(raw)
			if !ok || len(names) == 0 {
				return fail(kw, "must be a type name or a non-empty list of them")
			}
			for _, t := range names {
				bit, known := typeBits[t]
				if !known || n.types&bit != 0 {
					return fail(kw, "%q is not a JSON Schema type or is listed twice", t)
				}
				n.types |= bit
			}
		case "const":
			if !scalar(raw) {
				return fail(kw, "only a string, number, boolean or null is supported")
			}
			n.hasConst, n.constV = true, raw
		case "enum":
			vals, ok := raw.([]any)
			if !ok || len(vals) == 0 {
				return fail(kw, "must be a non-empty array")
			}
			for i, x := range vals {
				if !scalar(x) {
					return fail(kw, "value %d: only strings, numbers, booleans and null are supported", i)
				}
				for _, y := range vals[:i] {
					if equal(x, y) {
						return fail(kw, "value %d is listed twice", i)
					}
				}
			}
			n.enum = vals
		case "format":
			name, _ := raw.(string)
			f := c.opt.Formats[name]
			if f == nil {
				return fail(kw, "format %q is not one the validator checks (it would be ignored)", raw)
			}
			n.format, n.formatName = f, name
		case "additionalProperties":
			if b, ok := raw.(bool); ok && !b {
				n.addFalse = true
			} else if n.additional, err = sub(kw, raw); err != nil {
				return nil, err
			}
		case "required":
			names, ok := raw.([]any)
			if !ok {
				return fail(kw, "must be an array of member names")
			}
			for _, x := range names {
				s, ok := x.(string)
				if !ok || slices.Contains(n.required, s) {
					return fail(kw, "must be an array of distinct member names")
				}
				n.required = append(n.required, s)
			}
		case "minProperties", "maxProperties", "minItems", "maxItems", "minLength", "maxLength":
			k, ok := count(raw)
			if !ok {
				return fail(kw, "must be a non-negative integer")
			}
			switch kw {
			case "minProperties":
				n.minProps = k
			case "maxProperties":
				n.maxProps = k
			case "minItems":
				n.minItems = k
			case "maxItems":
				n.maxItems = k
			case "minLength":
				n.minLen = k
			case "maxLength":
				n.maxLen = k
			}
		case "minimum", "maximum":
			num, ok := raw.(json.Number)
			r, okr := new(big.Rat).SetString(string(num))
			if !ok || !okr {
				return fail(kw, "must be a number")
			}
			if kw == "minimum" {
				n.minimum = r
			} else {
				n.maximum = r
			}
		case "uniqueItems":
			b, ok := raw.(bool)
			if !ok {
				return fail(kw, "must be a boolean")
			}
			n.unique = b
		case "pattern":
			src, ok := raw.(string)
			if !ok {
				return fail(kw, "must be a string")
			}
			if n.pattern = c.patterns[src]; n.pattern == nil {
				// Parsed now, so that a bad pattern is refused at compile
				// time; compiled on first use (compiling all of them was
				// most of the compilation, which every `verify receipt`
				// pays), once per distinct pattern.
				if _, err := syntax.Parse(src, syntax.Perl); err != nil {
					return fail(kw, "%v", err)
				}
				n.pattern = &lazyRegexp{src: src, simple: compileSimple(src)}
				c.patterns[src] = n.pattern
			}
		case "items":
			if n.items, err = sub(kw, raw); err != nil {
				return nil, err
			}
		case "not":
			if n.not, err = sub(kw, raw); err != nil {
				return nil, err
			}
		case "if":
			if n.ifN, err = sub(kw, raw); err != nil {
				return nil, err
			}
		case "then":
			if n.thenN, err = sub(kw, raw); err != nil {
				return nil, err
			}
		case "allOf", "oneOf":
			list, ok := raw.([]any)
			if !ok || len(list) == 0 {
				return fail(kw, "must be a non-empty array of schemas")
			}
			for i, x := range list {
				s, err := c.compile(base, ptr+"/"+kw+"/"+strconv.Itoa(i), x)
				if err != nil {
					return nil, err
				}
				if kw == "allOf" {
					n.allOf = append(n.allOf, s)
				} else {
					n.oneOf = append(n.oneOf, s)
				}
			}
		}
	}
	if n.thenN != nil && n.ifN == nil {
		return fail("then", "then without if")
	}
	n.keywords = slices.DeleteFunc(keywords, func(kw string) bool { return c.annotations[kw] })
	n.dispatch = dispatchOf(n.allOf)
	return n, nil
}

// dispatchOf recognises an allOf of the form the entry schema uses per
// kind, [{"if": {"properties": {P: {"const": "K"}}}, "then": S}, …] with
// one P and distinct string constants, and indexes its branches by K, so
// that validation looks P up once instead of testing every "if".
func dispatchOf(branches []*node) *dispatch {
	if len(branches) < 2 {
		return nil
	}
	d := &dispatch{byValue: map[string]int{}}
	for i, b := range branches {
		if !slices.Equal(b.keywords, []string{"if", "then"}) || !slices.Equal(b.ifN.keywords, []string{"properties"}) || len(b.ifN.propNames) != 1 {
			return nil
		}
		p, c := b.ifN.propNames[0], b.ifN.propNodes[0]
		k, ok := c.constV.(string)
		if !slices.Equal(c.keywords, []string{"const"}) || !ok || (i > 0 && p != d.prop) {
			return nil
		}
		if _, dup := d.byValue[k]; dup {
			return nil
		}
		d.prop, d.byValue[k] = p, i
	}
	return d
}

func keysOf[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// escape encodes a JSON Pointer reference token (RFC 6901).
func escape(tok string) string {
	return strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
}

func stringList(v any) ([]string, bool) {
	if s, ok := v.(string); ok {
		return []string{s}, true
	}
	list, ok := v.([]any)
	if !ok {
		return nil, false
	}
	var out []string
	for _, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

func scalar(v any) bool {
	switch v.(type) {
	case string, json.Number, bool, nil:
		return true
	}
	return false
}

func count(v any) (int, bool) {
	num, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	k, err := strconv.Atoi(string(num))
	return k, err == nil && k >= 0
}

// Strings returns every string the schemas name: member names (of
// properties and required) and string values of const and enum. A reader
// may intern them, since most strings of a valid document are among them.
func (s *Set) Strings() []string {
	seen := map[string]bool{}
	var out []string
	add := func(x any) {
		if str, ok := x.(string); ok && !seen[str] {
			seen[str] = true
			out = append(out, str)
		}
	}
	for _, n := range s.nodes {
		for _, p := range n.propNames {
			add(p)
		}
		for _, r := range n.required {
			add(r)
		}
		if n.hasConst {
			add(n.constV)
		}
		for _, e := range n.enum {
			add(e)
		}
	}
	slices.Sort(out)
	return out
}

// Keywords lists the keywords the compiler implements, sorted.
func Keywords() []string { return slices.Sorted(keysOf(implemented)) }
