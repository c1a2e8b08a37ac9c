package rules

import (
	"fmt"
	"slices"
)

// R7 direction.nainai: no entry names the direction NAINAI (内内).
var ruleR7 = Rule{
	RuleInfo: RuleInfo{ID: NoNaiNai, Name: "direction.nainai", Version: 1,
		Title: "no entry names the direction NAINAI (内内)"},
	Charged: "any entry",
	When:    "any header string or any string anywhere in the body is `NAINAI` (内内). Admission refuses such entries; this rule catches a log written by a build that did not.",
	Reads:   "every header field, the whole body",
}

func (c *checker) nainai(doc any) {
	e := c.entry
	header := [][2]string{{"id", e.ID}, {"kind", e.Kind}, {"agency", e.Agency}, {"occurred_at", e.OccurredAt}, {"case", e.Case},
		{"legal_basis.law", e.LegalBasis.Law}, {"legal_basis.article", e.LegalBasis.Article}, {"legal_basis.paragraph", e.LegalBasis.Paragraph}, {"legal_basis.item", e.LegalBasis.Item}}
	for i, r := range e.Refs {
		header = append(header, [2]string{fmt.Sprintf("refs[%d]", i), r})
	}
	for _, h := range header {
		if h[1] == "NAINAI" {
			c.report(NoNaiNai, "%s is NAINAI (domestic-to-domestic, 内内), which may never be acquired or recorded", h[0])
		}
	}
	walkStrings(doc, "body", func(path, s string) {
		if s == "NAINAI" {
			c.report(NoNaiNai, "%s is NAINAI (domestic-to-domestic, 内内), which may never be acquired or recorded", path)
		}
	})
}

func walkStrings(v any, path string, fn func(path, s string)) {
	switch v := v.(type) {
	case string:
		fn(path, v)
	case []any:
		for i, x := range v {
			walkStrings(x, fmt.Sprintf("%s[%d]", path, i), fn)
		}
	case map[string]any:
		for _, k := range sortedKeys(v) {
			walkStrings(v[k], path+"."+k, fn)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
