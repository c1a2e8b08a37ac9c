package ledger_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
)

// treeSum hashes every file of the log's tile tree: the log itself,
// which no snapshot fault may change.
func treeSum(t *testing.T, dir string) [32]byte {
	t.Helper()
	h := sha256.New()
	root := filepath.Join(dir, "log", "tile")
	if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		h.Write([]byte(p + "\n"))
		h.Write(b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var s [32]byte
	copy(s[:], h.Sum(nil))
	return s
}

// TestSnapshotBlockFaultAfterOpen: a damaged block the open does not
// touch is found by the background check: admission stops, the state is
// rebuilt from the whole log (the warning names the block and the rule),
// the log is unchanged, a duplicate of an id in that block is never
// admitted, and admission resumes with the full state.
func TestSnapshotBlockFaultAfterOpen(t *testing.T) {
	const blockRecords = 4096 // specs/snapshot.md, log_state version 3
	const n = blockRecords + 10
	ctx := context.Background()
	kit := testkit.New(t)
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "test.example/snap", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, _ := openLogged(t, dir)
	var ids []string
	for len(ids) < n {
		var envs [][]byte
		for i := 0; i < 500 && len(ids)+len(envs) < n; i++ {
			envs = append(envs, kit.Signed(t, []string{"nco", "npa", "commission"}[(len(ids)+i)%3]))
		}
		ps, err := l.Append(ctx, envs...)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			ids = append(ids, p.Admitted.Entry.ID)
		}
		if _, err := l.Index(ps[len(ps)-1]); err != nil {
			t.Fatal(err)
		}
	}
	closeL(t, l)
	path := filepath.Join(dir, ledger.SnapshotFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The two index lines after "entries N L 2": "SHA256 OFFSET FIRSTID".
	i := bytes.Index(good, []byte("\nentries ")) + 1
	i += bytes.IndexByte(good[i:], '\n') + 1
	var firsts []string
	for range 2 {
		end := i + bytes.IndexByte(good[i:], '\n')
		f := strings.Fields(string(good[i:end]))
		firsts = append(firsts, f[2])
		i = end + 1
	}
	recs := i // the records start here
	last := ids[n-1]
	other := 1 // a block the open's check of the last entry does not land in
	if last >= firsts[1] {
		other = 0
	}
	var victim string // an id in the damaged block
	for _, id := range ids {
		if (id >= firsts[1]) == (other == 1) {
			victim = id
			break
		}
	}
	bad := bytes.Clone(good)
	bad[recs+other*blockRecords*20+3] ^= 1
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	before := treeSum(t, dir)

	l, logs := openLogged(t, dir)
	if got := ledger.RestoredFrom(l); got != n {
		t.Fatalf("restored from %d, want the snapshot at %d: only the index and one block are read on open (log: %s)", got, n, logs)
	}
	// A duplicate of an id in the damaged block, whether the background
	// check has got there or not: refused (the block's fault, or after the
	// rebuild the duplicate-id rule), never admitted.
	e := kit.Entry("nco")
	e["id"] = victim
	if _, err := l.Append(ctx, kit.Sign(t, "nco", e)); err == nil {
		t.Fatalf("an entry repeating %s, in a damaged block, was admitted", victim)
	} else {
		t.Logf("duplicate refused: %v", err)
	}
	<-l.SnapshotChecked()
	for !strings.Contains(logs.String(), "admission resumed") {
		time.Sleep(20 * time.Millisecond) // the recovery loop's next round; no deadline but the test's
	}
	out := logs.String()
	for _, want := range []string{"admission snapshot failed its check after open", "its records and ids do not match its SHA-256", "admission snapshot not used: replaying the log from its start"} {
		if !strings.Contains(out, want) {
			t.Fatalf("log does not say %q:\n%s", want, out)
		}
	}
	if got := ledger.RestoredFrom(l); got != 0 || l.Len() != n {
		t.Fatalf("after the rebuild: restored from %d, %d entries; want 0 and %d", got, l.Len(), n)
	}
	if treeSum(t, dir) != before {
		t.Fatal("the log changed")
	}
	// The rebuilt state admits: the duplicate is still refused, the next seq taken.
	if _, err := l.Append(ctx, kit.Sign(t, "nco", e)); err == nil || !strings.Contains(err.Error(), "already in the log") {
		t.Fatalf("the duplicate after the rebuild: %v", err)
	}
	kit.Unseq("nco") // e's seq, never taken
	appendN(t, l, kit, 1)
	closeL(t, l)
	// The next open uses the snapshot Close saved, and its check passes.
	l, logs = openLogged(t, dir)
	<-l.SnapshotChecked()
	if got := ledger.RestoredFrom(l); got != n+1 || strings.Contains(logs.String(), "snapshot") {
		t.Fatalf("restored from %d, want %d (log: %s)", got, n+1, logs)
	}
	closeL(t, l)
}
