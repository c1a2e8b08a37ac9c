package tlogproof

import (
	"bytes"
	"strings"
	"testing"
)

const sample = `c2sp.org/tlog-proof@v1
extra aGVsbG8=
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw==
`

func TestRoundTrip(t *testing.T) {
	p, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if p.Index != 73894 || len(p.Hashes) != 2 || string(p.Extra) != "hello" || !strings.HasPrefix(string(p.Checkpoint), "example.com/fancylog\n") {
		t.Fatalf("parsed %+v", p)
	}
	if got := p.Marshal(); !bytes.Equal(got, []byte(sample)) {
		t.Fatalf("marshal differs:\n%s", got)
	}
	// Without extra and without hashes (a tree of one leaf).
	q := &Proof{Index: 0, Checkpoint: []byte("o\n1\nAA==\n\n— o x\n")}
	r, err := Parse(q.Marshal())
	if err != nil || r.Extra != nil || r.Index != 0 || len(r.Hashes) != 0 {
		t.Fatalf("round trip without extra: %+v %v", r, err)
	}
}

func TestRejects(t *testing.T) {
	for name, in := range map[string]string{
		"bad header":     strings.Replace(sample, "@v1", "@v2", 1),
		"leading zero":   strings.Replace(sample, "index 73894", "index 073894", 1),
		"negative index": strings.Replace(sample, "index 73894", "index -1", 1),
		"no index":       strings.Replace(sample, "index 73894\n", "", 1),
		"short hash":     strings.Replace(sample, "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=", "B95l", 1),
		"bad extra":      strings.Replace(sample, "aGVsbG8=", "!!", 1),
		"no checkpoint":  strings.SplitAfter(sample, "\n\n")[0],
		"no blank line":  "c2sp.org/tlog-proof@v1\nindex 1\n",
		"too many":       strings.Replace(sample, "index 73894\n", "index 1\n"+strings.Repeat("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n", 64), 1),
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzParse: never panics, and what parses re-marshals to the same bytes
// when it was in canonical form.
func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("c2sp.org/tlog-proof@v1\nindex 0\n\nx\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		q, err := Parse(p.Marshal())
		if err != nil {
			t.Fatalf("re-parse of marshalled proof failed: %v", err)
		}
		if q.Index != p.Index || len(q.Hashes) != len(p.Hashes) || !bytes.Equal(q.Extra, p.Extra) || !bytes.Equal(q.Checkpoint, p.Checkpoint) {
			t.Fatalf("round trip changed the proof")
		}
	})
}
