package evidence_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/evidence"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// fixture is a real log on disk whose entries break several rules, a
// checkpoint cosigned by one witness, and the packages an audit wrote.
type fixture struct {
	pins     *verifier.Pins // witness policy and registry
	keyPins  *verifier.Pins // the log key only: no cosignature time
	packages map[string][]byte
	written  *evidence.Written
	policy   string
	registry []byte
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kit := testsign.New(t,
		testsign.Agency{ID: "nco", Role: "agency", Kinds: []string{"approval.requested", "acquisition.started", "selection.batch"}},
		testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}},
		testsign.Agency{ID: "commission", Role: "commission", Kinds: []string{"approval.decided"}})
	entry := func(agency, id, kind string, basis map[string]any, body map[string]any, refs ...string) []byte {
		return kit.Entry(t, agency, id, kind, basis, body, refs, nil)
	}
	acd := map[string]any{"law": "acd-act", "article": "17", "paragraph": "1"}
	police := map[string]any{"law": "police-duties-act", "article": "6-2"}
	l := testlog.New(t, "test.example/evidence")
	raw := l.Add(t,
		entry("nco", "REQ", "approval.requested", acd, map[string]any{"measure": "transit_sending", "direction": "GAIGAI",
			"requested_from": "2026-06-02T00:00:00+09:00", "requested_until": "2026-06-30T00:00:00+09:00",
			"grounds": map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}}),
		entry("commission", "DEC", "approval.decided", acd, map[string]any{"request": "REQ", "decision": "rejected", "decided_at": "2026-06-01T15:00:00+09:00"}, "REQ"),
		// R1: an acquisition under a rejected approval.
		entry("nco", "ACQ", "acquisition.started", acd, map[string]any{"channel": "transit_sending", "approval": "DEC", "direction": "GAIGAI",
			"started_at": "2026-06-02T10:00:00+09:00"}, "DEC"),
		// R7 and the admission rule direction.nainai: a 内内 row written
		// around the ledger.
		entry("nco", "BAT", "selection.batch", map[string]any{"law": "acd-act", "article": "22", "paragraph": "1"}, map[string]any{
			"acquisition": "ACQ", "dataset": "DS-1", "window_start": "2026-06-03T09:00:00+09:00", "window_end": "2026-06-03T10:00:00+09:00",
			"n_in": 10, "n_selected": 0, "n_deleted": 10, "counts": []any{map[string]any{"direction": "NAINAI", "category": "HEADER_META", "n": 0}},
			"rule_hash": "sha256:" + strings.Repeat("0", 64), "nonidentified": true, "deleted_at": "2026-06-03T10:00:01+09:00"}, "ACQ"),
		// R3, missing approval: neither approval nor emergency.
		entry("npa", "MEAS", "measure.executed", police, map[string]any{
			"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-06-05T00:00:00+09:00", "ended_at": "2026-06-05T01:00:00+09:00", "outcome": "neutralized"}),
		// R4, a deadline: an emergency measure never notified.
		entry("npa", "EMG", "measure.executed", police, map[string]any{
			"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct", "emergency": true,
			"started_at": "2026-06-06T00:00:00+09:00", "ended_at": "2026-06-06T01:00:00+09:00", "outcome": "neutralized"}),
	)
	// A committee witness cosigns the log's checkpoint.
	wskey, wvkey, err := note.GenerateKey(rand.Reader, "w1.commission.example")
	if err != nil {
		t.Fatal(err)
	}
	wsigner, err := fnote.NewSignerForCosignatureV1(wskey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(wvkey)
	if err != nil {
		t.Fatal(err)
	}
	lv, err := note.NewVerifier(l.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open(raw, note.VerifierList(lv))
	if err != nil {
		t.Fatal(err)
	}
	cosigned, err := note.Sign(n, wsigner)
	if err != nil {
		t.Fatal(err)
	}
	policy := "log " + l.Vkey + "\nwitness w1 " + cvkey + "\ngroup members 1 w1\nquorum members\n"
	pol, err := tlog.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	reg, err := specs.ParseRegistry(kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	pins := &verifier.Pins{Trust: tlog.TrustPolicy(pol), Registry: reg}
	cp, err := tlog.VerifyCheckpoint(cosigned, pins.Trust)
	if err != nil || cp.CosignedAt.IsZero() {
		t.Fatalf("cosigned checkpoint: %v", err)
	}
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rules.DefaultConfig()
	col := evidence.NewCollector(cfg)
	opts := verifier.AuditOptions{Rules: rules.New(cfg), Checkpoint: cp}
	col.Hook(&opts)
	r, err := pins.Audit(context.Background(), src, opts)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "evidence")
	w, err := col.Write(context.Background(), src, pins, cp, r.Rules.AsOf, dir)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pins: pins, keyPins: &verifier.Pins{Trust: tlog.Trust{Origin: cp.Origin, Verifier: lv}, Registry: reg},
		packages: map[string][]byte{}, written: w, policy: policy, registry: kit.RegJSON}
	for _, p := range w.Paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f.packages[filepath.Base(p)] = b
	}
	return f
}

func TestPackagesVerify(t *testing.T) {
	f := newFixture(t)
	var names []string
	for n := range f.packages {
		names = append(names, n)
	}
	slices.Sort(names)
	want := []string{"admission-3-BAT.json", "violation-R1-2-ACQ.json", "violation-R3-4-MEAS.json", "violation-R4-5-EMG.json", "violation-R7-3-BAT.json"}
	if strings.Join(names, " ") != strings.Join(want, " ") || len(f.written.Unprovable) != 0 {
		t.Fatalf("packages %v (unprovable %v), want %v", names, f.written.Unprovable, want)
	}
	for _, n := range names {
		v, err := evidence.Verify(f.packages[n], f.pins)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		if n == "violation-R4-5-EMG.json" && (v.Rule != "R4" || v.RuleVersion != 1 || v.EntryID != "EMG" || v.AsOf == "" || !strings.Contains(v.Reason, "no emergency.notice")) {
			t.Errorf("R4 verdict %+v", v)
		}
		if n == "admission-3-BAT.json" && (v.Kind != "admission" || v.Rule != "direction.nainai" || v.Index != 3) {
			t.Errorf("admission verdict %+v", v)
		}
	}
	// The entry-time findings need no cosignature; the deadline does: with
	// the log key alone nothing dates the checkpoint.
	if _, err := evidence.Verify(f.packages["violation-R3-4-MEAS.json"], f.keyPins); err != nil {
		t.Errorf("R3 with the log key: %v", err)
	}
	if _, err := evidence.Verify(f.packages["violation-R4-5-EMG.json"], f.keyPins); err == nil || !strings.Contains(err.Error(), "no witness cosignature") {
		t.Errorf("R4 without a cosignature: %v", err)
	}
}

// edit changes one field of a package through its JSON form.
func edit(t *testing.T, raw []byte, fn func(e *specs.Evidence)) []byte {
	t.Helper()
	e, err := specs.ParseEvidence(raw)
	if err != nil {
		t.Fatal(err)
	}
	fn(e)
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func flipB64(s string) string {
	b, _ := base64.StdEncoding.DecodeString(s)
	b[len(b)/2] ^= 1
	return base64.StdEncoding.EncodeToString(b)
}

func TestEditedPackagesRefused(t *testing.T) {
	f := newFixture(t)
	other := func(e *specs.Evidence) string { return e.Range.Leaves[0] }
	edits := map[string]func(e *specs.Evidence){
		"entry envelope": func(e *specs.Evidence) { e.Entries[0].Envelope = other(e) },
		"range leaf":     func(e *specs.Evidence) { e.Range.Leaves[1] = flipB64(e.Range.Leaves[1]) },
		"range leaf and entry": func(e *specs.Evidence) {
			e.Range.Leaves[e.Finding.Index] = flipB64(e.Range.Leaves[e.Finding.Index])
			e.Entries[0].Envelope = e.Range.Leaves[e.Finding.Index]
		},
		"range cut short":  func(e *specs.Evidence) { e.Range.Leaves = e.Range.Leaves[:len(e.Range.Leaves)-1]; e.Range.End-- },
		"range start":      func(e *specs.Evidence) { e.Range.Start = 1 },
		"inclusion proof":  func(e *specs.Evidence) { e.Entries[0].Proof[0] = flipB64(e.Entries[0].Proof[0]) },
		"no entries":       func(e *specs.Evidence) { e.Entries = nil },
		"finding index":    func(e *specs.Evidence) { e.Finding.Index-- },
		"finding reason":   func(e *specs.Evidence) { e.Finding.Reason += "!" },
		"finding entry id": func(e *specs.Evidence) { e.Finding.EntryID = "OTHER" },
		"checkpoint body":  func(e *specs.Evidence) { e.Checkpoint = strings.Replace(e.Checkpoint, "\n", "\n1", 1) },
		"checkpoint without cosignature": func(e *specs.Evidence) {
			e.Checkpoint = e.Checkpoint[:strings.LastIndex(strings.TrimSuffix(e.Checkpoint, "\n"), "\n")+1]
		},
		"kind": func(e *specs.Evidence) { e.Kind = "fork" },
	}
	violationEdits := map[string]func(e *specs.Evidence){
		"rule id": func(e *specs.Evidence) {
			e.Rule.ID = "R1"
			e.Rule.Name = "acquisition.authorised"
			e.Finding.Rule = "R1"
		},
		"rule version":    func(e *specs.Evidence) { e.Rule.Version++ },
		"rule name":       func(e *specs.Evidence) { e.Rule.Name = "measure.abroad" },
		"settings digest": func(e *specs.Evidence) { e.Settings.Digest = "sha256:" + strings.Repeat("0", 64) },
		"settings value": func(e *specs.Evidence) {
			cfg, _ := rules.ParseConfig([]byte(e.Settings.Config))
			cfg.EmergencyNoticeWithin = rules.Duration(cfg.EmergencyNoticeWithin.D() * 2)
			cfg.Disabled = []string{"R3"}
			e.Settings.Config, e.Settings.Digest, _ = evidence.ConfigJSON(cfg)
		},
		"settings not canonical": func(e *specs.Evidence) {
			e.Settings.Config = " " + e.Settings.Config
			e.Settings.Digest, _ = digest(e.Settings.Config)
		},
		"at end": func(e *specs.Evidence) { e.Settings.AtEnd = !e.Settings.AtEnd },
		"as of after the cosignature": func(e *specs.Evidence) {
			if e.Settings.AtEnd {
				e.Settings.AsOf = "2099-01-01T00:00:00Z"
			} else {
				e.Settings.AsOf = "2026-01-01T00:00:00Z"
			}
		},
	}
	for _, name := range []string{"violation-R3-4-MEAS.json", "violation-R4-5-EMG.json", "admission-3-BAT.json"} {
		all := map[string]func(e *specs.Evidence){}
		for k, v := range edits {
			all[k] = v
		}
		if strings.HasPrefix(name, "violation") {
			for k, v := range violationEdits {
				all[k] = v
			}
		}
		for what, fn := range all {
			t.Run(name+"/"+what, func(t *testing.T) {
				_, err := evidence.Verify(edit(t, f.packages[name], fn), f.pins)
				if !errors.Is(err, evidence.ErrNotProven) {
					t.Fatalf("edited package: %v", err)
				}
				t.Log(err)
			})
		}
	}
	// Not JSON, an unknown member.
	for what, raw := range map[string][]byte{
		"truncated":      f.packages["admission-3-BAT.json"][:100],
		"unknown member": []byte(strings.Replace(string(f.packages["admission-3-BAT.json"]), `"kind"`, `"extra": 1, "kind"`, 1)),
	} {
		if _, err := evidence.Verify(raw, f.pins); !errors.Is(err, evidence.ErrNotProven) {
			t.Errorf("%s: %v", what, err)
		}
	}
}

func digest(s string) (string, error) {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

const vectorDir = "../../specs/vectors/evidence"

// TestVectors checks the packages in specs/vectors/evidence against their
// pins (policy, registry.json there), and that an edited one is refused.
// ACDLEDGER_WRITE_VECTORS=1 writes them afresh from the fixture.
func TestVectors(t *testing.T) {
	if os.Getenv("ACDLEDGER_WRITE_VECTORS") == "1" {
		f := newFixture(t)
		os.RemoveAll(vectorDir)
		if err := os.MkdirAll(vectorDir, 0o755); err != nil {
			t.Fatal(err)
		}
		files := map[string][]byte{"policy": []byte(f.policy), "registry.json": f.registry}
		for n, b := range f.packages {
			files[n] = b
		}
		for n, b := range files {
			if err := os.WriteFile(filepath.Join(vectorDir, n), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	pins, err := verifier.LoadPolicyPins(filepath.Join(vectorDir, "policy"), filepath.Join(vectorDir, "registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	names, _ := filepath.Glob(filepath.Join(vectorDir, "*-*.json"))
	if len(names) < 5 {
		t.Fatalf("%d vectors in %s", len(names), vectorDir)
	}
	for _, n := range names {
		raw, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := evidence.Verify(raw, pins); err != nil {
			t.Errorf("%s: %v", n, err)
		}
		edited := edit(t, raw, func(e *specs.Evidence) { e.Finding.Reason = "edited" })
		if _, err := evidence.Verify(edited, pins); !errors.Is(err, evidence.ErrNotProven) {
			t.Errorf("%s edited: %v", n, err)
		}
	}
}
