package report

import (
	"encoding/json"
	"slices"

	"github.com/acdledger/acdledger/specs"
)

// The integrity tables class every leaf of [0, N) that fails admission by
// what it claims to be (specs/report.md, "integrity"): a rogue operator who
// writes a 内内 acquisition around the ledger must show as 内内, not only as
// one more "leaf failing admission". What a failing leaf claims is read
// leniently and trusted for nothing else: it feeds no other figure and no
// cross-reference.
const (
	TIntegrityByKind     = "integrity_by_kind"
	TIntegrityDirections = "integrity_directions"
	TIntegrityVolumes    = "integrity_volumes"
)

// Rows of integrity_by_kind outside the kinds.
const (
	rowUnreadable  = "unreadable"   // not a DSSE envelope whose payload is a JSON object
	rowUnknownKind = "unknown_kind" // a kind that is not one of specs.Kinds (or none)
)

func integritySpecs() []tableSpec {
	return []tableSpec{
		{TIntegrityByKind, []string{"failures", "naming_nainai", "essential_content"}, specs.Kinds},
		{TIntegrityDirections, []string{"failures"}, directions},
		{TIntegrityVolumes, append(slices.Clone(categories), "total"), directions},
	}
}

// claimed is what a failing leaf says it is, read without checks.
type claimed struct {
	Kind string          `json:"kind"`
	Body json.RawMessage `json:"body"`
}

// AddFailure classes a leaf that failed admission by what its payload
// claims: its kind, the directions it names, whether it names NAINAI or
// counts ESSENTIAL_CONTENT (as rules R7 and R10 test), and the counts of a
// selection.batch. Every failing leaf of [0, N) must be given, in any
// order, whatever its claimed occurred_at: nothing it claims is trusted,
// its time included.
func (b *Builder) AddFailure(index uint64, leaf []byte) {
	b.failures++
	t := b.tallies
	row := rowUnreadable
	var c claimed
	var doc any
	if env, err := specs.ReadEnvelope(leaf); err == nil && json.Unmarshal(env.Payload, &c) == nil && json.Unmarshal(env.Payload, &doc) == nil {
		row = rowUnknownKind
		if slices.Contains(specs.Kinds, c.Kind) {
			row = c.Kind
		}
	}
	t[TIntegrityByKind].add(row, "failures", 1)
	if row == rowUnreadable {
		return
	}
	named := map[string]bool{}
	essential := false
	walkClaim(doc, "", func(key string, v any) {
		switch x := v.(type) {
		case string:
			if slices.Contains(directions, x) {
				named[x] = true
			}
			if x == "ESSENTIAL_CONTENT" && key == "categories" {
				essential = true
			}
		case map[string]any:
			if x["category"] == "ESSENTIAL_CONTENT" {
				if n, ok := x["n"].(float64); ok && n > 0 {
					essential = true
				}
			}
		}
	})
	if named["NAINAI"] {
		t[TIntegrityByKind].add(row, "naming_nainai", 1)
	}
	if essential {
		t[TIntegrityByKind].add(row, "essential_content", 1)
	}
	for _, d := range directions {
		if named[d] {
			t[TIntegrityDirections].add(d, "failures", 1)
		}
	}
	if c.Kind != "selection.batch" {
		return
	}
	// Best effort: a count that is not a non-negative integer, or a
	// direction or category that is not one of the table's, is left out
	// (the by-kind table still counts the leaf).
	var bd struct {
		Counts []struct {
			Direction string `json:"direction"`
			Category  string `json:"category"`
			N         any    `json:"n"`
		} `json:"counts"`
	}
	json.Unmarshal(c.Body, &bd)
	for _, x := range bd.Counts {
		n, ok := x.N.(float64)
		if !ok || n < 0 || n != float64(uint64(n)) || !slices.Contains(directions, x.Direction) || !slices.Contains(categories, x.Category) {
			continue
		}
		t[TIntegrityVolumes].add(x.Direction, x.Category, uint64(n))
		t[TIntegrityVolumes].add(x.Direction, "total", uint64(n))
	}
}

// walkClaim calls fn on every value of a decoded JSON document, with the
// key (or, for an array element, the array's key) it stands under.
func walkClaim(v any, key string, fn func(key string, v any)) {
	fn(key, v)
	switch x := v.(type) {
	case map[string]any:
		for k, y := range x {
			walkClaim(y, k, fn)
		}
	case []any:
		for _, y := range x {
			walkClaim(y, key, fn)
		}
	}
}
