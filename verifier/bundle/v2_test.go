package bundle_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/bundle"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// cosigner makes tlog-cosignature/v1 signatures stamped with a chosen
// time: formats/note's signer stamps the real clock, and a month's
// boundary needs cosignatures of other months. The signed message and the
// signature (timestamp || Ed25519) are those of c2sp.org/tlog-cosignature,
// checked by formats/note's verifier (through the policy).
type cosigner struct {
	name string
	key  ed25519.PrivateKey
	at   time.Time
}

func (c *cosigner) Name() string { return c.name }
func (c *cosigner) KeyHash() uint32 {
	h := sha256.Sum256(append([]byte(c.name+"\n\x04"), c.key.Public().(ed25519.PublicKey)...))
	return binary.BigEndian.Uint32(h[:4])
}
func (c *cosigner) Sign(msg []byte) ([]byte, error) {
	t := uint64(c.at.Unix())
	sig := binary.BigEndian.AppendUint64(nil, t)
	return append(sig, ed25519.Sign(c.key, fmt.Appendf(nil, "cosignature/v1\ntime %d\n%s", t, msg))...), nil
}

// witnessKey is a witness's cosigner and its policy verifier key.
func witnessKey(t *testing.T, name string, seed byte) (*cosigner, string) {
	t.Helper()
	_, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &cosigner{name: name, key: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))}, cv
}

// A log of three months whose checkpoints the witnesses cosigned in each
// month, archived in checkpoints/ (as the ledger's archiver writes it)
// with a compliance statement beside one: bundles exported by month carry
// the month's archived checkpoints and statements, chain, and give the
// full audit's verdict; what they carry is bound to their leaves.
func TestMonthlyChainV2(t *testing.T) {
	kit := testsign.New(t, testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}})
	police := map[string]any{"law": "police-duties-act", "article": "6-2"}
	measure := func(id, month string, emergency bool) []byte {
		body := map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-" + month + "-05T00:00:00+09:00", "ended_at": "2026-" + month + "-05T01:00:00+09:00", "outcome": "neutralized"}
		if emergency {
			body["emergency"] = true
		}
		return kit.Entry(t, "npa", id, "measure.executed", police, body, nil, map[string]any{"occurred_at": "2026-" + month + "-05T02:00:00+09:00"})
	}
	reg, err := specs.ParseRegistry(kit.RegJSON)
	if err != nil {
		t.Fatal(err)
	}
	l := testlog.New(t, "test.example/bundle-v2")
	w1, v1 := witnessKey(t, "w1.commission.example", 1)
	w2, v2 := witnessKey(t, "w2.commission.example", 2)
	policy, err := tlog.ParsePolicy([]byte(fmt.Sprintf("log %s\nwitness w1 %s http://127.0.0.1:1/\nwitness w2 %s http://127.0.0.1:1/\ngroup both 2 w1 w2\nquorum both\n", l.Vkey, v1, v2)))
	if err != nil {
		t.Fatal(err)
	}
	pins := &verifier.Pins{Trust: tlog.TrustPolicy(policy), Registry: reg}
	logV, _ := tlog.ParseVerifierKey(l.Vkey)
	jst := time.FixedZone("JST", 9*3600)
	var index strings.Builder
	os.MkdirAll(filepath.Join(l.Dir, "checkpoints"), 0o755)
	// archive appends leaves, then archives the checkpoint covering them,
	// cosigned by both witnesses at the given time.
	archive := func(at time.Time, leaves ...[]byte) *tlog.Checkpoint {
		t.Helper()
		n, err := note.Open(l.Add(t, leaves...), note.VerifierList(logV))
		if err != nil {
			t.Fatal(err)
		}
		w1.at, w2.at = at, at.Add(time.Minute)
		raw, err := note.Sign(n, w1, w2)
		if err != nil {
			t.Fatal(err)
		}
		cp, err := tlog.VerifyCheckpoint(raw, pins.Trust)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(l.Dir, "checkpoints", strconv.FormatUint(cp.Size, 10)), raw, 0o644)
		fmt.Fprintf(&index, "%d\n", cp.Size)
		os.WriteFile(filepath.Join(l.Dir, "checkpoints", "index"), []byte(index.String()), 0o644)
		return cp
	}
	archive(time.Date(2026, 6, 10, 0, 0, 0, 0, jst), measure("M1", "06", false))
	june := archive(time.Date(2026, 6, 20, 0, 0, 0, 0, jst), measure("M2", "06", true))
	july := archive(time.Date(2026, 7, 15, 0, 0, 0, 0, jst), measure("M3", "07", false), measure("M4", "07", true))
	aug := archive(time.Date(2026, 8, 31, 23, 0, 0, 0, jst), measure("M5", "08", false))
	current := archive(time.Date(2026, 9, 2, 0, 0, 0, 0, jst), measure("M6", "09", true))

	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	cfg := rules.DefaultConfig()
	// The commission's statement about July's end, beside the checkpoints.
	m1s, m1v, _ := memberKey(t, "m1.commission.example", 9)
	st, err := compliance.Make(ctx, pins, src, july, compliance.Options{Config: cfg, AsOf: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	stNote, _ := compliance.Sign(st, m1s)
	os.MkdirAll(filepath.Join(l.Dir, "compliance"), 0o755)
	os.WriteFile(filepath.Join(l.Dir, bundle.StatementPath(july.Size)), stNote, 0o644)

	arch, err := ckptarchive.Read(ctx, src, pins.Trust, ckptarchive.Options{Current: current})
	if err != nil {
		t.Fatal(err)
	}
	var chain []*specs.Bundle
	for _, m := range []time.Month{time.June, time.July, time.August} {
		start := time.Date(2026, m, 1, 0, 0, 0, 0, jst)
		from, to, err := bundle.Month(arch, start, start.AddDate(0, 1, 0))
		if err != nil {
			t.Fatal(err)
		}
		x, err := bundle.Gather(ctx, src, arch, from, to)
		if err != nil {
			t.Fatal(err)
		}
		b, err := bundle.ExportV2(ctx, src, pins, current, from, to, kit.RegJSON, cfg, x)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := b.Marshal()
		if b, err = specs.ParseBundle(raw); err != nil {
			t.Fatal(err)
		}
		chain = append(chain, b)
	}
	// June holds the leaves of its two checkpoints, July and August theirs.
	if chain[0].From != 0 || chain[0].To != june.Size || chain[1].To != july.Size || chain[2].To != aug.Size ||
		len(chain[0].Checkpoints) != 2 || len(chain[1].Checkpoints) != 1 || len(chain[1].Statements) != 1 || chain[2].Statements != nil {
		t.Fatalf("months: %+v", []any{chain[0].From, chain[0].To, chain[1].To, chain[2].To, len(chain[0].Checkpoints), len(chain[1].Statements)})
	}
	if _, _, err := bundle.Month(arch, time.Date(2026, 9, 1, 0, 0, 0, 0, jst), time.Date(2026, 10, 1, 0, 0, 0, 0, jst)); err == nil || !strings.Contains(err.Error(), "not over") {
		t.Fatalf("September: %v", err)
	}

	asOf := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	full, err := pins.Audit(ctx, src, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: asOf, Checkpoint: aug})
	if err != nil {
		t.Fatal(err)
	}
	got, err := bundle.Audit(chain, pins, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(full.Rules.Violations)
	b, _ := json.Marshal(got.Rules.Violations)
	if full.Rules.ViolationCount < 3 || got.Rules.ViolationCount != full.Rules.ViolationCount || got.FailureCount != full.FailureCount ||
		got.Size != full.Size || got.Root != full.Root || string(a) != string(b) {
		t.Fatalf("chain audit differs from the full audit:\nfull  %s\nchain %s", a, b)
	}
	if os.Getenv("ACDLEDGER_WRITE_VECTORS") == "1" {
		_, _, m1vkey := memberKey(t, "m1.commission.example", 9)
		writeVectorsV2(t, chain, fmt.Sprintf("log %s\nwitness w1 %s http://127.0.0.1:1/\nwitness w2 %s http://127.0.0.1:1/\ngroup both 2 w1 w2\nquorum both\n", l.Vkey, v1, v2),
			"member "+m1vkey+"\n", kit.RegJSON)
	}
	sts, err := bundle.VerifyStatements(chain, &compliance.Policy{Members: []note.Verifier{m1v}, Quorum: 1})
	if err != nil || len(sts) != 1 || sts[0].Size != july.Size {
		t.Fatalf("statements: %v %+v", err, sts)
	}
	// Version 1 bundles are still read and audited.
	v1b, err := bundle.Export(ctx, src, pins, current, 0, aug.Size, kit.RegJSON, cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw1, _ := v1b.Marshal()
	if b, err := specs.ParseBundle(raw1); err != nil || b.Format != specs.BundleFormat {
		t.Fatalf("v1: %v", err)
	} else if r, err := bundle.Audit([]*specs.Bundle{b}, pins, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: asOf}); err != nil || r.Rules.ViolationCount != full.Rules.ViolationCount {
		t.Fatalf("v1 audit: %v", err)
	}

	bad := func(what string, chain []*specs.Bundle, want string) {
		t.Helper()
		_, err := bundle.Audit(chain, pins, verifier.AuditOptions{})
		if !errors.Is(err, bundle.ErrChain) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", what, err, want)
		}
	}
	with := func(k int, fn func(b *specs.Bundle)) []*specs.Bundle {
		c := append([]*specs.Bundle{}, chain...)
		b := *chain[k]
		b.Checkpoints = append([]string{}, b.Checkpoints...)
		b.Statements = append([]string{}, b.Statements...)
		fn(&b)
		c[k] = &b
		return c
	}
	bad("a checkpoint of another month", with(1, func(b *specs.Bundle) { b.Checkpoints = append(b.Checkpoints, chain[2].Checkpoints[0]) }), "want ascending sizes in (from")
	bad("checkpoints out of order", with(0, func(b *specs.Bundle) { b.Checkpoints[0], b.Checkpoints[1] = b.Checkpoints[1], b.Checkpoints[0] }), "checkpoints[1]")
	// The log's signature line with its first base64 character changed.
	forged := regexp.MustCompile(`(?m)^(— test\.example/bundle-v2 )(.)`).ReplaceAllStringFunc(chain[0].Checkpoints[0], func(m string) string {
		if strings.HasSuffix(m, "A") {
			return m[:len(m)-1] + "B"
		}
		return m[:len(m)-1] + "A"
	})
	bad("a checkpoint the log did not sign", with(0, func(b *specs.Bundle) { b.Checkpoints[0] = forged }), "checkpoints[0]: ")
	lie := *st
	lie.Root = bytes.Repeat([]byte{1}, 32)
	lieNote, _ := compliance.Sign(&lie, m1s)
	bad("a statement about another tree", with(1, func(b *specs.Bundle) { b.Statements[0] = string(lieNote) }), "statements[0] (size")
	other := *st
	other.Origin = "other.example/log"
	otherNote, _ := compliance.Sign(&other, m1s)
	bad("a statement about another log", with(1, func(b *specs.Bundle) { b.Statements[0] = string(otherNote) }), "about log other.example/log")
	_, m2v, _ := memberKey(t, "m2.commission.example", 8)
	if _, err := bundle.VerifyStatements(chain, &compliance.Policy{Members: []note.Verifier{m1v, m2v}, Quorum: 2}); !errors.Is(err, compliance.ErrQuorum) {
		t.Errorf("statements short of the quorum: %v", err)
	}

	// One encoding: an empty list is left out; v1 has neither member.
	rawV2, _ := chain[2].Marshal()
	for _, tc := range []struct{ name, data, want string }{
		{"empty statements", strings.Replace(string(rawV2), `"checkpoints":[`, `"statements":[],"checkpoints":[`, 1), "an empty list is written by leaving the member out"},
		{"v1 with checkpoints", strings.Replace(string(rawV2), specs.BundleFormatV2, specs.BundleFormat, 1), "members of acdledger-bundle/v2, not of acdledger-bundle/v1"},
		{"v3", strings.Replace(string(rawV2), specs.BundleFormatV2, "acdledger-bundle/v3", 1), "format:"},
	} {
		if _, err := specs.ParseBundle([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func memberKey(t *testing.T, name string, seed byte) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v, vkey
}

const vectorDirV2 = "../../specs/vectors/bundle-v2"

func writeVectorsV2(t *testing.T, chain []*specs.Bundle, policy, members string, reg []byte) {
	os.RemoveAll(vectorDirV2)
	if err := os.MkdirAll(vectorDirV2, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(vectorDirV2, "policy"), []byte(policy), 0o644)
	os.WriteFile(filepath.Join(vectorDirV2, "members.txt"), []byte(members), 0o644)
	os.WriteFile(filepath.Join(vectorDirV2, "registry.json"), reg, 0o644)
	for i, b := range chain {
		raw, _ := b.Marshal()
		os.WriteFile(filepath.Join(vectorDirV2, fmt.Sprintf("2026-%02d.bundle", 6+i)), raw, 0o644)
	}
}

// TestVectorsV2 audits the version 2 chain in specs/vectors/bundle-v2
// (three months by witness time, with their archived checkpoints and one
// compliance statement) with its policy, and checks the statement's quorum.
func TestVectorsV2(t *testing.T) {
	pins, err := verifier.LoadPolicyPins(filepath.Join(vectorDirV2, "policy"), filepath.Join(vectorDirV2, "registry.json"))
	if err != nil {
		t.Fatal(err)
	}
	chain := readChain(t, vectorDirV2)
	for i, b := range chain {
		if b.Format != specs.BundleFormatV2 {
			t.Fatalf("bundle %d of the chain is %s, not %s", i, b.Format, specs.BundleFormatV2)
		}
	}
	cfg, err := bundle.CheckSettings(chain)
	if err != nil {
		t.Fatal(err)
	}
	r, err := bundle.Audit(chain, pins, verifier.AuditOptions{Rules: rules.New(cfg), RulesAsOf: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil || len(chain) != 3 || r.Size != 5 || r.Rules.ViolationCount < 3 {
		t.Fatalf("vector audit: %v, %d bundles, %+v", err, len(chain), r)
	}
	raw, _ := os.ReadFile(filepath.Join(vectorDirV2, "members.txt"))
	members, err := compliance.ParsePolicy(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if sts, err := bundle.VerifyStatements(chain, members); err != nil || len(sts) != 1 {
		t.Fatalf("statements: %v %d", err, len(sts))
	}
}
