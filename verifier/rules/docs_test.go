package rules

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// specs/rules.md documents every rule (id and name) and every config key.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../specs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if !strings.Contains(string(doc), "| "+r.ID+" | `"+r.Name+"` |") {
			t.Errorf("specs/rules.md has no row for %s %s", r.ID, r.Name)
		}
	}
	ct := reflect.TypeOf(Config{})
	for i := 0; i < ct.NumField(); i++ {
		k, _, _ := strings.Cut(ct.Field(i).Tag.Get("json"), ",")
		if !strings.Contains(string(doc), "| `"+k+"` |") {
			t.Errorf("specs/rules.md does not document config key %s", k)
		}
	}
}

// Each rule's file carries the text of its row of specs/rules.md, exactly:
// what an evidence package cites is what the spec says.
func TestRuleTextIsTheSpec(t *testing.T) {
	doc, err := os.ReadFile("../../specs/rules.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	for _, line := range strings.Split(string(doc), "\n") {
		if !strings.HasPrefix(line, "| R") {
			continue
		}
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(line, "| "), " |"), " | ")
		if len(cells) == 6 {
			rows[cells[0]] = cells
		}
	}
	defs := Definitions()
	if len(rows) != len(defs) {
		t.Fatalf("specs/rules.md has %d rule rows, the package %d rules", len(rows), len(defs))
	}
	for i, r := range defs {
		if r.RuleInfo != Rules()[i] {
			t.Errorf("%s: Rules() and Definitions() disagree", r.ID)
		}
		row := rows[r.ID]
		if row == nil {
			t.Errorf("%s: no row in specs/rules.md", r.ID)
			continue
		}
		for _, c := range []struct{ what, code, spec string }{
			{"name", "`" + r.Name + "`", row[1]}, {"entry charged", r.Charged, row[3]}, {"violation when", r.When, row[4]}, {"reads", r.Reads, row[5]},
		} {
			if c.code != c.spec {
				t.Errorf("%s %s:\n code: %s\n spec: %s", r.ID, c.what, c.code, c.spec)
			}
		}
		if r.Version < 1 {
			t.Errorf("%s: version %d", r.ID, r.Version)
		}
	}
}
