package archive_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/ledger/archive"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
)

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func open(t *testing.T, dir string) *archive.Writer {
	t.Helper()
	w, err := archive.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// Each size is written once, the first checkpoint at a size wins, and
// the index only grows, strictly ascending.
func TestAddOnceAscending(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir)
	for _, c := range []struct {
		size uint64
		raw  string
	}{{0, "zero"}, {3, "three"}, {3, "three again"}, {2, "two"}, {10, "ten"}} {
		if err := w.Add(c.size, []byte(c.raw)); err != nil {
			t.Fatal(err)
		}
	}
	cd := filepath.Join(dir, "checkpoints")
	if got := read(t, filepath.Join(cd, "index")); got != "0\n3\n10\n" {
		t.Fatalf("index %q", got)
	}
	if got := read(t, filepath.Join(cd, "3")); got != "three" {
		t.Fatalf("checkpoints/3 = %q: the first published one must stay", got)
	}
	if _, err := os.Stat(filepath.Join(cd, "2")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a size below the last archived one was written")
	}
	if w.Len() != 3 {
		t.Fatalf("Len %d", w.Len())
	}
	// Reopened, it goes on after 10.
	w = open(t, dir)
	w.Add(10, []byte("ten again"))
	w.Add(11, []byte("eleven"))
	if got := read(t, filepath.Join(cd, "index")); got != "0\n3\n10\n11\n" {
		t.Fatalf("index after reopen %q", got)
	}
}

// What a crash leaves is repaired on open: a torn last line is cut, a
// file whose line was lost is listed again, a temp file goes.
func TestRepairOnOpen(t *testing.T) {
	dir := t.TempDir()
	w := open(t, dir)
	w.Add(1, []byte("one"))
	w.Add(5, []byte("five"))
	cd := filepath.Join(dir, "checkpoints")
	// Crash while appending "12\n": half the line; and 20 written whose
	// line was never appended; and a temp file of a write cut short.
	f, _ := os.OpenFile(filepath.Join(cd, "index"), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("1")
	f.Close()
	os.WriteFile(filepath.Join(cd, "12"), []byte("twelve"), 0o644)
	os.WriteFile(filepath.Join(cd, "20"), []byte("twenty"), 0o644)
	os.WriteFile(filepath.Join(cd, ".21.tmp-123"), []byte("tw"), 0o644)
	os.WriteFile(filepath.Join(cd, "3"), []byte("below the last line: not listed"), 0o644)
	w = open(t, dir)
	if got := read(t, filepath.Join(cd, "index")); got != "1\n5\n12\n20\n" {
		t.Fatalf("index after repair %q", got)
	}
	if _, err := os.Stat(filepath.Join(cd, ".21.tmp-123")); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("temp file left")
	}
	if w.Len() != 4 {
		t.Fatalf("Len %d", w.Len())
	}
	if _, err := ckptarchive.ParseIndex([]byte(read(t, filepath.Join(cd, "index")))); err != nil {
		t.Fatal(err)
	}
}

// An index that is wrong for any reason other than a torn last line is
// refused, naming the line and the rule: it is public, never rewritten.
func TestRefuseBadIndex(t *testing.T) {
	for _, c := range []struct{ index, rule string }{
		{"1\n1\n", ckptarchive.RuleIndexAscending},
		{"5\n3\n", ckptarchive.RuleIndexAscending},
		{"01\n", ckptarchive.RuleIndexLine},
		{"1\n\n2\n", ckptarchive.RuleIndexLine},
		{" 1\n", ckptarchive.RuleIndexLine},
	} {
		dir := t.TempDir()
		os.MkdirAll(filepath.Join(dir, "checkpoints"), 0o755)
		os.WriteFile(filepath.Join(dir, "checkpoints", "index"), []byte(c.index), 0o644)
		_, err := archive.Open(dir, nil)
		var ae *ckptarchive.Error
		if !errors.As(err, &ae) || ae.Rule != c.rule || !strings.Contains(err.Error(), "checkpoints/index:") {
			t.Errorf("index %q: got %v, want rule %s", c.index, err, c.rule)
		}
	}
}
