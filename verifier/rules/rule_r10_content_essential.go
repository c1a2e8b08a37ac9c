package rules

import (
	"encoding/json"
	"fmt"
)

// R10 content.essential: no ESSENTIAL_CONTENT is counted or provided.
var ruleR10 = Rule{
	RuleInfo: RuleInfo{ID: EssentialContent, Name: "content.essential", Version: 1,
		Title: "no ESSENTIAL_CONTENT is counted or provided"},
	Charged: "any entry",
	When:    "any body object has `category: ESSENTIAL_CONTENT` with `n` > 0, or a `categories` list contains `ESSENTIAL_CONTENT` (as admission).",
	Reads:   "the whole body",
}

// walkEssential finds ESSENTIAL_CONTENT counted above zero or listed in a
// categories array, anywhere in the body (so kinds added later are covered).
// p is the path so far in the one notation every message uses, a.b[1]; key
// is the last object key on it (a categories array is known by its key).
func walkEssential(v any, p, key string, c *checker) {
	switch v := v.(type) {
	case []any:
		for i, x := range v {
			if s, ok := x.(string); ok && s == "ESSENTIAL_CONTENT" && key == "categories" {
				c.report(EssentialContent, "%s[%d] provides ESSENTIAL_CONTENT, the essential content of communications", p, i)
			}
			walkEssential(x, fmt.Sprintf("%s[%d]", p, i), "", c)
		}
	case map[string]any:
		if v["category"] == "ESSENTIAL_CONTENT" {
			if n, ok := v["n"].(json.Number); ok {
				if f, err := n.Float64(); err == nil && f > 0 {
					c.report(EssentialContent, "%s counts %s ESSENTIAL_CONTENT; it must be 0", p, n)
				}
			}
		}
		for _, k := range sortedKeys(v) {
			walkEssential(v[k], p+"."+k, k, c)
		}
	}
}
