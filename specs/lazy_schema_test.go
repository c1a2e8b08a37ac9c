package specs

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestRefersToAnnotations checks every x-refers-to annotation of
// entry.schema.json against the schema's own refers_to definition: package
// init reads them with a hand-written check (parseRefersTo) so as not to
// compile a schema at start-up, and this keeps the two in agreement.
func TestRefersToAnnotations(t *testing.T) {
	n := 0
	for kind, def := range kindDefs("body") {
		var d struct {
			Properties map[string]map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(def, &d); err != nil {
			t.Fatal(err)
		}
		for field, p := range d.Properties {
			ann, ok := p["x-refers-to"]
			if !ok {
				continue
			}
			n++
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ann))
			if err != nil {
				t.Fatal(err)
			}
			if err := refRefersTo().Validate(doc); err != nil {
				t.Errorf("%s body.%s: %v", kind, field, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no x-refers-to annotation found")
	}
}

// TestParseRefersToRefuses shows each refusal of the init-time reader.
func TestParseRefersToRefuses(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"kinds":["notice"],"same":[],"x":1}`, `unknown field "x"`},
		{`{"same":[]}`, "kinds: at least one kind is required"},
		{`{"kinds":[],"same":[]}`, "kinds: at least one kind is required"},
		{`{"kinds":["notice"]}`, "same: required"},
		{`{"kinds":["nope"],"same":[]}`, `kinds: "nope" is not a kind`},
		{`{"kinds":["notice","notice"],"same":[]}`, `kinds: "notice" twice`},
		{`{"kinds":["notice"],"same":["seq"]}`, `same: "seq" is neither agency nor case`},
		{`{"kinds":["notice"],"same":["case","case"]}`, `same: "case" twice`},
	} {
		_, err := parseRefersTo(json.RawMessage(tc.in))
		if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
	got, err := parseRefersTo(json.RawMessage(`{"kinds":["notice"],"same":["agency","case"]}`))
	if err != nil || !got.SameAgency || !got.SameCase || len(got.Kinds) != 1 {
		t.Fatalf("got %+v, %v", got, err)
	}
}
