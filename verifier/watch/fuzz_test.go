package watch_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

// The state files are outside input (a disk anyone may have written): a
// head and a bulk of any bytes are refused or read, never a panic, and a
// poll on what was read does not panic either.
func FuzzState(f *testing.F) {
	fx := newFixture(f)
	fx.consult("A", "2026-06-01T09:00:00+09:00")
	w, err := fx.openErr()
	if err != nil {
		f.Fatal(err)
	}
	if _, err := w.Poll(context.Background()); err != nil {
		f.Fatal(err)
	}
	head, _ := os.ReadFile(fx.state)
	bulk, _ := os.ReadFile(w.BulkFile())
	fx.consult("B", "2026-06-01T09:10:00+09:00")
	f.Add(head, bulk)
	f.Add([]byte(`{"version":2}`), []byte(`{}`))
	f.Fuzz(func(t *testing.T, head, bulk []byte) {
		opts := fx.opts
		opts.State = filepath.Join(t.TempDir(), "state")
		opts.Emit = nil
		sum := sha256.Sum256(bulk)
		os.WriteFile(opts.State, head, 0o600)
		os.WriteFile(opts.State+".bulk-"+hex.EncodeToString(sum[:])[:16], bulk, 0o600)
		w, err := openWith(fx, opts)
		if err != nil {
			return
		}
		w.Poll(context.Background())
	})
}
