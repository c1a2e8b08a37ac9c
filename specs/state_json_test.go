package specs_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
)

func TestLogStateJSON(t *testing.T) {
	s := specs.NewLogState()
	s.Record("A", "nco", 1, 0)
	s.Record("B", "nco", 2, 1)
	s.Record("C", "npa", 1, 2)
	raw, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	r := specs.NewLogState()
	if err := json.Unmarshal(raw, r); err != nil {
		t.Fatal(err)
	}
	if i, ok := r.IndexOf("C"); !ok || i != 2 || r.LastSeq("nco") != 2 || r.Len() != 3 {
		t.Fatalf("restored state: %s", raw)
	}
	for _, tc := range []struct{ name, raw, want string }{
		{"unknown field", `{"ids":{},"extra":1}`, `unknown field "extra"`},
		{"zero seq", `{"last_seq":{"nco":0}}`, `agency "nco" has last seq 0`},
		{"pending index", `{"ids":{"A":18446744073709551615}}`, `entry "A" has no index`},
		{"not an object", `[1]`, "log state"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := json.Unmarshal([]byte(tc.raw), specs.NewLogState())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
