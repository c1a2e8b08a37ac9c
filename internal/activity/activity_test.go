package activity_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/specs"
)

// admitAll seals and signs every generated entry with its agency's key
// and runs the real admission rules over them in order: all must pass.
func admitAll(t *testing.T, entries []activity.Entry) {
	t.Helper()
	var agencies []testkit.Agency
	for _, a := range activity.Agencies() {
		agencies = append(agencies, testkit.Agency{ID: a.ID, Role: a.Role, Kinds: a.Kinds})
	}
	kit := testkit.NewWith(t, agencies)
	st := specs.NewLogState()
	for i, e := range entries {
		a, err := st.Check(kit.Registry, kit.SignPayload(t, e.Agency, e.Payload))
		if err != nil {
			t.Fatalf("entry %d (%s): %v\n%s", i, e.Kind, err, e.Payload)
		}
		st.Accept(a, uint64(i))
	}
}

func TestDefaultCoversEveryKindAndIsAdmissible(t *testing.T) {
	cfg := activity.DefaultConfig()
	entries, err := activity.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < cfg.Entries*9/10 {
		t.Fatalf("%d entries for a target of %d", len(entries), cfg.Entries)
	}
	kinds := map[string]int{}
	var last time.Time
	for _, e := range entries {
		kinds[e.Kind]++
		var h struct {
			OccurredAt time.Time `json:"occurred_at"`
		}
		json.Unmarshal(e.Payload, &h)
		if h.OccurredAt.Before(cfg.Start) || h.OccurredAt.After(cfg.End) || h.OccurredAt.Before(last) {
			t.Fatalf("occurred_at %s out of [%s, %s] or out of order", h.OccurredAt, cfg.Start, cfg.End)
		}
		last = h.OccurredAt
		if bytes.Contains(e.Payload, []byte("NAINAI")) {
			t.Fatal("generated a NAINAI entry")
		}
	}
	for _, k := range specs.Kinds {
		if kinds[k] == 0 && !specs.RootKinds[k] { // registry entries are the commission's, not generated activity
			t.Errorf("kind %s never generated", k)
		}
	}
	t.Logf("%d entries: %v", len(entries), kinds)
	admitAll(t, entries)
}

func TestDeterministic(t *testing.T) {
	cfg := activity.DefaultConfig()
	a, _ := activity.Generate(cfg)
	b, _ := activity.Generate(cfg)
	cfg.Seed = 2
	c, _ := activity.Generate(cfg)
	if len(a) != len(b) {
		t.Fatal("same seed, different lengths")
	}
	for i := range a {
		if !bytes.Equal(a[i].Payload, b[i].Payload) {
			t.Fatalf("same seed, entry %d differs", i)
		}
	}
	if len(c) > 0 && bytes.Equal(a[0].Payload, c[0].Payload) {
		t.Fatal("different seeds, same first entry")
	}
}

// A year of activity is admissible from the first entry to the last
// (5,000 entries keep this quick under the race detector; the generator's
// chains are the same at any size).
func TestYearIsAdmissible(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cfg := activity.DefaultConfig()
	cfg.Entries = 5_000
	cfg.End = cfg.Start.AddDate(1, 0, 0).Add(-time.Second)
	entries, err := activity.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	admitAll(t, entries)
}

func BenchmarkGenerate50k(b *testing.B) {
	cfg := activity.DefaultConfig()
	cfg.Entries = 50_000
	for b.Loop() {
		if _, err := activity.Generate(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
