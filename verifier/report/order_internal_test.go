package report

import (
	"slices"
	"testing"
)

// The violations table and the violation list are in rule-number order:
// R1, R2, … R12, R13, not the byte order R1, R12, R13, R2.
func TestViolationOrderByRuleNumber(t *testing.T) {
	tl := newTally(violationsSpec)
	for _, r := range []string{"R12", "R2", "R13", "R1", "R15", "R9", "x.custom"} {
		tl.add(r, "violations", 1)
	}
	var got []string
	for _, row := range tl.table().Rows {
		got = append(got, row.Key)
	}
	if want := []string{"R1", "R2", "R9", "R12", "R13", "R15", "x.custom"}; !slices.Equal(got, want) {
		t.Errorf("violations table rows %v, want %v", got, want)
	}
	vs := []ViolationRef{{Rule: "R12", Index: 4}, {Rule: "R2", Index: 4}, {Rule: "R1", Index: 5}, {Rule: "R10", Index: 3}}
	slices.SortFunc(vs, compareViolations)
	var order []string
	for _, v := range vs {
		order = append(order, v.Rule)
	}
	if want := []string{"R10", "R2", "R12", "R1"}; !slices.Equal(order, want) {
		t.Errorf("violation list %v, want %v", order, want)
	}
}
