package specs_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/shape"
)

// The example in entries.md is a real, valid entry: documentation that
// does not parse would teach agencies the wrong format.
func TestEntriesExampleIsValid(t *testing.T) {
	md, err := os.ReadFile("entries.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```json\n(\\{\n  \"id\".*?)\n```").FindSubmatch(md)
	if m == nil {
		t.Fatal("no example entry in entries.md")
	}
	// The example is indented for reading; what an agency signs is its
	// canonical form, as acdledger sign writes it.
	canon, err := specs.Canonical(m[1])
	if err != nil {
		t.Fatal(err)
	}
	e, err := specs.ParseEntry(canon)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.CheckContent(); err != nil {
		t.Fatal(err)
	}
}

// Every kind the Go code knows is in the schema's enum and the other way
// round, so the two can never drift apart.
func TestKindsMatchSchema(t *testing.T) {
	raw, _ := specs.Files.ReadFile("entry.schema.json")
	for _, k := range specs.Kinds {
		if !regexp.MustCompile(`"` + regexp.QuoteMeta(k) + `"`).Match(raw) {
			t.Errorf("kind %s not in entry.schema.json", k)
		}
	}
	enum := regexp.MustCompile(`(?s)"kind": \{"enum": \[(.*?)\]\}`).FindSubmatch(raw)
	if n := len(regexp.MustCompile(`"[a-z.]+"`).FindAll(enum[1], -1)); n != len(specs.Kinds) {
		t.Errorf("schema has %d kinds, specs.Kinds %d", n, len(specs.Kinds))
	}
}

// The reference fields read from the schema are the ones entries.md lists.
func TestRefFields(t *testing.T) {
	want := map[string]string{
		"agreement.amended": "agreement", "agreement.terminated": "agreement", "approval.requested": "extends",
		"approval.decided": "request", "acquisition.started": "agreement approval", "acquisition.stopped": "acquisition",
		"selection.batch": "acquisition", "retention.deleted": "batch", "provision": "approval source",
		"measure.executed": "approval", "emergency.notice": "measure", "mofa.consulted": "request", "response": "to",
	}
	if len(specs.RefFields()) != len(want) {
		t.Fatalf("ref fields: %v", specs.RefFields())
	}
	for k, f := range want {
		if got := strings.Join(specs.RefFields()[k], " "); got != f {
			t.Errorf("%s: ref fields %q, want %q", k, got, f)
		}
	}
}

// TestEntriesNamesShapeKeywords: specs/entries.md lists every keyword the
// reference validator implements (what a second implementation needs).
func TestEntriesNamesShapeKeywords(t *testing.T) {
	doc, err := os.ReadFile("entries.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, kw := range shape.Keywords() {
		if kw == "$schema" || kw == "$id" {
			continue
		}
		if !strings.Contains(string(doc), "`"+kw+"`") && !strings.Contains(string(doc), "`"+kw+"/") && !strings.Contains(string(doc), "/`"+kw+"`") && !strings.Contains(string(doc), "`"+kw+":") {
			t.Errorf("specs/entries.md does not name the keyword %s", kw)
		}
	}
}
