package compliance_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/compliance"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
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
	pins *verifier.Pins
	src  *tlog.Source
	log  *testlog.Log
	k    *testkit.Kit
}

// newFixture is a real Tessera log with two inspections, a measure that
// has neither approval nor emergency (an R3 violation) and a leaf whose
// ref names no entry (an admission failure).
func newFixture(t *testing.T) *fixture {
	k := testkit.New(t)
	l := testlog.New(t, "compliance.example/log")
	leaves := [][]byte{k.Signed(t, "commission"), k.Signed(t, "commission")}
	m := k.Entry("npa")
	m["kind"] = "measure.executed"
	m["body"] = map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
		"started_at": "2026-06-01T10:00:00+09:00", "ended_at": "2026-06-01T11:00:00+09:00", "outcome": "no_effect"}
	leaves = append(leaves, k.Sign(t, "npa", m))
	bad := k.Entry("commission")
	bad["refs"] = []string{"NO-SUCH-ENTRY"}
	leaves = append(leaves, k.SignAsIs(t, "commission", bad))
	l.Add(t, leaves...)
	reg := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(reg, k.RegJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	pins, err := verifier.LoadPins(l.VkeyFile, "", reg)
	if err != nil {
		t.Fatal(err)
	}
	src, err := tlog.Open(l.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pins: pins, src: src, log: l, k: k}
}

var asOf = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func (f *fixture) statement(t *testing.T) *compliance.Statement {
	t.Helper()
	ctx := context.Background()
	cp, err := f.src.Checkpoint(ctx, f.pins.Trust)
	if err != nil {
		t.Fatal(err)
	}
	st, err := compliance.Make(ctx, f.pins, f.src, cp, compliance.Options{Config: rules.DefaultConfig(), ConfigRaw: specs.RulesDefaultConfig, AsOf: asOf})
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
	// Two violations: R3 of the measure, and R14 of the refused leaf (the
	// rules judge every leaf whose signature verifies, as audit does).
	if st.Size != 4 || st.Violations != 2 || st.AdmissionFailures != 1 || st.Origin != "compliance.example/log" {
		t.Fatalf("statement %+v", st)
	}
	if !strings.HasPrefix(st.Rules, "R1@1,R2@1,") || !strings.HasSuffix(st.Rules, ",R15@1") || st.Config != compliance.ConfigDigest(specs.RulesDefaultConfig) {
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
	if err != nil || got.Violations != 2 || strings.Join(signers, " ") != "commission.example/member-1 commission.example/member-2" {
		t.Fatalf("2 of 3: %v %v %+v", err, signers, got)
	}
	if _, _, err := compliance.Verify(m1, two); !errors.Is(err, compliance.ErrQuorum) || !strings.Contains(err.Error(), "1 of the policy's members signed") {
		t.Fatalf("1 of 3 with quorum 2: %v", err)
	}
	// An edited figure breaks every signature.
	edited := bytes.Replace(both, []byte("violations 2\n"), []byte("violations 0\n"), 1)
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

	// A grown log gives another state.
	f.log.Add(t, f.k.Signed(t, "commission"))
	if grown := f.statement(t); grown.State == st.State || grown.Size != 5 {
		t.Fatalf("grown log: %+v", grown)
	}
}

// The vector in specs/vectors/compliance/ is this code's output: the
// statement text and the note signed with the member key of seed 1.
// ACDLEDGER_UPDATE_VECTORS=1 rewrites it.
func TestVector(t *testing.T) {
	st := &compliance.Statement{
		Origin: "acd.example/log", Size: 1234, Root: bytes.Repeat([]byte{0xab}, 32),
		Rules:  "R1@1,R2@1,R3@1,R4@1,R5@1,R6@1,R7@1,R8@1,R9@1,R10@1,R11@1,R12@1,R13@1,R14@1,R15@1",
		Config: compliance.ConfigDigest(specs.RulesDefaultConfig), AsOf: time.Date(2027, 4, 4, 0, 0, 0, 0, time.UTC),
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
