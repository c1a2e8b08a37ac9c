package report_test

import (
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/report"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

var jst = time.FixedZone("JST", 9*3600)

// fiscal2026 is a whole fiscal year of generated activity.
func fiscal2026(entries int) activity.Config {
	return activity.Config{Seed: 11, Entries: entries,
		Start: time.Date(2026, 4, 1, 0, 0, 0, 0, jst), End: time.Date(2027, 3, 31, 23, 0, 0, 0, jst)}
}

// signer plays the agencies: a key per agency (fixed seeds), the registry
// pinning them, and DSSE signing exactly as agencies sign (PAE, Ed25519).
// The verifier's tests may not use the writing side's key code.
type signer struct {
	keys    map[string]ed25519.PrivateKey
	keyIDs  map[string]string
	regFile string
}

func newSigner(t testing.TB) *signer {
	t.Helper()
	s := &signer{keys: map[string]ed25519.PrivateKey{}, keyIDs: map[string]string{}}
	reg := &specs.Registry{}
	for i, a := range activity.Agencies() {
		seed := make([]byte, ed25519.SeedSize)
		seed[0] = byte(i + 1)
		k := ed25519.NewKeyFromSeed(seed)
		id, err := reg.Add(a.ID, a.Name, a.Role, a.Kinds, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		s.keys[a.ID], s.keyIDs[a.ID] = k, id
	}
	raw, err := reg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s.regFile = filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(s.regFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *signer) sign(t testing.TB, agency string, payload []byte) []byte {
	t.Helper()
	sig := ed25519.Sign(s.keys[agency], dsse.PAE(specs.PayloadType, payload))
	env, err := specs.EnvelopeJSON(payload, s.keyIDs[agency], sig)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// activityLeaves generates and signs activity, in log order.
func (s *signer) activityLeaves(t testing.TB, cfg activity.Config) [][]byte {
	t.Helper()
	entries, err := activity.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(entries))
	for i, e := range entries {
		out[i] = s.sign(t, e.Agency, e.Public())
	}
	return out
}

// fixture is a real Tessera log of signed activity and the auditor's pins.
type fixture struct {
	s    *signer
	log  *testlog.Log
	src  *tlog.Source
	pins *verifier.Pins
}

func newFixture(t testing.TB, s *signer, log *testlog.Log, leaves [][]byte) *fixture {
	t.Helper()
	if len(leaves) > 0 {
		log.Add(t, leaves...)
	}
	src, err := tlog.Open(log.Dir)
	if err != nil {
		t.Fatal(err)
	}
	pins, err := verifier.LoadPins(log.VkeyFile, "", s.regFile)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{s: s, log: log, src: src, pins: pins}
}

func (f *fixture) build(t testing.TB, opts report.Options) *report.Report {
	t.Helper()
	r, err := report.Build(context.Background(), f.pins, f.src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func fy(t testing.TB, year int) report.Options {
	t.Helper()
	p, err := report.NewPeriod(report.BasisFiscal, year)
	if err != nil {
		t.Fatal(err)
	}
	return report.Options{Period: p, Parameters: report.DefaultParameters()}
}

// roundTrip writes the report as report.json and reads it back, as a
// verifier receiving the file would.
func roundTrip(t testing.TB, r *report.Report) *report.Report {
	t.Helper()
	raw, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := report.Parse(raw)
	if err != nil {
		t.Fatalf("parsing our own report.json: %v", err)
	}
	return back
}

func cell(t testing.TB, r *report.Report, table, row, col string) uint64 {
	t.Helper()
	tb := r.Table(table)
	if tb == nil {
		t.Fatalf("no table %s", table)
	}
	rw := tb.Row(row)
	if rw == nil {
		t.Fatalf("table %s: no row %s", table, row)
	}
	v, ok := rw.Values[col]
	if !ok {
		t.Fatalf("table %s row %s: no column %s", table, row, col)
	}
	return v
}
