package specs

import (
	"testing"
	"unsafe"
)

// The per-entry record stays 16 bytes: the log may hold millions of
// entries and an auditor keeps one per entry in memory.
func TestEntryInfoSize(t *testing.T) {
	if n := unsafe.Sizeof(entryInfo{}); n != 16 {
		t.Fatalf("entryInfo is %d bytes, want 16", n)
	}
}
