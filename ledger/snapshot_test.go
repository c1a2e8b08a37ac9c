package ledger_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/specs"
)

// syncBuf collects a ledger's log lines (its warnings say why a snapshot
// was not used).
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func openLogged(t *testing.T, dir string) (*ledger.Ledger, *syncBuf) {
	t.Helper()
	buf := &syncBuf{}
	l, err := ledger.Open(context.Background(), dir, ledger.Options{Logger: slog.New(slog.NewTextHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return l, buf
}

func appendN(t *testing.T, l *ledger.Ledger, kit *testkit.Kit, n int) {
	t.Helper()
	ctx := context.Background()
	var envs [][]byte
	for i := range n {
		envs = append(envs, kit.Signed(t, []string{"nco", "npa", "commission"}[i%3]))
	}
	ps, err := l.Append(ctx, envs...)
	if err != nil {
		t.Fatal(err)
	}
	// Ask for the index of only some: the others are filled in on Close.
	for i, p := range ps {
		if i%2 == 0 {
			if _, err := l.Index(p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// loggedSnapshot makes a ledger, appends n entries and closes it: the
// directory, and the admission snapshot that Close saved.
func loggedSnapshot(t *testing.T, n int) (*testkit.Kit, string, []byte) {
	t.Helper()
	kit := testkit.New(t)
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "test.example/snap", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, _ := openLogged(t, dir)
	appendN(t, l, kit, n)
	closeL(t, l)
	snap, err := os.ReadFile(filepath.Join(dir, ledger.SnapshotFile))
	if err != nil {
		t.Fatal(err)
	}
	return kit, dir, snap
}

func closeL(t *testing.T, l *ledger.Ledger) {
	t.Helper()
	if err := l.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSnapshotRestore: Close saves the admission state bound to the
// published tree; Open restores it and replays only the leaves after it,
// and admission carries on exactly as after a full replay.
func TestSnapshotRestore(t *testing.T) {
	ctx := context.Background()
	kit, dir, first := loggedSnapshot(t, 300)
	snap, err := specs.ParseSnapshot(first)
	if err != nil || snap.Size != 300 {
		t.Fatalf("snapshot %+v, %v", snap, err)
	}

	l, logs := openLogged(t, dir)
	if got := ledger.RestoredFrom(l); got != 300 {
		t.Fatalf("restored from %d, want the snapshot at 300 (log: %s)", got, logs)
	}
	if got := l.LastSeq("nco"); got != 100 {
		t.Fatalf("nco last seq %d, want 100", got)
	}
	// A duplicate of an entry from the snapshot is refused; the next seq admitted.
	kit.Unseq("npa")
	dup := kit.Signed(t, "npa")
	if _, err := l.Append(ctx, dup); err == nil {
		t.Fatal("an entry with an earlier seq was admitted after restoring from the snapshot")
	}
	appendN(t, l, kit, 30)
	closeL(t, l)

	// An older snapshot (300) of the longer log (330) is proven consistent
	// with the published checkpoint and only the tail replayed.
	if err := os.WriteFile(filepath.Join(dir, ledger.SnapshotFile), first, 0o644); err != nil {
		t.Fatal(err)
	}
	l, logs = openLogged(t, dir)
	if got := ledger.RestoredFrom(l); got != 300 {
		t.Fatalf("restored from %d, want the older snapshot at 300 (log: %s)", got, logs)
	}
	if l.Len() != 330 || l.LastSeq("nco") != 110 {
		t.Fatalf("len %d, nco last seq %d after the tail replay", l.Len(), l.LastSeq("nco"))
	}
	closeL(t, l)
	// ...and the open saved the replayed tail: the next one starts at 330.
	l, _ = openLogged(t, dir)
	if got := ledger.RestoredFrom(l); got != 330 {
		t.Fatalf("restored from %d, want 330", got)
	}
	closeL(t, l)
}

// TestSnapshotRefused: a snapshot that is damaged, of another log, ahead
// of the log, with a root or content that is not the log's, or with a
// section this version does not read, is not used: the ledger says why,
// replays the log from its start, and saves a good snapshot.
func TestSnapshotRefused(t *testing.T) {
	_, dir, good := loggedSnapshot(t, 40)
	path := filepath.Join(dir, ledger.SnapshotFile)
	parsed := func() *specs.Snapshot {
		s, err := specs.ParseSnapshot(good)
		if err != nil {
			t.Fatal(err)
		}
		s.Sections = append([]specs.SnapshotSection(nil), s.Sections...)
		return s
	}
	remarshal := func(s *specs.Snapshot) []byte {
		raw, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, tc := range []struct {
		name string
		file func() []byte
		want string
	}{
		{"damaged", func() []byte { return bytes.Replace(good, []byte("nco"), []byte("nca"), 1) }, "sha256: does not match"},
		{"other log", func() []byte { s := parsed(); s.Origin = "other.example/log"; return remarshal(s) }, "snapshot of log"},
		{"ahead", func() []byte { s := parsed(); s.Size = 41; return remarshal(s) }, "the log has only 40 entries"},
		{"root", func() []byte { s := parsed(); s.Root = bytes.Repeat([]byte{1}, 32); return remarshal(s) }, "differs from the published checkpoint's"},
		{"section", func() []byte {
			s := parsed()
			s.Sections = append(s.Sections, specs.SnapshotSection{Name: "zz_future", Version: 1, Data: []byte("x")})
			return remarshal(s)
		}, "section zz_future version 1 is not one this acdledger reads"},
		{"trust history", func() []byte {
			// This log has no genesis: its leaf 0 is an agency's entry.
			s := parsed()
			s.Sections[1].Data = []byte("0\n")
			return remarshal(s)
		}, "not a registry entry"},
		{"trust history form", func() []byte {
			s := parsed()
			s.Sections[1].Data = []byte("00\n")
			return remarshal(s)
		}, "is not a decimal index"},
		{"content", func() []byte {
			s := parsed()
			// The same entries, the last two swapped: a state that is not the
			// log's, each block well formed (written as version 2, whose
			// reader checks it whole: in version 3 the block's hash would
			// catch the edit first).
			s.Sections[0] = specs.SnapshotSection{Name: specs.LogStateSection, Version: specs.LogStateSectionVersion2, Data: swapLast(t, asV2(t, s), 40)}
			return remarshal(s)
		}, "entry 39 is not the log's"},
		{"block index", func() []byte {
			// The index is under the file's checksum.
			i := bytes.Index(good, []byte("\nentries 40 ")) + 1
			i += bytes.IndexByte(good[i:], '\n') + 5
			bad := bytes.Clone(good)
			bad[i] ^= 1
			return bad
		}, "sha256: does not match"},
		{"block damaged", func() []byte {
			// A table byte: the file reads, the block the open's check of
			// the last entry lands in (the only one) does not.
			i := bytes.Index(good, []byte("\nentries 40 ")) + 1
			i += bytes.IndexByte(good[i:], '\n') + 1 // the index line
			i += bytes.IndexByte(good[i:], '\n') + 1 // the records
			bad := bytes.Clone(good)
			bad[i+3] ^= 1
			return bad
		}, "block 0: its records and ids do not match its SHA-256"},
		{"unhashed section", func() []byte {
			s := parsed()
			s.Sections[1].Data, s.Sections[1].Unhashed = []byte("0\n"), 1
			return remarshal(s)
		}, "section trust_history version 1 has bytes outside the file's checksum"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(path, tc.file(), 0o644); err != nil {
				t.Fatal(err)
			}
			l, logs := openLogged(t, dir)
			defer closeL(t, l)
			if got := ledger.RestoredFrom(l); got != 0 {
				t.Fatalf("restored from %d: the bad snapshot was used", got)
			}
			if !strings.Contains(logs.String(), "admission snapshot not used") || !strings.Contains(logs.String(), tc.want) {
				t.Fatalf("log %q does not say %q", logs, tc.want)
			}
			if l.Len() != 40 || l.LastSeq("nco") != 14 {
				t.Fatalf("len %d, nco last seq %d after the full replay", l.Len(), l.LastSeq("nco"))
			}
			again, err := os.ReadFile(path)
			if err != nil || !bytes.Equal(again, good) {
				t.Fatalf("the open did not save the good snapshot again (%v)", err)
			}
		})
	}
	// Missing: replayed without a warning, and saved.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	l, logs := openLogged(t, dir)
	closeL(t, l)
	if strings.Contains(logs.String(), "snapshot") {
		t.Fatalf("a missing snapshot was warned about: %s", logs)
	}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		t.Fatal("no snapshot saved after replaying the log")
	}
}

// swapLast swaps the indices of the records at n-1 and n-2 of a version
// 2 log_state section (specs/snapshot.md: 20-byte records after the line
// "entries N L", each starting with its big-endian index).
func swapLast(t *testing.T, sec []byte, n uint64) []byte {
	t.Helper()
	sec = bytes.Clone(sec)
	i := bytes.Index(sec, []byte(fmt.Sprintf("entries %d ", n)))
	if i < 0 {
		t.Fatalf("no entries line in %q", sec)
	}
	recs := sec[i+bytes.IndexByte(sec[i:], '\n')+1:]
	var a, b []byte
	for r := uint64(0); r < n; r++ {
		switch binary.BigEndian.Uint64(recs[r*20:]) {
		case n - 1:
			a = recs[r*20:]
		case n - 2:
			b = recs[r*20:]
		}
	}
	binary.BigEndian.PutUint64(a, n-2)
	binary.BigEndian.PutUint64(b, n-1)
	return sec
}

// asV2 is the log_state section of a version 3 snapshot as version 2.
func asV2(t *testing.T, s *specs.Snapshot) []byte {
	t.Helper()
	sec := s.Section(specs.LogStateSection)
	st, err := specs.UnmarshalLogStateSnapshotV3(sec.Data, sec.Unhashed, s.Size)
	if err != nil {
		t.Fatal(err)
	}
	v2, err := st.MarshalSnapshotV2(s.Size)
	if err != nil {
		t.Fatal(err)
	}
	return v2
}

// TestSnapshotV1: a snapshot an older acdledger wrote (log_state version
// 1 or 2) is used, and the open saves it again as version 3.
func TestSnapshotV1(t *testing.T) {
	_, dir, good := loggedSnapshot(t, 40)
	path := filepath.Join(dir, ledger.SnapshotFile)
	s, err := specs.ParseSnapshot(good)
	if err != nil {
		t.Fatal(err)
	}
	if sec := s.Section(specs.LogStateSection); sec == nil || sec.Version != specs.LogStateSectionVersion3 || !bytes.HasPrefix(good, []byte(specs.SnapshotMagic2)) {
		t.Fatalf("the ledger saved %+v, want log_state version 3 in container version 2", sec)
	}
	v2 := asV2(t, s)
	st, err := specs.UnmarshalLogStateSnapshotV2(v2, s.Size)
	if err != nil {
		t.Fatal(err)
	}
	v1, err := st.MarshalSnapshot(s.Size)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range []specs.SnapshotSection{
		{Name: specs.LogStateSection, Version: specs.LogStateSectionVersion, Data: v1},
		{Name: specs.LogStateSection, Version: specs.LogStateSectionVersion2, Data: v2},
	} {
		s.Sections[0] = sec
		old, err := s.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		reopenOld(t, dir, path, old, good)
	}
}

func reopenOld(t *testing.T, dir, path string, old, good []byte) {
	t.Helper()
	if err := os.WriteFile(path, old, 0o644); err != nil {
		t.Fatal(err)
	}
	l, logs := openLogged(t, dir)
	if got := ledger.RestoredFrom(l); got != 40 || strings.Contains(logs.String(), "snapshot") {
		t.Fatalf("restored from %d, want the older snapshot at 40 (log: %s)", got, logs)
	}
	if l.Len() != 40 || l.LastSeq("nco") != 14 {
		t.Fatalf("len %d, nco last seq %d", l.Len(), l.LastSeq("nco"))
	}
	closeL(t, l)
	if again, err := os.ReadFile(path); err != nil || !bytes.Equal(again, good) {
		t.Fatalf("the open did not save it again as version 3 (%v)", err)
	}
}
