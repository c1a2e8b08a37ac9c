package rules

import (
	"github.com/acdledger/acdledger/specs"
)

// R14 log.refs: refs name earlier entries only, body references are listed in refs, ids are not reused.
var ruleR14 = Rule{
	RuleInfo: RuleInfo{ID: LogReferences, Name: "log.refs", Version: 1,
		Title: "refs name earlier entries only, body references are listed in refs, ids are not reused"},
	Charged: "any entry",
	When:    "a `refs` id is not an earlier entry of the log (a later one, an unknown one, or the entry itself); a body reference field (`request`, `approval`, …) is not listed in `refs`; the `id` is already used by an earlier entry (the replay is charged, not the original, and is otherwise ignored).",
	Reads:   "`id`, `refs`, body reference fields",
}

// reusedID reports an entry whose id an earlier entry used: the replay is
// charged and otherwise ignored.
func (c *checker) reusedID() bool {
	if !c.e.st.ids.has(c.entry.ID) {
		return false
	}
	c.report(LogReferences, "id %s is already used by an earlier entry", c.entry.ID)
	return true
}

func (c *checker) refs(doc any) {
	listed := map[string]bool{}
	for _, r := range c.entry.Refs {
		listed[r] = true
		switch {
		case r == c.entry.ID:
			c.report(LogReferences, "refs names the entry itself")
		case !c.e.st.ids.has(r):
			c.report(LogReferences, "ref %s is not an earlier entry of the log", r)
		}
	}
	m, _ := doc.(map[string]any)
	for _, f := range specs.RefFields()[c.entry.Kind] {
		if v, ok := m[f].(string); ok && !listed[v] {
			c.report(LogReferences, "body.%s names %s, which refs does not list", f, v)
		}
	}
}
