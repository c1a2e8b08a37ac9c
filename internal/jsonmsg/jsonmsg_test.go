package jsonmsg

import (
	"encoding/json"
	"strings"
	"testing"
)

type inner struct {
	Seq    uint64 `json:"seq"`
	Counts []struct {
		N uint64 `json:"n"`
	} `json:"counts"`
	On bool `json:"on"`
}

type doc struct {
	Body inner          `json:"body"`
	M    map[string]int `json:"m"`
}

// Every encoding/json failure reads without Go's words.
func TestDescribe(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"body":{"seq":3.0}}`, "field body.seq: number 3.0 is not a non-negative integer"},
		{`{"body":{"seq":-1}}`, "field body.seq: number -1 is not a non-negative integer"},
		{`{"body":{"on":"yes"}}`, "field body.on: string is not true or false"},
		{`{"m":{"a":"x"}}`, "field m: string is not an integer"},
		{`[1]`, "array is not an object"},
		{`{"body":`, "unexpected end of the JSON input"},
		{`{"body":x}`, "not valid JSON at byte 9: invalid character 'x'"},
		{`{"nope":1}`, `unknown field "nope"`},
	} {
		var d doc
		dec := json.NewDecoder(strings.NewReader(c.in))
		dec.DisallowUnknownFields()
		err := Describe(dec.Decode(&d))
		if err == nil {
			t.Errorf("%s: no error", c.in)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.want) {
			t.Errorf("%s: %q, want %q", c.in, msg, c.want)
		}
		for _, leak := range []string{"Go ", "uint64", "json:", "struct", "jsonmsg."} {
			if strings.Contains(msg, leak) {
				t.Errorf("%s: %q leaks %q", c.in, msg, leak)
			}
		}
	}
	if Describe(nil) != nil {
		t.Error("Describe(nil) is not nil")
	}
}
