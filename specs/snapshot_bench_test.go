package specs

import (
	"fmt"
	"testing"
)

// BenchmarkLogStateSnapshot: reading and writing the log_state section (versions 1 and 2) of
// a 100,000-entry state, and a lookup in a version 2 table (for BENCHMARKS.md's per-entry cost of a start).
func BenchmarkLogStateSnapshot(b *testing.B) {
	const n = 100_000
	s := NewLogState()
	for i := range n {
		s.Record(Header{ID: fmt.Sprintf("E%s%06d", []string{"nco", "npa", "commission"}[i%3], i), Kind: "notice", Agency: []string{"nco", "npa", "commission"}[i%3], Case: fmt.Sprintf("case-%d", i/10), Seq: uint64(i/3 + 1)}, uint64(i))
	}
	data, err := s.MarshalSnapshot(n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := UnmarshalLogStateSnapshot(data, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MarshalSnapshot(n); err != nil {
				b.Fatal(err)
			}
		}
	})
	data2, err := s.MarshalSnapshotV2(n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("read_v2", func(b *testing.B) {
		b.SetBytes(int64(len(data2)))
		for b.Loop() {
			if _, err := UnmarshalLogStateSnapshotV2(data2, n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("write_v2", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.MarshalSnapshotV2(n); err != nil {
				b.Fatal(err)
			}
		}
	})
	st, err := UnmarshalLogStateSnapshotV2(data2, n)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("lookup_v2", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := st.IndexOf(fmt.Sprintf("E%s%06d", []string{"nco", "npa", "commission"}[i%3], i)); !ok {
				b.Fatal("not found")
			}
			i = (i + 7919) % n
		}
	})
}
