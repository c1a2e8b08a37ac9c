package ledger

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Tessera's temp files are told from the log's real files by name alone.
func TestIsTesseraTemp(t *testing.T) {
	for name, want := range map[string]bool{
		"checkpoint":                      false,
		"checkpoint1298498081":            true,
		".state/treeState":                false,
		".state/treeState2019727887":      true,
		".state/treeState.lock":           false,
		".state/version":                  false,
		"tile/0/000":                      false,
		"tile/0/0001427131847":            true,
		"tile/0/x001/234":                 false,
		"tile/0/x001/2345":                true,
		"tile/entries/000.p/101":          false,
		"tile/entries/000.p/255":          false,
		"tile/entries/000.p/1011828718":   true,
		"tile/entries/000.p/256":          true,
		"tile/entries/000":                false,
		"tile/entries/0009":               true,
		"tile/63/000":                     false,
		"tile/entries/x123/456.p/7":       false,
		"tile/entries/x123/456.p/7939393": true,
		"checkpoints/12":                  false,
		"checkpoints/index":               false,
	} {
		if got := isTesseraTemp(name); got != want {
			t.Errorf("isTesseraTemp(%q) = %v, want %v", name, got, want)
		}
	}
}

// sweepTemp removes only temp files, and only those old enough.
func TestSweepTemp(t *testing.T) {
	dir := t.TempDir()
	real := []string{"checkpoint", ".state/treeState", "tile/0/000", "tile/entries/000.p/12"}
	temp := []string{"checkpoint123", ".state/treeState99", "tile/entries/000.p/1211111"}
	for _, n := range append(real, temp...) {
		p := filepath.Join(dir, filepath.FromSlash(n))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	if n := sweepTemp(dir, 1<<40, slog.New(slog.DiscardHandler)); n != 0 {
		t.Fatalf("removed %d young temp files", n)
	}
	if n := sweepTemp(dir, 0, slog.New(slog.DiscardHandler)); n != len(temp) {
		t.Fatalf("removed %d temp files, want %d", n, len(temp))
	}
	for _, n := range real {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("real file %s removed: %v", n, err)
		}
	}
}

// Errors shown over HTTP name no server path.
func TestPublicError(t *testing.T) {
	dir := t.TempDir()
	l := &Ledger{dir: dir}
	err := errors.New(`failed to write to temporary file "` + dir + `/log/tile/entries/000.p/1234": write ` + dir + `/log/x: no space left on device (lock /var/lib/other)`)
	got := l.PublicError(err)
	if strings.Contains(got, dir) || strings.Contains(got, "/var/lib") {
		t.Fatalf("path in %q", got)
	}
	if !strings.Contains(got, `"log/tile/entries/000.p/1234"`) || !strings.Contains(got, "lock <path>") {
		t.Fatalf("PublicError = %q", got)
	}
}
