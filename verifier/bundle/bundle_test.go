package bundle_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/bundle"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// A log exported month by month, each bundle against the checkpoint of its
// time, audited as a chain with no log at all: the same report as a full
// audit at the last checkpoint.
func TestChainEqualsFullAudit(t *testing.T) {
	kit := testsign.New(t,
		testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}},
		testsign.Agency{ID: "nco", Role: "agency", Kinds: []string{"selection.batch"}})
	police := map[string]any{"law": "police-duties-act", "article": "6-2"}
	measure := func(id, month string, emergency bool) []byte {
		body := map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-" + month + "-05T00:00:00+09:00", "ended_at": "2026-" + month + "-05T01:00:00+09:00", "outcome": "neutralized"}
		if emergency {
			body["emergency"] = true
		}
		return kit.Entry(t, "npa", id, "measure.executed", police, body, nil, map[string]any{"occurred_at": "2026-" + month + "-05T02:00:00+09:00"})
	}
	nainai := kit.Entry(t, "nco", "BAT", "selection.batch", map[string]any{"law": "acd-act", "article": "22", "paragraph": "1"}, map[string]any{
		"acquisition": "ACQ", "dataset": "DS-1", "window_start": "2026-07-03T09:00:00+09:00", "window_end": "2026-07-03T10:00:00+09:00",
		"n_in": 10, "n_selected": 0, "n_deleted": 10, "counts": []any{map[string]any{"direction": "NAINAI", "category": "HEADER_META", "n": 0}},
		"rule_hash": "sha256:" + strings.Repeat("0", 64), "nonidentified": true, "deleted_at": "2026-07-03T10:00:01+09:00"}, nil, nil)
	reg, err := specs.ParseRegistry(kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	l := testlog.New(t, "test.example/bundle")
	v, err := tlog.ParseVerifierKey(l.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	pins := &verifier.Pins{Trust: tlog.Trust{Origin: "test.example/bundle", Verifier: v}, Registry: reg}
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := rules.DefaultConfig()
	months := [][][]byte{
		{measure("M1", "06", false), measure("M2", "06", true)},
		{nainai, measure("M3", "07", false)},
		{measure("M4", "08", true)},
	}
	var chain []*specs.Bundle
	var cp *tlog.Checkpoint
	for _, m := range months {
		if cp, err = tlog.VerifyCheckpoint(l.Add(t, m...), pins.Trust); err != nil {
			t.Fatal(err)
		}
		from := uint64(0)
		if len(chain) > 0 {
			from = chain[len(chain)-1].To
		}
		b, err := bundle.Export(ctx, src, pins, cp, from, cp.Size, kit.RegJSON, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Written and read back, as an auditor carries it.
		raw, _ := b.Marshal()
		if b, err = specs.ParseBundle(raw); err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b)
	}
	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	full, err := pins.Audit(ctx, src, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: asOf, Checkpoint: cp})
	if err != nil {
		t.Fatal(err)
	}
	got, err := bundle.Audit(chain, pins, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	if full.Rules.ViolationCount < 4 || full.FailureCount != 1 {
		t.Fatalf("the fixture should break rules: %+v %+v", full.Rules, full.Failures)
	}
	// CoveredBy is the time of each audit without a cosignature.
	full.Rules.CoveredBy, got.Rules.CoveredBy = time.Time{}, time.Time{}
	a, _ := json.Marshal(full)
	b, _ := json.Marshal(got)
	if string(a) != string(b) {
		t.Fatalf("chain audit differs from the full audit:\nfull  %s\nchain %s", a, b)
	}
	if c, err := bundle.CheckSettings(chain); err != nil || c.EmergencyNoticeWithin != cfg.EmergencyNoticeWithin {
		t.Fatalf("settings: %v", err)
	}
	if os.Getenv("ACDLEDGER_WRITE_VECTORS") == "1" {
		writeVectors(t, chain, l.Vkey, kit.RegJSON)
	}

	bad := func(what string, chain []*specs.Bundle, want string) {
		t.Helper()
		_, err := bundle.Audit(chain, pins, verifier.AuditOptions{})
		if !errors.Is(err, bundle.ErrChain) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", what, err, want)
		}
	}
	bad("a month missing", []*specs.Bundle{chain[0], chain[2]}, "a gap or an overlap")
	bad("not from 0", chain[1:], "bundle 1 starts at 2")
	edited := *chain[1]
	edited.Leaves = append([]string{}, edited.Leaves...)
	edited.Leaves[1] = edited.Leaves[0]
	bad("a leaf edited", []*specs.Bundle{chain[0], &edited, chain[2]}, "not its checkpoint's")
	other := *chain[1]
	other.Left = append([]string{}, other.Left...)
	other.Left[0] = strings.Repeat("A", 43) + "="
	bad("another history before it", []*specs.Bundle{chain[0], &other, chain[2]}, "bundle 2")
	otherReg := *chain[2]
	otherReg.Registry = `{"agencies":[]}`
	bad("another registry", []*specs.Bundle{chain[0], chain[1], &otherReg}, "registry")
	digest := *chain[0]
	digest.RulesConfigDigest = "sha256:00"
	if _, err := bundle.CheckSettings([]*specs.Bundle{&digest}); !errors.Is(err, bundle.ErrChain) {
		t.Errorf("digest: %v", err)
	}
}

const vectorDir = "../../specs/vectors/bundle"

func writeVectors(t *testing.T, chain []*specs.Bundle, vkey string, reg []byte) {
	os.RemoveAll(vectorDir)
	if err := os.MkdirAll(vectorDir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(vectorDir, "log.vkey"), []byte(vkey+"\n"), 0o644)
	os.WriteFile(filepath.Join(vectorDir, "registry.json"), reg, 0o644)
	for i, b := range chain {
		raw, _ := b.Marshal()
		os.WriteFile(filepath.Join(vectorDir, fmt.Sprintf("2026-%02d.bundle", 6+i)), raw, 0o644)
	}
}

// TestVectors audits the chain in specs/vectors/bundle (three months of a
// log with violations and one admission failure) with its pins, and
// refuses it with a month missing.
func TestVectors(t *testing.T) {
	pins, err := verifier.LoadPins(filepath.Join(vectorDir, "log.vkey"), "", filepath.Join(vectorDir, "registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	chain := readChain(t, vectorDir)
	if len(chain) != 3 {
		t.Fatalf("%d bundles in %s", len(chain), vectorDir)
	}
	cfg, err := bundle.CheckSettings(chain)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Audit(chain, pins, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Size != 5 || r.FailureCount != 1 || r.Rules.ViolationCount != 6 {
		t.Fatalf("vector audit: size %d, %d failures, %d violations %+v", r.Size, r.FailureCount, r.Rules.ViolationCount, r.Rules.Violations)
	}
	if _, err := bundle.Audit(chain[1:], pins, verifier.AuditOptions{}); !errors.Is(err, bundle.ErrChain) {
		t.Fatalf("chain without June: %v", err)
	}
}

// readChain reads the bundles of a vector directory, in name order.
func readChain(t *testing.T, dir string) []*specs.Bundle {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "*.bundle"))
	var chain []*specs.Bundle
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		b, err := specs.ParseBundle(raw)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		chain = append(chain, b)
	}
	return chain
}
