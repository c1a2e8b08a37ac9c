package specs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// v3N is three full blocks and a short fourth.
const v3N = 3*blockRecords + 5

// v3State records v3N entries whose log order is not their id order.
func v3State() *LogState {
	s := NewLogState()
	for i := range v3N {
		s.Record(Header{ID: fmt.Sprintf("E-%06d", (i*7)%v3N), Kind: []string{"notice", "inspection"}[i%2], Agency: []string{"nco", "npa"}[i%2], Case: fmt.Sprintf("c-%d", i/1000), Seq: uint64(i/2 + 1)}, uint64(i))
	}
	return s
}

func v3Data(t testing.TB) ([]byte, int) {
	data, unhashed, err := v3State().MarshalSnapshotV3(v3N)
	if err != nil {
		t.Fatal(err)
	}
	return data, unhashed
}

// A version 3 section round-trips through the container (version 2, the
// table outside the file's checksum), reads lazily, answers as the state
// it was written from, passes the whole-table check, and is written back
// byte for byte.
func TestLogStateSnapshotV3RoundTrip(t *testing.T) {
	plain := v3State()
	data, unhashed := v3Data(t)
	snap := &Snapshot{Origin: "o", Size: v3N, Root: make([]byte, 32), Sections: []SnapshotSection{{Name: LogStateSection, Version: LogStateSectionVersion3, Data: data, Unhashed: unhashed}}}
	raw, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(raw, []byte(SnapshotMagic2+"\n")) {
		t.Fatalf("container %q", raw[:24])
	}
	back, err := ParseSnapshot(raw)
	if err != nil {
		t.Fatal(err)
	}
	sec := back.Section(LogStateSection)
	if sec.Unhashed != unhashed || !bytes.Equal(sec.Data, data) {
		t.Fatalf("section read back with %d unhashed bytes, want %d", sec.Unhashed, unhashed)
	}
	if again, err := back.Marshal(); err != nil || !bytes.Equal(again, raw) {
		t.Fatalf("container not written back the same (%v)", err)
	}
	st, err := UnmarshalLogStateSnapshotV3(sec.Data, sec.Unhashed, v3N)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing was checked yet but the index: one lookup checks one block.
	if idx, ok := st.IndexOf("E-000007"); !ok || idx != 1 {
		t.Fatalf("IndexOf(E-000007) = %d, %v", idx, ok)
	}
	checked := 0
	for k := range st.base.blocks {
		if st.base.blocks[k].done.Load() {
			checked++
		}
	}
	if checked != 1 {
		t.Fatalf("%d blocks checked after one lookup, want 1", checked)
	}
	for i := range v3N {
		id := fmt.Sprintf("E-%06d", i)
		a, _ := plain.IndexOf(id)
		if b, ok := st.IndexOf(id); !ok || a != b {
			t.Fatalf("%s: index %d, %v; want %d", id, b, ok, a)
		}
	}
	for _, id := range []string{"E-", "A", "E-000000x", "E-999999", "Z"} {
		if _, ok := st.IndexOf(id); ok {
			t.Fatalf("%q found", id)
		}
	}
	if err := st.CheckTable(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, un, err := st.MarshalSnapshotV3(v3N)
	if err != nil || un != unhashed || !bytes.Equal(again, data) {
		t.Fatalf("not written back the same (%v)", err)
	}
	// The same state as version 2 writes it.
	v2a, _ := plain.MarshalSnapshotV2(v3N)
	v2b, err := st.MarshalSnapshotV2(v3N)
	if err != nil || !bytes.Equal(v2a, v2b) {
		t.Fatalf("version 2 of the read state differs (%v)", err)
	}
}

// tableAt is where the records start in a version 3 section.
func tableAt(data []byte, unhashed int) int { return len(data) - unhashed }

// rehash writes block k's true SHA-256 into the index, as a writer would
// have: a fault that only a whole-table or in-block rule catches.
func rehash(t *testing.T, data []byte, unhashed, k int) []byte {
	st, err := UnmarshalLogStateSnapshotV3(data, unhashed, v3N)
	if err != nil {
		t.Fatal(err)
	}
	tb := st.base
	from, to := k*blockRecords, min(v3N, (k+1)*blockRecords)
	end := len(tb.ids)
	if k+1 < len(tb.blocks) {
		end = tb.blocks[k+1].off
	}
	h := sha256.New()
	h.Write(tb.recs[from*tableRecSize : to*tableRecSize])
	h.Write(tb.ids[tb.blocks[k].off:end])
	old := hex.EncodeToString(tb.blocks[k].sum[:])
	return bytes.Replace(data, []byte(old), []byte(hex.EncodeToString(h.Sum(nil))), 1)
}

// Every fault of a block is found by the lookup that lands in it or by
// the whole-table check, never used: the lookup finds nothing, the fault
// is reported (wrapping ErrTableFault, naming the block or record and the
// rule), and CheckVerified returns it instead of a verdict.
func TestLogStateSnapshotV3BlockFaults(t *testing.T) {
	good, unhashed := v3Data(t)
	at := tableAt(good, unhashed)
	idsAt := at + v3N*tableRecSize
	for _, tc := range []struct {
		name   string
		edit   func([]byte) []byte
		lookup string // an id in the damaged block, or "" for a whole-table rule
		want   string
	}{
		{"flipped record byte", func(d []byte) []byte { d[at+blockRecords*tableRecSize+3] ^= 1; return d }, "E-004100", "block 1: its records and ids do not match its SHA-256"},
		{"flipped id byte", func(d []byte) []byte { d[len(d)-1] ^= 1; return d }, "E-012290", "block 3: its records and ids do not match"},
		// CheckTable checks blocks on every core: with two faults, its
		// verdict is still the first block's, as one pass in order gives.
		{"two flipped blocks", func(d []byte) []byte {
			d[at+blockRecords*tableRecSize+3] ^= 1
			d[len(d)-1] ^= 1
			return d
		}, "", "block 1: its records and ids do not match its SHA-256"},
		{"last id past the next block's first", func(d []byte) []byte {
			// Block 0's last id, E-004095, becomes E-094095.
			i := idsAt + bytes.Index(d[idsAt:], []byte("E-004095"))
			d[i+3] = '9'
			return rehash(t, d, unhashed, 0)
		}, "E-000001", `entry 4095: id "E-094095" is not before the next block's first id "E-004096"`},
		{"record index past the tree", func(d []byte) []byte {
			binary.BigEndian.PutUint64(d[at+5*tableRecSize:], v3N)
			return rehash(t, d, unhashed, 0)
		}, "E-000001", "entry 5: index 12293 past the tree"},
		{"kind number past its table", func(d []byte) []byte {
			binary.BigEndian.PutUint16(d[at+(blockRecords+2)*tableRecSize+recKindAt:], 9)
			return rehash(t, d, unhashed, 1)
		}, "E-005000", "entry 4098: kind number 9 is past its table of 2"},
		{"an index twice, across blocks", func(d []byte) []byte {
			copy(d[at+blockRecords*tableRecSize:at+blockRecords*tableRecSize+8], d[at:at+8])
			return rehash(t, d, unhashed, 1)
		}, "", "entry 4096: index 0 is another record's (each index once)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := tc.edit(bytes.Clone(good))
			st, err := UnmarshalLogStateSnapshotV3(data, unhashed, v3N)
			if err != nil {
				t.Fatalf("the index is intact, so the open must pass (lazily): %v", err)
			}
			if tc.lookup != "" {
				if _, ok := st.IndexOf(tc.lookup); ok {
					t.Fatalf("%s found in a damaged block", tc.lookup)
				}
				f := st.TableFault()
				if f == nil || !errors.Is(f, ErrTableFault) || !strings.Contains(f.Error(), tc.want) {
					t.Fatalf("fault %v, want %q", f, tc.want)
				}
				t.Logf("lookup: %v", f)
				// An admission that looked the block up gets the fault, not a
				// verdict: a duplicate of an id in it would otherwise pass.
				a := &Admitted{Entry: &Entry{ID: tc.lookup, Agency: "zzz", Seq: 1, Kind: "notice", Refs: []string{"nope"}, Body: []byte(`{}`)}}
				if err := st.CheckVerified(a); err == nil || !errors.Is(err, ErrTableFault) {
					t.Fatalf("CheckVerified: %v", err)
				}
			}
			err = st.CheckTable(context.Background())
			if err == nil || !errors.Is(err, ErrTableFault) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckTable: %v, want %q", err, tc.want)
			}
			t.Logf("whole table: %v", err)
			if _, _, err := st.MarshalSnapshotV3(v3N); err == nil {
				t.Fatal("a table that failed its check was written out")
			}
		})
	}
}

// What open reads (the text part and the block index) is refused at once.
func TestLogStateSnapshotV3Refuses(t *testing.T) {
	good, unhashed := v3Data(t)
	head := string(good[:tableAt(good, unhashed)])
	tail := good[tableAt(good, unhashed):]
	lines := strings.Split(head, "\n")
	ix := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "entries ") {
			ix = i + 1
		}
	}
	withLines := func(f func([]string) []string) []byte {
		ls := f(append([]string(nil), lines...))
		return append([]byte(strings.Join(ls, "\n")), tail...)
	}
	edit := func(old, new string) []byte {
		if !strings.Contains(head, old) {
			t.Fatalf("%q not in the head", old)
		}
		return append([]byte(strings.Replace(head, old, new, 1)), tail...)
	}
	for _, tc := range []struct {
		name     string
		in       []byte
		unhashed int
		want     string
	}{
		{"size", good, unhashed, "entries: 12293 entries for a tree of"},
		{"block count", edit("entries 12293 98344 4", "entries 12293 98344 5"), unhashed, "entries: 5 blocks for 12293 records"},
		{"entries fields", edit("entries 12293 98344 4", "entries 12293 98344"), unhashed, `want a line "entries N IDBYTES BLOCKS"`},
		{"missing index line", withLines(func(ls []string) []string { return append(ls[:ix+1], ls[ix+2:]...) }), unhashed, "block 2: offset 98304: its 4096 ids do not fit"},
		{"blocks out of order", withLines(func(ls []string) []string { ls[ix+1], ls[ix+2] = ls[ix+2], ls[ix+1]; return ls }), unhashed, "block 2: offset"},
		{"first ids out of order", withLines(func(ls []string) []string {
			ls[ix+2] = strings.Replace(ls[ix+2], "E-008192", "E-000000", 1)
			return ls
		}), unhashed, `block 2: first id "E-000000" is not after the previous block's "E-004096"`},
		{"first block offset", withLines(func(ls []string) []string { ls[ix] = strings.Replace(ls[ix], " 0 ", " 1 ", 1); return ls }), unhashed, "block 0: offset 1; the first block's ids start at 0"},
		{"sha256 upper case", withLines(func(ls []string) []string { ls[ix] = strings.ToUpper(ls[ix][:64]) + ls[ix][64:]; return ls }), unhashed, "block 0: sha256: want 64 lower-case hex digits"},
		{"unhashed too few", good, unhashed - 1, "exactly the 344204 bytes of records and ids must be"},
		{"unhashed too many", good, unhashed + 1, "exactly the 344204 bytes"},
		{"short table", good[:len(good)-1], unhashed - 1, "but the section has"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := uint64(v3N)
			if tc.name == "size" {
				size++
			}
			_, err := UnmarshalLogStateSnapshotV3(tc.in, tc.unhashed, size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// The block index is under the file's checksum: a flipped byte in it is
// the container's refusal, before any section is read.
func TestSnapshotV2ChecksumCoversIndex(t *testing.T) {
	data, unhashed := v3Data(t)
	snap := &Snapshot{Origin: "o", Size: v3N, Root: make([]byte, 32), Sections: []SnapshotSection{{Name: LogStateSection, Version: LogStateSectionVersion3, Data: data, Unhashed: unhashed}}}
	raw, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, []byte("\nentries ")) + 30 // in the first index line's hash
	bad := bytes.Clone(raw)
	bad[i] ^= 1
	if _, err := ParseSnapshot(bad); err == nil || !strings.Contains(err.Error(), "sha256: does not match") {
		t.Fatalf("got %v", err)
	}
	// A byte of the table is not: the container reads, the block check refuses.
	bad = bytes.Clone(raw)
	bad[len(bad)-80] ^= 1
	if _, err := ParseSnapshot(bad); err != nil {
		t.Fatalf("the table is outside the file's checksum, got %v", err)
	}
	// Version 2 with every byte hashed has a shorter form, version 1.
	v1 := &Snapshot{Origin: "o", Root: make([]byte, 32), Sections: []SnapshotSection{{Name: "a", Version: 1, Data: []byte("x")}}}
	raw, _ = v1.Marshal()
	raw = resum(bytes.Replace(bytes.Replace(raw, []byte(SnapshotMagic), []byte(SnapshotMagic2), 1), []byte("section a 1 1\n"), []byte("section a 1 1 1\n"), 1))
	if _, err := ParseSnapshot(raw); err == nil || !strings.Contains(err.Error(), "such a file is version 1") {
		t.Fatalf("got %v", err)
	}
	raw = resum(bytes.Replace(raw, []byte("section a 1 1 1\n"), []byte("section a 1 1 2\n"), 1))
	if _, err := ParseSnapshot(raw); err == nil || !strings.Contains(err.Error(), "hashed 2 is more than its length 1") {
		t.Fatalf("got %v", err)
	}
}

// FuzzLogStateSnapshotV3: whatever a version 3 section holds, reading it
// and looking ids up never panics nor uses a block that failed; a section
// that reads and passes the whole-table check is written back byte for
// byte.
func FuzzLogStateSnapshotV3(f *testing.F) {
	s := sampleState(f)
	small, un, err := s.MarshalSnapshotV3(3)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small, un, uint64(3), "npa-2")
	f.Add([]byte("last_seq 0\nkinds 0\nagencies 0\ncases 0\nentries 0 0 0\n"), 0, uint64(0), "x")
	f.Fuzz(func(t *testing.T, data []byte, unhashed int, size uint64, id string) {
		st, err := UnmarshalLogStateSnapshotV3(data, unhashed, size)
		if err != nil {
			return
		}
		_, found := st.IndexOf(id)
		if found && st.TableFault() != nil {
			t.Fatal("found in a table with a fault")
		}
		if err := st.CheckTable(context.Background()); err != nil {
			if !errors.Is(err, ErrTableFault) || st.TableFault() == nil {
				t.Fatalf("whole-table check: %v, fault %v", err, st.TableFault())
			}
			return
		}
		again, un, err := st.MarshalSnapshotV3(size)
		if err != nil || un != unhashed || !bytes.Equal(again, data) {
			t.Fatalf("read but not written back the same (%v)", err)
		}
	})
}

// sampleSnapshotV2 is a container of version 2: sampleState as log_state
// version 3, its table outside the file's checksum.
func sampleSnapshotV2(t testing.TB) []byte {
	data, unhashed, err := sampleState(t).MarshalSnapshotV3(3)
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{Origin: "example.org/log", Size: 3, Root: bytes.Repeat([]byte{7}, 32),
		Sections: []SnapshotSection{{Name: "a_first", Version: 3, Data: []byte("x\n")}, {Name: LogStateSection, Version: LogStateSectionVersion3, Data: data, Unhashed: unhashed}}}
	raw, err := snap.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Lookups while CheckTable runs (as admission does while the ledger's
// background pass runs) each check a block once and agree (run with -race).
func TestLogStateSnapshotV3ConcurrentCheck(t *testing.T) {
	data, unhashed := v3Data(t)
	st, err := UnmarshalLogStateSnapshotV3(data, unhashed, v3N)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- st.CheckTable(context.Background()) }()
	for i := v3N - 1; i >= 0; i -= 97 {
		if _, ok := st.IndexOf(fmt.Sprintf("E-%06d", i)); !ok {
			t.Fatalf("E-%06d not found", i)
		}
	}
	if err := <-done; err != nil || st.TableFault() != nil {
		t.Fatalf("%v, %v", err, st.TableFault())
	}
}
