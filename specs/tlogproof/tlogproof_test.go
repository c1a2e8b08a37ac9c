package tlogproof

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/transparency-dev/formats/proof"
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

// A receipt saved with one newline too many (jq -r, echo) is refused,
// and the error names the cause: a receipt is one note and ends where the
// note ends (specs/receipts.md).
func TestTrailingNewlineNamed(t *testing.T) {
	for extra, want := range map[string]string{"\n": "1 newline(s) after", "\n\n\n": "3 newline(s) after"} {
		_, err := Parse([]byte(sample + extra))
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "jq -r") {
			t.Errorf("%q appended: %v", extra, err)
		}
	}
}

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
		"bad header":                       strings.Replace(sample, "@v1", "@v2", 1),
		"leading zero":                     strings.Replace(sample, "index 73894", "index 073894", 1),
		"negative index":                   strings.Replace(sample, "index 73894", "index -1", 1),
		"no index":                         strings.Replace(sample, "index 73894\n", "", 1),
		"short hash":                       strings.Replace(sample, "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=", "B95l", 1),
		"bad extra":                        strings.Replace(sample, "aGVsbG8=", "!!", 1),
		"no checkpoint":                    strings.SplitAfter(sample, "\n\n")[0],
		"no blank line":                    "c2sp.org/tlog-proof@v1\nindex 1\n",
		"too many":                         strings.Replace(sample, "index 73894\n", "index 1\n"+strings.Repeat("gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n", 64), 1),
		"CRLF":                             strings.ReplaceAll(sample, "\n", "\r\n"),
		"CR in checkpoint":                 strings.Replace(sample, "109482\n", "109482\r\n", 1),
		"long checkpoint line":             strings.Replace(sample, "example.com/fancylog\n109482", "example.com/fancylog"+strings.Repeat("g", MaxLine)+"\n109482", 1),
		"checkpoint without final newline": strings.TrimSuffix(sample, "\n"),
		"trailing empty line":              sample + "\n",
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
	f.Add([]byte("c2sp.org/tlog-proof@v1\nextra \nindex 00\n\nx\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		// What we take, transparency-dev/formats reads, and reads the same.
		var fp proof.TLogProof
		if err := fp.Unmarshal(data); err != nil {
			t.Fatalf("Parse takes a proof formats refuses: %v", err)
		}
		if fp.Index != p.Index || !bytes.Equal(fp.ExtraData, p.Extra) || !bytes.Equal(fp.Checkpoint, p.Checkpoint) || len(fp.Hashes) != len(p.Hashes) {
			t.Fatalf("formats reads it otherwise: index %d extra %q checkpoint %q", fp.Index, fp.ExtraData, fp.Checkpoint)
		}
		for i := range p.Hashes {
			if !bytes.Equal(fp.Hashes[i][:], p.Hashes[i]) {
				t.Fatalf("hash %d differs", i)
			}
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

// The bound is the one of the reader other tools use, to the byte: extra
// data of MaxExtra bytes makes a proof that transparency-dev/formats reads
// back unchanged, and so do we; one byte more and formats cannot read it, and
// neither do we, so that the two readers agree on what is a proof.
func TestMaxExtraIsTheFormatsReadersLimit(t *testing.T) {
	if MaxLine != bufio.MaxScanTokenSize {
		t.Fatalf("MaxLine %d, bufio.MaxScanTokenSize %d", MaxLine, bufio.MaxScanTokenSize)
	}
	if want := (MaxLine - len(extraPrefix) - len("\n")) / 4 * 3; MaxExtra != want {
		t.Fatalf("MaxExtra = %d, want %d", MaxExtra, want)
	}
	if MaxExtra != 49146 {
		t.Fatalf("MaxExtra = %d, want 49146", MaxExtra)
	}
	proofOf := func(n int) []byte {
		extra := bytes.Repeat([]byte{0xa5}, n)
		p := &Proof{Extra: extra, Index: 5, Hashes: [][]byte{bytes.Repeat([]byte{1}, 32)}, Checkpoint: []byte("o\n6\nAA==\n\n— o x\n")}
		return p.Marshal()
	}
	// The longest extra line, newline included, and the next one.
	for n, want := range map[int]int{MaxExtra: MaxLine - 1, MaxExtra - 2: MaxLine - 1, MaxExtra + 1: MaxLine + 3} {
		line, _, _ := bytes.Cut(bytes.SplitN(proofOf(n), []byte("\n"), 2)[1], []byte("\n"))
		if got := len(line) + 1; got != want {
			t.Errorf("extra of %d bytes: line of %d bytes, want %d", n, got, want)
		}
	}

	raw := proofOf(MaxExtra)
	var fp proof.TLogProof
	if err := fp.Unmarshal(raw); err != nil {
		t.Fatalf("formats refuses a proof with %d bytes of extra data: %v", MaxExtra, err)
	}
	ours, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fp.ExtraData, ours.Extra) || fp.Index != ours.Index || !bytes.Equal(fp.Checkpoint, ours.Checkpoint) {
		t.Fatal("formats and Parse read the proof differently")
	}

	over := proofOf(MaxExtra + 1)
	if err := new(proof.TLogProof).Unmarshal(over); err == nil {
		t.Fatalf("formats reads a proof with %d bytes of extra data: the bound is not tight", MaxExtra+1)
	}
	_, err = Parse(over)
	if err == nil || !strings.Contains(err.Error(), "extra line is 65539 bytes") {
		t.Fatalf("Parse of an extra line over the limit: %v", err)
	}
}
