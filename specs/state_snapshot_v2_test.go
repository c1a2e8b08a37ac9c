package specs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// The version 2 section round-trips, reads back the same state as version
// 1, and a state read from it admits exactly as the one it was saved from.
func TestLogStateSnapshotV2RoundTrip(t *testing.T) {
	s := sampleState(t)
	data, err := s.MarshalSnapshotV2(3)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("section: %q", data)
	st, err := UnmarshalLogStateSnapshotV2(data, 3)
	if err != nil {
		t.Fatal(err)
	}
	if st.Len() != 3 || st.LastSeq("npa") != 2 || st.LastSeq("nco") != 1 {
		t.Fatalf("len %d, seqs %v", st.Len(), st.Agencies())
	}
	for id, want := range map[string]uint64{"npa-1": 0, "nco-1": 1, "npa-2": 2} {
		if idx, ok := st.IndexOf(id); !ok || idx != want {
			t.Errorf("IndexOf(%s) = %d, %v; want %d", id, idx, ok, want)
		}
	}
	if _, ok := st.IndexOf("npa-0"); ok {
		t.Error("an absent id was found")
	}
	again, err := st.MarshalSnapshotV2(3)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("not written back the same (%v):\n%q\n%q", err, data, again)
	}
	// The same state as version 1 writes it.
	v1a, err := s.MarshalSnapshot(3)
	if err != nil {
		t.Fatal(err)
	}
	v1b, err := st.MarshalSnapshot(3)
	if err != nil || !bytes.Equal(v1a, v1b) {
		t.Fatalf("version 1 of the read state differs (%v):\n%s\n%s", err, v1a, v1b)
	}
}

// Entries recorded after the table are merged into the next table, in
// order; an id recorded again (a leaf repeating a snapshot's id) counts
// once and takes the newer record, as in a state without a table.
func TestLogStateSnapshotV2Merge(t *testing.T) {
	const n = 1000
	plain := NewLogState()
	for i := range n {
		plain.Record(Header{ID: fmt.Sprintf("E-%04d", (i*7919)%n), Kind: "notice", Agency: []string{"nco", "npa"}[i%2], Case: fmt.Sprintf("c-%d", i/100), Seq: uint64(i/2 + 1)}, uint64(i))
	}
	data, err := plain.MarshalSnapshotV2(n)
	if err != nil {
		t.Fatal(err)
	}
	st, err := UnmarshalLogStateSnapshotV2(data, n)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := plain.IndexOf("E-0005")
	for _, s := range []*LogState{plain, st} {
		s.Record(Header{ID: "A-new", Kind: "inspection", Agency: "commission", Case: "c-new", Seq: 1}, n)
		s.Record(Header{ID: "Z-new", Kind: "notice", Agency: "nco", Seq: 501}, PendingIndex)
		s.SetIndex("Z-new", n+1)
		s.Record(Header{ID: "E-0005", Kind: "inspection", Agency: "npa", Case: "c-9", Seq: 501}, k) // shadows the table's
	}
	if st.Len() != plain.Len() || st.Len() != n+2 {
		t.Fatalf("len %d and %d, want %d", st.Len(), plain.Len(), n+2)
	}
	want, err := plain.MarshalSnapshotV2(n + 2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.MarshalSnapshotV2(n + 2)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("merged table differs from the plain state's (%v)", err)
	}
	wantJSON, _ := plain.MarshalSnapshot(n + 2)
	gotJSON, _ := st.MarshalSnapshot(n + 2)
	if !bytes.Equal(wantJSON, gotJSON) {
		t.Fatal("version 1 of the merged state differs")
	}
	again, err := UnmarshalLogStateSnapshotV2(got, n+2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("E-%04d", i)
		a, _ := plain.IndexOf(id)
		if b, ok := again.IndexOf(id); !ok || a != b {
			t.Fatalf("%s: index %d, want %d", id, b, a)
		}
	}
}

// Check gives the same verdicts on a state read from a table as on the
// state it was written from: duplicate ids, refs and their kinds.
func TestLogStateSnapshotV2Lookups(t *testing.T) {
	s := sampleState(t)
	data, err := s.MarshalSnapshotV2(3)
	if err != nil {
		t.Fatal(err)
	}
	st, err := UnmarshalLogStateSnapshotV2(data, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*Entry{
		{ID: "npa-1", Agency: "npa", Seq: 3, Kind: "notice"},
		{ID: "x", Agency: "npa", Seq: 3, Kind: "notice", Refs: []string{"nope"}, Body: []byte(`{}`)},
	} {
		a, b := s.checkRefsOrDup(e), st.checkRefsOrDup(e)
		if a == nil || b == nil || a.Error() != b.Error() {
			t.Errorf("%s: %v / %v", e.ID, a, b)
		}
	}
}

// checkRefsOrDup runs the duplicate and refs rules, as CheckVerified does
// after content.
func (s *LogState) checkRefsOrDup(e *Entry) error {
	if info, dup := s.lookup(e.ID); dup {
		return violation(e.ID, "id", RuleDuplicateID, "id is already in the log at index %d", info.index)
	}
	return s.checkRefs(e)
}

func TestLogStateSnapshotV2Refuses(t *testing.T) {
	good, err := sampleState(t).MarshalSnapshotV2(3)
	if err != nil {
		t.Fatal(err)
	}
	g := string(good)
	head := g[:strings.Index(g, "entries ")]
	body := []byte(g[strings.Index(g, "entries 3 15\n")+len("entries 3 15\n"):])
	t.Logf("head %q, body %q", head, body)
	edit := func(old, new string) []byte {
		if !strings.Contains(g, old) {
			t.Fatalf("%q not in the section", old)
		}
		return []byte(strings.Replace(g, old, new, 1))
	}
	// rec changes record i of the body (records are nco-1, npa-1, npa-2).
	rec := func(i, at int, v uint64, width int) []byte {
		b := bytes.Clone(body)
		r := b[i*tableRecSize+at:]
		switch width {
		case 8:
			binary.BigEndian.PutUint64(r, v)
		case 4:
			binary.BigEndian.PutUint32(r, uint32(v))
		case 2:
			binary.BigEndian.PutUint16(r, uint16(v))
		}
		return append([]byte(head+"entries 3 15\n"), b...)
	}
	ids := func(s string) []byte { // replaces the 15 id bytes
		return append([]byte(head+"entries 3 15\n"), append(bytes.Clone(body[:3*tableRecSize]), s...)...)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		size uint64
		want string
	}{
		{"size", good, 4, "entries: 3 entries for a tree of 4"},
		{"seq zero", edit("npa 2", "npa 0"), 3, "seq: a decimal from 1"},
		{"table order", edit("inspection\nnotice\n", "notice\ninspection\n"), 3, "out of order or repeated (ascending byte order"},
		{"table twice", edit("c-1\nc-2\n", "c-1\nc-1\n"), 3, "out of order or repeated"},
		{"unknown kind", edit("notice\n", "nope\n"), 3, "not a kind"},
		{"table unused", edit("cases 2\nc-1\nc-2\n", "cases 3\nc-1\nc-2\nc-3\n"), 3, `"c-3" is listed but no entry uses it`},
		{"entries line", edit("entries 3 15", "entries 3"), 3, `want a line "entries N IDBYTES"`},
		{"entries leading zero", edit("entries 3 15", "entries 3 017"), 3, "id bytes:"},
		{"short", good[:len(good)-1], 3, "but the section has 74 bytes after this line"},
		{"long", append(bytes.Clone(good), 'x'), 3, "but the section has 76 bytes"},
		{"index past", rec(1, 0, 3, 8), 3, "entry 1: index 3 past the tree of 3"},
		{"index twice", rec(1, 0, 1, 8), 3, "entry 1: index 1 is another record's"},
		{"first offset", rec(0, recOffAt, 1, 4), 3, "entry 0: id offset 1; the first id starts at 0"},
		{"empty id", rec(1, recOffAt, 0, 4), 3, "entry 0: id from offset 0 to 0"},
		{"offset past", rec(2, recOffAt, 99, 4), 3, "entry 1: id from offset 5 to 99"},
		{"order", ids("npa-1nco-1npa-2"), 3, `entry 1: id "nco-1" is not after "npa-1"`},
		{"same id", ids("nco-1nco-1npa-2"), 3, "is not after"},
		{"id token", ids("nco 1npa-1npa-2"), 3, "entry 0: the id is not one token"},
		{"kind past", rec(0, recKindAt, 3, 2), 3, "entry 0: kind number 3 is past its table of 2"},
		{"agency past", rec(0, recAgencyAt, 3, 2), 3, "agency number 3 is past its table of 2"},
		{"case past", rec(0, recCaseAt, 3, 4), 3, "case number 3 is past its table of 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := UnmarshalLogStateSnapshotV2(tc.in, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestLogStateSnapshotV2MarshalRefuses(t *testing.T) {
	s := sampleState(t)
	s.Record(Header{ID: "npa-3", Kind: "notice", Agency: "npa", Seq: 3}, PendingIndex)
	if _, err := s.MarshalSnapshotV2(4); err == nil || !strings.Contains(err.Error(), "no index yet") {
		t.Errorf("pending: %v", err)
	}
	if _, err := sampleState(t).MarshalSnapshotV2(4); err == nil || !strings.Contains(err.Error(), "3 entries for a tree of 4") {
		t.Errorf("short: %v", err)
	}
	s = sampleState(t)
	s.Record(Header{ID: "npa-3", Kind: "notice", Agency: "npa", Seq: 3}, 1)
	if _, err := s.MarshalSnapshotV2(4); err == nil || !strings.Contains(err.Error(), "two entries at 1") {
		t.Errorf("same index: %v", err)
	}
}

// FuzzLogStateSnapshotV2: whatever a version 2 log_state section holds,
// reading it never panics, every id it holds is found, and a section that
// reads is written back byte for byte.
func FuzzLogStateSnapshotV2(f *testing.F) {
	good, err := sampleState(f).MarshalSnapshotV2(3)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, uint64(3))
	f.Add([]byte("last_seq 0\nkinds 0\nagencies 0\ncases 0\nentries 0 0\n"), uint64(0))
	f.Fuzz(func(t *testing.T, data []byte, size uint64) {
		size %= 1 << 16
		st, err := UnmarshalLogStateSnapshotV2(data, size)
		if err != nil {
			return
		}
		for i := range st.base.n {
			if _, ok := st.IndexOf(string(st.base.id(i))); !ok {
				t.Fatalf("id %q of the table not found", st.base.id(i))
			}
		}
		again, err := st.MarshalSnapshotV2(size)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("read but not written back the same (%v):\n%q\n%q", err, data, again)
		}
	})
}
