package specs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func sampleState(t testing.TB) *LogState {
	s := NewLogState()
	s.Record(Header{ID: "npa-1", Kind: "notice", Agency: "npa", Case: "c-1", Seq: 1}, 0)
	s.Record(Header{ID: "nco-1", Kind: "inspection", Agency: "nco", Case: "", Seq: 1}, 1)
	s.Record(Header{ID: "npa-2", Kind: "notice", Agency: "npa", Case: "c-2", Seq: 2}, 2)
	return s
}

func sampleSnapshot(t testing.TB) []byte {
	sec, err := sampleState(t).MarshalSnapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{Origin: "example.org/log", Size: 3, Root: bytes.Repeat([]byte{7}, 32),
		Sections: []SnapshotSection{{Name: "a_first", Version: 3, Data: []byte("x\n")}, {Name: LogStateSection, Version: LogStateSectionVersion, Data: sec}}}
	raw, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSnapshotRoundTrip(t *testing.T) {
	raw := sampleSnapshot(t)
	snap, err := ParseSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Origin != "example.org/log" || snap.Size != 3 || len(snap.Sections) != 2 || snap.Section("a_first").Version != 3 {
		t.Fatalf("got %+v", snap)
	}
	sec := snap.Section(LogStateSection)
	st, err := UnmarshalLogStateSnapshot(sec.Data, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := sampleState(t)
	for _, id := range []string{"npa-1", "nco-1", "npa-2"} {
		if st.ids[id] != want.ids[id] {
			t.Errorf("%s: %+v, want %+v", id, st.ids[id], want.ids[id])
		}
	}
	if st.LastSeq("npa") != 2 || st.LastSeq("nco") != 1 || st.Len() != 3 {
		t.Errorf("last seqs %v, len %d", st.Agencies(), st.Len())
	}
	// One form: writing the read state again gives the same bytes.
	again, err := st.MarshalSnapshot(3)
	if err != nil || !bytes.Equal(again, sec.Data) {
		t.Fatalf("rewritten section differs (%v):\n%s\n---\n%s", err, again, sec.Data)
	}
	if _, err := snap.Marshal(); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotMarshalRefuses(t *testing.T) {
	s := sampleState(t)
	s.Record(Header{ID: "npa-3", Kind: "notice", Agency: "npa", Seq: 3}, PendingIndex)
	if _, err := s.MarshalSnapshot(4); err == nil || !strings.Contains(err.Error(), "no index yet") {
		t.Errorf("pending: %v", err)
	}
	if _, err := sampleState(t).MarshalSnapshot(4); err == nil || !strings.Contains(err.Error(), "3 entries for a tree of 4") {
		t.Errorf("short: %v", err)
	}
	if _, err := sampleState(t).MarshalSnapshot(2); err == nil {
		t.Error("a tree smaller than the state was taken")
	}
	for _, snap := range []*Snapshot{
		{Origin: "has space", Root: make([]byte, 32)},
		{Origin: "o", Root: make([]byte, 31)},
		{Origin: "o", Root: make([]byte, 32), Sections: []SnapshotSection{{Name: "b", Version: 1}, {Name: "a", Version: 1}}},
		{Origin: "o", Root: make([]byte, 32), Sections: []SnapshotSection{{Name: "B", Version: 1}}},
		{Origin: "o", Root: make([]byte, 32), Sections: []SnapshotSection{{Name: "a", Version: 0}}},
	} {
		if _, err := snap.Marshal(); err == nil {
			t.Errorf("%+v: no error", snap)
		}
	}
}

// resum replaces a snapshot's checksum line with the right one for what
// precedes it, so that a test reaches the rule it means to break.
func resum(b []byte) []byte {
	i := bytes.LastIndex(b, []byte("sha256 "))
	sum := sha256.Sum256(b[:i])
	return append(b[:i:i], []byte("sha256 "+hex.EncodeToString(sum[:])+"\n")...)
}

func TestParseSnapshotRefuses(t *testing.T) {
	good := string(sampleSnapshot(t))
	edit := func(old, new string) []byte { return resum([]byte(strings.Replace(good, old, new, 1))) }
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"magic", []byte("acdledger-snapshot 3\n"), "magic: the first line must be"},
		{"empty", nil, "magic"},
		{"origin", edit("origin example.org/log", "origin  example.org/log"), "origin: not one token"},
		{"origin missing", edit("origin example.org/log\n", ""), `origin: want a line "origin …", got "size 3"`},
		{"size leading zero", edit("size 3", "size 03"), "size: \"03\" is not a decimal"},
		{"size sign", edit("size 3", "size +3"), "size:"},
		{"root short", edit("root BwcH", "root BwcHBwcH\nroot BwcH"), "root: not the standard base64"},
		{"root non-canonical", edit("BwcHBwc=\n", "BwcHBwd=\n"), "root: not the standard base64"},
		{"root unpadded", edit("=\n", "\n"), "root:"},
		{"section order", edit("a_first", "z_first"), "out of order or repeated"},
		{"section name", edit("a_first", "A_first"), "name \"A_first\""},
		{"section version", edit("a_first 3", "a_first 0"), "version: a decimal from 1"},
		{"section fields", edit("a_first 3 2", "a_first 3"), "want \"section NAME VERSION LENGTH\""},
		{"section length", edit("a_first 3 2", "a_first 3 99999999"), "runs past the end"},
		{"stray line", edit("section a_first", "junk\nsection a_first"), "neither a section nor the checksum"},
		{"no checksum", []byte(good[:strings.LastIndex(good, "sha256 ")]), "sha256: missing"},
		{"bad checksum", []byte(strings.Replace(good, "size 3", "size 4", 1)), "sha256: does not match"},
		{"after checksum", append([]byte(good), '\n'), "bytes follow the checksum line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSnapshot(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLogStateSnapshotRefuses(t *testing.T) {
	good, err := sampleState(t).MarshalSnapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("section:\n%s", good)
	g := string(good)
	edit := func(old, new string) []byte {
		if !strings.Contains(g, old) {
			t.Fatalf("%q not in the section", old)
		}
		return []byte(strings.Replace(g, old, new, 1))
	}
	for _, tc := range []struct {
		name string
		in   []byte
		size uint64
		want string
	}{
		{"size", good, 4, "entries: 3 entries for a tree of 4"},
		{"header", edit("last_seq 2", "last_seq  2"), 3, "last_seq: count"},
		{"count huge", edit("last_seq 2", "last_seq 99999999"), 3, "more than the section holds"},
		{"seq zero", edit("npa 2", "npa 0"), 3, "seq: a decimal from 1"},
		{"agency order", edit("nco 1\nnpa 2", "npa 2\nnco 1"), 3, "out of order or repeated"},
		{"last_seq shape", edit("nco 1\n", "nco\n"), 3, "want \"AGENCY SEQ\""},
		{"unknown kind", edit("notice\n", "nope\n"), 3, "not a kind"},
		{"table twice", edit("inspection\n", "notice\n"), 3, "listed twice"},
		{"table empty string", edit("c-2\n", "\n"), 3, "want one token"},
		{"table unused", edit("cases 2\nc-1\nc-2\n", "cases 3\nc-1\nc-2\nc-3\n"), 3, "every listed one must be used"},
		{"number past table", edit("npa-2 1 1 2", "npa-2 1 1 3"), 3, "past its table"},
		{"first use order", edit("npa-1 1 1 1", "npa-1 1 1 2"), 3, "tables are numbered in order of first use"},
		{"leading zero", edit("npa-2 1 1 2", "npa-2 1 1 02"), 3, "not a decimal"},
		{"trailing space", edit("npa-2 1 1 2", "npa-2 1 1 2 "), 3, "none at the end"},
		{"too few numbers", edit("npa-2 1 1 2", "npa-2 1 1"), 3, "one space between fields"},
		{"duplicate id", edit("npa-2 1 1 2", "npa-1 1 1 2"), 3, "already at an earlier index"},
		{"missing entry", []byte(g[:strings.LastIndex(g, "npa-2")]), 3, "entry 2: missing"},
		{"after entries", append(good, "x\n"...), 3, "bytes follow the last entry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalLogStateSnapshot(tc.in, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzParseSnapshot: whatever a snapshot file holds, reading it never
// panics, and what reads is written back byte for byte (one form).
func FuzzParseSnapshot(f *testing.F) {
	f.Add(sampleSnapshot(f))
	f.Add(sampleSnapshotV2(f))
	f.Add([]byte(SnapshotMagic + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		snap, err := ParseSnapshot(data)
		if err != nil {
			return
		}
		again, err := snap.Marshal()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("read but not written back the same (%v)", err)
		}
	})
}

// FuzzLogStateSnapshot: whatever a log_state section holds, reading it
// never panics, and a section that reads is written back byte for byte.
func FuzzLogStateSnapshot(f *testing.F) {
	good, err := sampleState(f).MarshalSnapshot(3)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, uint64(3))
	f.Add([]byte("last_seq 0\nkinds 0\nagencies 0\ncases 0\nentries 0\n"), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, size uint64) {
		size %= 1 << 16
		st, err := UnmarshalLogStateSnapshot(data, size)
		if err != nil {
			return
		}
		again, err := st.MarshalSnapshot(size)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("read but not written back the same (%v):\n%q\n%q", err, data, again)
		}
	})
}
