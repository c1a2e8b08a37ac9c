package specs

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs/shape"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// The differential tests: specs/shape, which the run time uses, and the
// general validator santhosh-tekuri/jsonschema, which it used before,
// must reach the same verdict on every document — valid or not, and if
// not, about the same field. The reference visits an object's members in
// Go's random map order, so when several members fail it may name any of
// them; shape (members in name order) must then name one of those.

// diff compares both validators on one document.
func diff(t testing.TB, what string, ref *jsonschema.Schema, s *shape.Schema, doc any) {
	t.Helper()
	want := refValidate(ref, doc)
	got := s.Validate(doc)
	switch {
	case want == nil && got == nil:
		return
	case want == nil:
		t.Fatalf("%s: shape refuses (%s: %s), jsonschema accepts\n%s", what, fieldPath(got.Path), got.Message, show(doc))
	case got == nil:
		t.Fatalf("%s: jsonschema refuses (%s: %s), shape accepts\n%s", what, want.field, want.msg, show(doc))
	}
	field := fieldPath(got.Path)
	if field == want.field || slices.Contains(want.fields, field) {
		return
	}
	t.Fatalf("%s: shape names %s (%s), jsonschema %s (%s; all failures: %v)\n%s", what, field, got.Message, want.field, want.msg, want.fields, show(doc))
}

func show(doc any) string {
	out, _ := json.Marshal(doc)
	return string(out)
}

// corpus is every entry payload and registry in specs/vectors and in the
// checked-in fuzz seeds, decoded by the strict reader.
type corpus struct {
	entries    []any
	registries []any
}

func loadCorpus(t testing.TB) *corpus {
	c := &corpus{}
	addEntry := func(payload []byte) {
		if doc, err := readStrict(payload); err == nil {
			c.entries = append(c.entries, doc)
		}
	}
	addEnvelope := func(raw []byte) {
		if env, err := ReadEnvelope(raw); err == nil {
			addEntry(env.Payload)
		}
	}
	var walk func(name string, v any)
	walk = func(name string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if (k == "registry" || k == "in_force") && isObject(x) {
					raw, _ := json.Marshal(x)
					if doc, err := readStrict(raw); err == nil {
						c.registries = append(c.registries, doc)
					}
				}
				walk(k, x)
			}
		case []any:
			for _, x := range v {
				walk(name, x)
			}
		case string:
			if strings.HasPrefix(strings.TrimSpace(v), "{") {
				addEnvelope([]byte(v))
			}
		}
	}
	err := filepath.WalkDir("vectors", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".json" {
			return err
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		var v any
		if json.Unmarshal(raw, &v) != nil {
			return nil
		}
		if filepath.Base(path) == "registry.json" && isObject(v) && v.(map[string]any)["agencies"] != nil {
			if doc, err := readStrict(raw); err == nil {
				c.registries = append(c.registries, doc)
			}
		}
		walk("", v)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"testdata/fuzz/FuzzParseEntry", "testdata/fuzz/FuzzCheckEnvelope", "testdata/fuzz/FuzzShapeDifferential"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			for _, arg := range fuzzArgs(t, f) {
				addEntry(arg)
				addEnvelope(arg)
			}
		}
	}
	if len(c.entries) < 20 || len(c.registries) < 2 {
		t.Fatalf("corpus: %d entries, %d registries; the vectors were not found", len(c.entries), len(c.registries))
	}
	return c
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

// fuzzArgs reads the []byte and string arguments of a Go fuzz corpus file.
func fuzzArgs(t testing.TB, path string) [][]byte {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		for _, p := range []string{"[]byte(", "string("} {
			if strings.HasPrefix(line, p) && strings.HasSuffix(line, ")") {
				if s, err := strconv.Unquote(line[len(p) : len(line)-1]); err == nil {
					out = append(out, []byte(s))
				}
			}
		}
	}
	return out
}

// mutations returns documents that differ from doc in one place: each
// member removed, replaced by values of every type (and by values known
// to break a rule), an unknown member added, a name in another case.
func mutations(doc any) []any {
	values := []any{"x", "", json.Number("0"), json.Number("-1"), json.Number("9007199254740991"), json.Number("2"),
		true, nil, map[string]any{}, []any{}, []any{"x", "x"}, "NAINAI", "ESSENTIAL_CONTENT", "2026-13-01T00:00:00Z",
		"2026-06-01T10:00:00+09:00", "commission-root", "nco", "approval.decided", strings.Repeat("a", 129),
		"sha256:" + strings.Repeat("0", 64), map[string]any{"x": json.Number("1")}}
	var out []any
	var walk func(v any, edit func(func(any) any))
	walk = func(v any, edit func(func(any) any)) {
		for _, x := range values {
			edit(func(any) any { return x })
		}
		switch v := v.(type) {
		case map[string]any:
			edit(func(old any) any { m := clone(old).(map[string]any); m["unknown_member"] = "x"; return m })
			for _, k := range slices.Sorted(keysOfMap(v)) {
				edit(func(old any) any { m := clone(old).(map[string]any); delete(m, k); return m })
				edit(func(old any) any {
					m := clone(old).(map[string]any)
					m[strings.ToUpper(k[:1])+k[1:]] = m[k]
					delete(m, k)
					return m
				})
				walk(v[k], func(f func(any) any) {
					edit(func(old any) any { m := clone(old).(map[string]any); m[k] = f(m[k]); return m })
				})
			}
		case []any:
			edit(func(old any) any { a := clone(old).([]any); return append(a, a...) })
			for i := range v {
				walk(v[i], func(f func(any) any) {
					edit(func(old any) any { a := clone(old).([]any); a[i] = f(a[i]); return a })
				})
			}
		}
	}
	walk(doc, func(f func(any) any) { out = append(out, f(doc)) })
	return out
}

func keysOfMap(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = clone(x)
		}
		return m
	case []any:
		a := make([]any, len(v))
		for i, x := range v {
			a[i] = clone(x)
		}
		return a
	}
	return v
}

// TestShapeMatchesJSONSchema runs every vector, every fuzz seed and every
// one-place mutation of them through both validators.
func TestShapeMatchesJSONSchema(t *testing.T) {
	c := loadCorpus(t)
	n := 0
	perKind := map[any]int{}
	for i, doc := range c.entries {
		diff(t, "entry "+strconv.Itoa(i), refEntry(), entrySchema(), doc)
		// Mutations of two entries of each kind: the reference validator
		// is slow, and more entries of one kind add no new shape.
		k := doc.(map[string]any)["kind"]
		if perKind[k]++; perKind[k] > 2 {
			continue
		}
		for j, m := range mutations(doc) {
			diff(t, "entry "+strconv.Itoa(i)+" mutation "+strconv.Itoa(j), refEntry(), entrySchema(), m)
			n++
		}
	}
	for i, doc := range c.registries {
		diff(t, "registry "+strconv.Itoa(i), refRegistry(), registrySchema(), doc)
		for j, m := range mutations(doc) {
			diff(t, "registry "+strconv.Itoa(i)+" mutation "+strconv.Itoa(j), refRegistry(), registrySchema(), m)
			n++
		}
	}
	// Clear sealed values (CheckSealedValues), decoded as it decodes them.
	sealed, err := decodeValue([]byte(`{"carrier":"NTT","selectors":["a","b"],"detail":"x","target_name":"é"}`))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "sealed values", refSealedValues(), sealedValuesSchema(), sealed)
	for j, m := range mutations(sealed) {
		diff(t, "sealed values mutation "+strconv.Itoa(j), refSealedValues(), sealedValuesSchema(), m)
		n++
	}
	t.Logf("%d entries, %d registries, %d mutations: same verdicts", len(c.entries), len(c.registries), n)
}

// FuzzShapeDifferential mutates valid entries (the seeds: every vector)
// and compares both validators on the result: the bytes themselves, and
// the member at path (dot-separated names and indexes) replaced by value,
// or removed when value is not JSON.
func FuzzShapeDifferential(f *testing.F) {
	c := loadCorpus(f)
	for _, doc := range c.entries {
		raw, _ := json.Marshal(doc)
		f.Add(raw, "", []byte(nil))
		f.Add(raw, "body.direction", []byte(`"NAINAI"`))
		f.Add(raw, "legal_basis.Law", []byte(`"acd-act"`))
		f.Add(raw, "refs.0", []byte(`7`))
	}
	f.Fuzz(func(t *testing.T, payload []byte, path string, value []byte) {
		doc, err := readStrict(payload)
		if err != nil {
			return
		}
		if path != "" {
			v, err := readStrict(value)
			doc = setPath(doc, strings.Split(path, "."), v, err != nil)
		}
		diff(t, "entry", refEntry(), entrySchema(), doc)
		diff(t, "registry", refRegistry(), registrySchema(), doc)
	})
}

// setPath returns doc with the value at path replaced (or removed).
func setPath(doc any, path []string, v any, remove bool) any {
	if len(path) == 0 {
		return v
	}
	switch d := doc.(type) {
	case map[string]any:
		if remove && len(path) == 1 {
			delete(d, path[0])
			return d
		}
		d[path[0]] = setPath(d[path[0]], path[1:], v, remove)
		return d
	case []any:
		i, err := strconv.Atoi(path[0])
		if err != nil || i < 0 || i >= len(d) {
			return d
		}
		d[i] = setPath(d[i], path[1:], v, remove)
		return d
	}
	return doc
}

// TestShapeValidNoAllocation: validating a valid entry allocates nothing
// (admission and audit validate every entry).
func TestShapeValidNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates; make test also runs this without it")
	}
	c := loadCorpus(t)
	n := 0
	for _, doc := range c.entries {
		s := entrySchema()
		if s.Validate(doc) != nil {
			continue
		}
		n++
		if a := testing.AllocsPerRun(20, func() { s.Validate(doc) }); a != 0 {
			t.Errorf("%s: %.0f allocations validating a valid entry", doc.(map[string]any)["kind"], a)
		}
	}
	for _, doc := range c.registries {
		if a := testing.AllocsPerRun(20, func() { registrySchema().Validate(doc) }); a != 0 {
			t.Errorf("registry: %.0f allocations", a)
		}
	}
	if n < 10 {
		t.Fatalf("only %d valid entries in the corpus", n)
	}
}
