package compliance_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"
)

// member makes a member's key pair from a fixed seed.
func member(t testing.TB, name string, seed byte) (note.Signer, note.Verifier, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, v, vkey
}

type fixture struct {
	pins   *verifier.Pins
	src    *tlog.Source
	log    *testlog.Log
	keys   map[string]ed25519.PrivateKey
	keyIDs map[string]string
	seq    map[string]float64
	n      int
}

// sign signs a payload as its agency does (DSSE PAE, Ed25519). The
// verifier's tests may not use the writing side's key code.
func (f *fixture) sign(t testing.TB, agency string, payload []byte) []byte {
	t.Helper()
	env, err := specs.EnvelopeJSON(payload, f.keyIDs[agency], ed25519.Sign(f.keys[agency], dsse.PAE(specs.PayloadType, payload)))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// entry makes the agency's next entry.
func (f *fixture) entry(t testing.TB, agency, kind string, legal map[string]any, refs []string, body map[string]any) []byte {
	f.n++
	f.seq[agency]++
	raw, err := json.Marshal(map[string]any{"id": fmt.Sprintf("TEST-%d", f.n), "kind": kind, "schema": specs.EntrySchemaVersion,
		"agency": agency, "seq": f.seq[agency], "occurred_at": "2026-06-01T10:00:00+09:00", "case": "CASE-T", "legal_basis": legal,
		"refs": refs, "body": body})
	if err != nil {
		t.Fatal(err)
	}
	return f.sign(t, agency, raw)
}

// inspection is a harmless entry of the commission.
func (f *fixture) inspection(t testing.TB, refs ...string) []byte {
	if refs == nil {
		refs = []string{}
	}
	return f.entry(t, "commission", "inspection", map[string]any{"law": "acd-act", "article": "63", "paragraph": "1"}, refs,
		map[string]any{"paragraph": "1", "target_agency": "nco", "period_from": "2026-04-01T00:00:00+09:00", "period_until": "2026-05-31T00:00:00+09:00", "findings": 0})
}

// newFixture is a real Tessera log with generated activity, a measure that
// has neither approval nor emergency (an R3 violation) and a leaf whose
// ref names no entry (an admission failure).
func newFixture(t *testing.T) *fixture {
	f := &fixture{keys: map[string]ed25519.PrivateKey{}, keyIDs: map[string]string{}, seq: map[string]float64{}}
	reg := &specs.Registry{}
	for i, a := range activity.Agencies() {
		k := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{byte(i + 1)}, ed25519.SeedSize))
		id, err := reg.Add(a.ID, a.Name, a.Role, a.Kinds, k.Public())
		if err != nil {
			t.Fatal(err)
		}
		f.keys[a.ID], f.keyIDs[a.ID] = k, id
	}
	es, err := activity.Generate(activity.Config{Seed: 3, Entries: 40, Start: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	var leaves [][]byte
	for _, e := range es {
		var m struct{ Seq float64 }
		json.Unmarshal(e.Public(), &m)
		f.seq[e.Agency] = m.Seq
		leaves = append(leaves, f.sign(t, e.Agency, e.Public()))
	}
	leaves = append(leaves, f.entry(t, "mpd", "measure.executed", map[string]any{"law": "police-duties-act", "article": "6-2"}, []string{},
		map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-06-01T10:00:00+09:00", "ended_at": "2026-06-01T11:00:00+09:00", "outcome": "no_effect"}))
	leaves = append(leaves, f.inspection(t, "NO-SUCH-ENTRY"))
	f.log = testlog.New(t, "compliance.example/log")
	f.log.Add(t, leaves...)
	raw, err := reg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	regFile := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(regFile, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if f.pins, err = verifier.LoadPins(f.log.VkeyFile, "", regFile); err != nil {
		t.Fatal(err)
	}
	if f.src, err = tlog.Open(f.log.Dir); err != nil {
		t.Fatal(err)
	}
	return f
}

// audit is what acdledger audit finds, for comparison.
func (f *fixture) audit(t *testing.T) *verifier.AuditReport {
	r, err := f.pins.Audit(context.Background(), f.src, verifier.AuditOptions{Rules: rules.New(rules.DefaultConfig()), RulesAsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var asOf = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func (f *fixture) statement(t *testing.T) *compliance.Statement {
	t.Helper()
	ctx := context.Background()
	cp, err := f.src.Checkpoint(ctx, f.pins.Trust)
	if err != nil {
		t.Fatal(err)
	}
	st, err := compliance.Make(ctx, f.pins, f.src, cp, compliance.Options{Config: rules.DefaultConfig(), AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A replay states what audit finds; members sign separately, the copies
// merge, and a k-of-n policy decides.
func TestStatementSignedByQuorum(t *testing.T) {
	f := newFixture(t)
	st := f.statement(t)
	// The counts are audit's: the R3 measure and the refused leaf among
	// them (the rules judge every leaf whose signature verifies).
	ar := f.audit(t)
	if st.Size != ar.Size || st.Violations != ar.Rules.ViolationCount || st.AdmissionFailures != 1 || ar.FailureCount != 1 ||
		st.Violations < 2 || st.Origin != "compliance.example/log" {
		t.Fatalf("statement %+v", st)
	}
	if !strings.HasPrefix(st.Rules, "R1@1,R2@1,") || !strings.HasSuffix(st.Rules, ",R15@1") || st.Config != compliance.ConfigDigest(rules.DefaultConfig()) {
		t.Fatalf("rules %q config %q", st.Rules, st.Config)
	}
	// The same replay gives the same state digest.
	if again := f.statement(t); again.State != st.State || !bytes.Equal(again.Text(), st.Text()) {
		t.Fatalf("two replays differ:\n%s\n%s", st.Text(), again.Text())
	}
	back, err := compliance.ParseText(st.Text())
	if err != nil || !bytes.Equal(back.Text(), st.Text()) {
		t.Fatalf("round trip: %v\n%s", err, back.Text())
	}

	s1, v1, _ := member(t, "commission.example/member-1", 1)
	s2, v2, _ := member(t, "commission.example/member-2", 2)
	_, v3, _ := member(t, "commission.example/member-3", 3)
	m1, err := compliance.Sign(st, s1)
	if err != nil {
		t.Fatal(err)
	}
	m2, _ := compliance.Sign(st, s2)
	both, err := compliance.Merge(m1, m2)
	if err != nil {
		t.Fatal(err)
	}
	two := &compliance.Policy{Members: []note.Verifier{v1, v2, v3}, Quorum: 2}
	got, signers, err := compliance.Verify(both, two)
	if err != nil || got.Violations != st.Violations || strings.Join(signers, " ") != "commission.example/member-1 commission.example/member-2" {
		t.Fatalf("2 of 3: %v %v %+v", err, signers, got)
	}
	if _, _, err := compliance.Verify(m1, two); !errors.Is(err, compliance.ErrQuorum) || !strings.Contains(err.Error(), "1 of the policy's members signed") {
		t.Fatalf("1 of 3 with quorum 2: %v", err)
	}
	// An edited figure breaks every signature.
	edited := bytes.Replace(both, fmt.Appendf(nil, "violations %d\n", st.Violations), []byte("violations 0\n"), 1)
	if _, _, err := compliance.Verify(edited, two); !errors.Is(err, compliance.ErrSignature) {
		t.Fatalf("edited statement: %v", err)
	}
	// Another statement cannot be merged in.
	other := *st
	other.Violations = 0
	mo, _ := compliance.Sign(&other, s2)
	if _, err := compliance.Merge(m1, mo); err == nil || !strings.Contains(err.Error(), "another statement") {
		t.Fatalf("merging another statement: %v", err)
	}

	// A replay by anyone gives the same statement; one that says otherwise
	// is named line by line; a root the log never had is refused.
	ctx := context.Background()
	opts := compliance.Options{Config: rules.DefaultConfig()}
	if ms, err := compliance.Recheck(ctx, f.pins, f.src, st, opts); err != nil || len(ms) != 0 {
		t.Fatalf("recheck: %v %+v", err, ms)
	}
	lie := *st
	lie.Violations, lie.State = 0, compliance.StateDigest(nil, nil)
	if ms, err := compliance.Recheck(ctx, f.pins, f.src, &lie, opts); err != nil || len(ms) != 2 || ms[0].Field != "violations" || ms[1].Field != "state" {
		t.Fatalf("recheck of a false statement: %v %+v", err, ms)
	}
	fork := *st
	fork.Root = bytes.Repeat([]byte{1}, 32)
	if _, err := compliance.Recheck(ctx, f.pins, f.src, &fork, opts); err == nil || !strings.Contains(err.Error(), "contradicts") {
		t.Fatalf("recheck of another tree: %v", err)
	}

	// A grown log gives another state, and still rechecks the old statement.
	f.log.Add(t, f.inspection(t))
	if grown := f.statement(t); grown.State == st.State || grown.Size != st.Size+1 {
		t.Fatalf("grown log: %+v", grown)
	}
	if ms, err := compliance.Recheck(ctx, f.pins, f.src, st, opts); err != nil || len(ms) != 0 {
		t.Fatalf("recheck after growth: %v %+v", err, ms)
	}
}

// The vector in specs/vectors/compliance/ is this code's output: the
// statement text and the note signed with the member key of seed 1.
// ACDLEDGER_UPDATE_VECTORS=1 rewrites it.
func TestVector(t *testing.T) {
	st := &compliance.Statement{
		Origin: "acd.example/log", Size: 1234, Root: bytes.Repeat([]byte{0xab}, 32),
		Rules:  "R1@1,R2@1,R3@1,R4@1,R5@1,R6@1,R7@1,R8@1,R9@1,R10@1,R11@1,R12@1,R13@1,R14@1,R15@1",
		Config: compliance.ConfigDigest(rules.DefaultConfig()), AsOf: time.Date(2027, 4, 4, 0, 0, 0, 0, time.UTC),
		Violations: 3, AdmissionFailures: 1, State: compliance.StateDigest([]byte(`{"admission":1}`), []byte(`{"rules":1}`)),
	}
	s, v, vkey := member(t, "commission.example/member-1", 1)
	msg, err := compliance.Sign(st, s)
	if err != nil {
		t.Fatal(err)
	}
	dir := "../../specs/vectors/compliance"
	if os.Getenv("ACDLEDGER_UPDATE_VECTORS") != "" {
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "statement.note"), msg, 0o644)
		os.WriteFile(filepath.Join(dir, "member-1.vkey"), []byte(vkey+"\n"), 0o644)
	}
	want, err := os.ReadFile(filepath.Join(dir, "statement.note"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(msg, want) {
		t.Fatalf("signed statement:\n%s\nvector:\n%s", msg, want)
	}
	wantKey, _ := os.ReadFile(filepath.Join(dir, "member-1.vkey"))
	if strings.TrimSpace(string(wantKey)) != vkey {
		t.Fatalf("vector key %s, want %s", wantKey, vkey)
	}
	got, _, err := compliance.Verify(want, &compliance.Policy{Members: []note.Verifier{v}, Quorum: 1})
	if err != nil || got.Violations != 3 {
		t.Fatalf("verify vector: %v", err)
	}
}

// Every malformed line is refused with the field it is in.
func TestParseRefuses(t *testing.T) {
	good := (&compliance.Statement{Origin: "o", Size: 1, Root: make([]byte, 32), Rules: "R1@1", Config: "sha256:" + strings.Repeat("0", 64),
		AsOf: asOf, State: "sha256:" + strings.Repeat("1", 64)}).Text()
	if _, err := compliance.ParseText(good); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, field string }{
		{"acdledger-compliance/v1", "acdledger-compliance/v2", "header"},
		{"size 1\n", "size 01\n", "size"},
		{"size 1\n", "size -1\n", "size"},
		{"size 1\n", "size  1\n", "size"},
		{"root AAAA", "root ____", "root"},
		{"rules R1@1", "rules R1@0", "rules"},
		{"rules R1@1", "rules R1@1,", "rules"},
		{"config sha256:", "config sha512:", "config"},
		{"as-of 2026-12-01T00:00:00Z", "as-of 2026-12-01T09:00:00+09:00", "as-of"},
		{"violations 0\n", "", "text"},
		{"state sha256:1", "state sha256:A", "state"},
		{"violations 0\nadmission", "admission-failures 0\nviolations", "violations"},
	} {
		bad := bytes.Replace(good, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("case %q did not change the text", c.from)
		}
		_, err := compliance.ParseText(bad)
		if !errors.Is(err, compliance.ErrMalformed) || !strings.Contains(err.Error(), c.field+":") {
			t.Errorf("%q → %q: %v, want an error naming %s", c.from, c.to, err, c.field)
		}
	}
	if _, err := compliance.ParseText(good[:len(good)-1]); err == nil {
		t.Error("no final newline accepted")
	}
}

func TestParsePolicy(t *testing.T) {
	_, _, vk1 := member(t, "m1", 1)
	_, _, vk2 := member(t, "m2", 2)
	p, err := compliance.ParsePolicy("# members\nmember " + vk1 + "\nmember " + vk2 + "\nquorum 2\n")
	if err != nil || p.Quorum != 2 || len(p.Members) != 2 {
		t.Fatalf("%v %+v", err, p)
	}
	for text, want := range map[string]string{
		"member " + vk1 + "\nquorum 2\n":           "quorum 2 of 1",
		"member " + vk1 + "\nmember " + vk1 + "\n": "listed twice",
		"member nonsense\n":                        "not a verifier key",
		"quorum 1\n":                               "no member",
		"witness " + vk1 + "\n":                    "unknown keyword",
		"member " + vk1 + "\nquorum 0\n":           "not a positive number",
		"member " + vk1 + "\nquorum 1\nquorum 1\n": "second quorum",
	} {
		if _, err := compliance.ParsePolicy(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
}

func FuzzParseText(f *testing.F) {
	f.Add((&compliance.Statement{Origin: "o", Size: 1, Root: make([]byte, 32), Rules: "R1@1", Config: "sha256:" + strings.Repeat("0", 64),
		AsOf: asOf, State: "sha256:" + strings.Repeat("1", 64)}).Text())
	f.Fuzz(func(t *testing.T, text []byte) {
		st, err := compliance.ParseText(text)
		if err != nil {
			return
		}
		// One reading of every byte: what parses re-encodes to itself.
		if !bytes.Equal(st.Text(), text) {
			t.Fatalf("accepted %q, which re-encodes as %q", text, st.Text())
		}
	})
}

// specs/compliance.md shows the vector as it is.
func TestSpecShowsVector(t *testing.T) {
	doc, err := os.ReadFile("../../specs/compliance.md")
	if err != nil {
		t.Fatal(err)
	}
	vec, err := os.ReadFile("../../specs/vectors/compliance/statement.note")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, append(append([]byte("```\n"), vec...), "```"...)) {
		t.Fatal("specs/compliance.md does not show specs/vectors/compliance/statement.note")
	}
}
