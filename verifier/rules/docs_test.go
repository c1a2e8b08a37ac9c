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
