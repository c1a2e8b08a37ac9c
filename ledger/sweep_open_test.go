package ledger_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
)

// A real ledger: Close leaves the stamp of its sweep (ledger.SweptFile)
// and the next open consumes it (so a session that crashes leaves none;
// TestSweptStamp shows the open after it sweeping).
func TestSweptStampOpenClose(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "test.example/swept", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join(dir, ledger.SweptFile)
	cycle := func() *ledger.Ledger {
		l, err := ledger.Open(ctx, dir, ledger.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(stamp); err == nil {
			t.Fatal("the stamp outlives the open that read it")
		}
		return l
	}
	l := cycle()
	if _, err := l.Append(ctx, kit.Signed(t, "nco"), kit.Signed(t, "nco"), kit.Signed(t, "nco")); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Fatalf("Close left no stamp: %v", err)
	}
	l = cycle()
	if l.Len() != 3 {
		t.Fatalf("reopened with %d entries, want 3", l.Len())
	}
	if err := l.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stamp); err != nil {
		t.Fatalf("Close left no stamp: %v", err)
	}
}
