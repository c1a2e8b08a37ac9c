package tlog_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
	fwitness "github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/verifier/tlog"
)

// witnessKey makes a tlog-cosignature/v1 signer and its policy vkey.
func witnessKey(t *testing.T, name string) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cvkey, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, cvkey
}

func TestPolicyQuorum(t *testing.T) {
	key := newTestKey(t)
	var signers []note.Signer
	var lines []string
	for i := 1; i <= 3; i++ {
		s, vkey := witnessKey(t, fmt.Sprintf("w%d.commission.example", i))
		signers = append(signers, s)
		lines = append(lines, fmt.Sprintf("witness w%d %s http://127.0.0.1:1/w%d", i, vkey, i))
	}
	policy := "# the commission's witnesses\nlog " + key.vkey + "\n" + strings.Join(lines, "\n") + "\ngroup members 2 w1 w2 w3\nquorum members\n"
	p, err := tlog.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	trust := tlog.TrustPolicy(p)

	body := testOrigin + "\n5\n" + strings.Repeat("A", 43) + "=\n"
	signed := func(ws ...note.Signer) []byte {
		n, err := note.Sign(&note.Note{Text: body}, append([]note.Signer{key.signer}, ws...)...)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := time.Now().Truncate(time.Second)
	cp, err := tlog.VerifyCheckpoint(signed(signers[0], signers[2]), trust)
	if err != nil {
		t.Fatalf("2 of 3 cosigned: %v", err)
	}
	if strings.Join(cp.Cosigners, ",") != "w1,w3" {
		t.Fatalf("cosigners %v", cp.Cosigners)
	}
	// The newest cosignature's timestamp (whole seconds, when it was signed).
	if cp.CosignedAt.Before(before) || cp.CosignedAt.After(time.Now()) {
		t.Fatalf("cosigned at %v, signed after %v", cp.CosignedAt, before)
	}
	if !p.CosignedAt([]byte(body)).IsZero() {
		t.Fatal("an unsigned note has a cosignature time")
	}
	_, err = tlog.VerifyCheckpoint(signed(signers[1]), trust)
	var qe *tlog.QuorumError
	if !errors.As(err, &qe) || strings.Join(qe.Signed, ",") != "w2" || strings.Join(qe.Missing, ",") != "w1,w3" {
		t.Fatalf("1 of 3: %v", err)
	}
	if !strings.Contains(err.Error(), "missing [w1, w3]") {
		t.Fatalf("message does not name the missing witnesses: %v", err)
	}
	// A cosignature by a key that is not in the policy does not count.
	stranger, _ := witnessKey(t, "w2.commission.example")
	if _, err := tlog.VerifyCheckpoint(signed(signers[0], stranger), trust); !errors.As(err, &qe) {
		t.Fatalf("stranger's cosignature counted: %v", err)
	}

	for name, bad := range map[string]string{
		"no log line":       strings.Replace(policy, "log "+key.vkey+"\n", "", 1),
		"two log lines":     "log " + key.vkey + "\n" + policy,
		"no quorum":         strings.Replace(policy, "quorum members\n", "", 1),
		"threshold too big": strings.Replace(policy, "group members 2", "group members 4", 1),
		"plain Ed25519 key": strings.Replace(policy, lines[0], "witness w1 "+key.vkey+" http://127.0.0.1:1/w1", 1),
	} {
		if _, err := tlog.ParsePolicy([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	none, err := tlog.ParsePolicy([]byte("log " + key.vkey + "\nquorum none\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tlog.VerifyCheckpoint(signed(), tlog.TrustPolicy(none)); err != nil {
		t.Fatalf("quorum none: %v", err)
	}
}

func TestPolicyLimits(t *testing.T) {
	key := newTestKey(t)
	var b strings.Builder
	b.WriteString("log " + key.vkey + "\n")
	for i := 0; i <= tlog.MaxPolicyWitnesses; i++ {
		_, vkey := witnessKey(t, fmt.Sprintf("w%d.example", i))
		fmt.Fprintf(&b, "witness w%d %s\n", i, vkey)
	}
	b.WriteString("quorum w0\n")
	_, err := tlog.ParsePolicy([]byte(b.String()))
	var pe *tlog.PolicyError
	if !errors.As(err, &pe) || pe.Rule != tlog.RuleLimit || pe.Line != tlog.MaxPolicyWitnesses+2 {
		t.Fatalf("%d witnesses: %v", tlog.MaxPolicyWitnesses+1, err)
	}

	b.Reset()
	_, vkey := witnessKey(t, "w.example")
	b.WriteString("log " + key.vkey + "\nwitness w " + vkey + "\ngroup g0 any w\n")
	for i := 1; i <= tlog.MaxPolicyGroups; i++ {
		fmt.Fprintf(&b, "group g%d any g%d\n", i, i-1)
	}
	b.WriteString("quorum g0\n")
	if _, err := tlog.ParsePolicy([]byte(b.String())); !errors.As(err, &pe) || pe.Rule != tlog.RuleLimit || pe.Line != tlog.MaxPolicyGroups+3 {
		t.Fatalf("%d groups: %v", tlog.MaxPolicyGroups+1, err)
	}

	big := "log " + key.vkey + "\nquorum none\n" + strings.Repeat("#\n", tlog.MaxPolicySize/2)
	if _, err := tlog.ParsePolicy([]byte(big)); !errors.As(err, &pe) || pe.Rule != tlog.RuleLimit || pe.Line != 0 {
		t.Fatalf("%d bytes: %v", len(big), err)
	}
}

// The log operator's check: every witness reachable by URL, and the policy
// pinning this log.
func TestRequireWitnessURLs(t *testing.T) {
	key := newTestKey(t)
	other := newTestKey(t)
	_, w1 := witnessKey(t, "w1.example")
	_, w2 := witnessKey(t, "w2.example")
	p, err := tlog.ParsePolicy([]byte("log " + key.vkey + "\nwitness w1 " + w1 + " http://127.0.0.1:1/w1\nwitness member2 " + w2 + "\ngroup g all w1 member2\nquorum g\n"))
	if err != nil {
		t.Fatal(err)
	}
	var pe *tlog.PolicyError
	err = p.RequireWitnessURLs(key.trust.Verifier)
	if !errors.As(err, &pe) || pe.Rule != tlog.RuleWitnessURL || pe.Line != 3 || !strings.Contains(err.Error(), "witness member2 has no URL") {
		t.Fatalf("witness without URL: %v", err)
	}
	err = p.RequireWitnessURLs(other.trust.Verifier)
	if !errors.As(err, &pe) || pe.Rule != tlog.RuleOtherLog || !strings.Contains(err.Error(), fmt.Sprintf("pins %s+%08x", key.trust.Verifier.Name(), key.trust.Verifier.KeyHash())) {
		t.Fatalf("another log's key: %v", err)
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, c := range loadPolicyVectors(f).Cases {
		f.Add([]byte(c.Policy))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := tlog.ParsePolicy(raw)
		if err != nil {
			var pe *tlog.PolicyError
			if !errors.As(err, &pe) || pe.Rule == "" || pe.Line < 0 || pe.Line > bytes.Count(raw, []byte("\n"))+1 {
				t.Fatalf("not a PolicyError naming a rule and a line of the input: %v", err)
			}
			return
		}
		if p.Log == nil || p.QuorumSet != (p.Quorum != nil) {
			t.Fatalf("accepted without a log or with an odd quorum: %+v", p)
		}
		// The accepted structure is a tree of witnesses, each group's
		// threshold within 1..n, and each witness at most once in it.
		names := map[string]bool{}
		keys := map[string]bool{}
		for _, w := range p.Witnesses {
			if names[w.Name] || keys[w.VKey] || w.Name == "none" {
				t.Fatalf("witness %s defined twice or named none", w.Name)
			}
			names[w.Name], keys[w.VKey] = true, true
		}
		leaves := map[int]bool{}
		var walk func(q *tlog.QuorumNode)
		walk = func(q *tlog.QuorumNode) {
			if q.Witness >= 0 {
				if leaves[q.Witness] {
					t.Fatalf("witness %s counts twice toward the quorum", p.Witnesses[q.Witness].Name)
				}
				leaves[q.Witness] = true
				return
			}
			if q.Threshold < 1 || q.Threshold > len(q.Members) {
				t.Fatalf("group %s: threshold %d of %d", q.Name, q.Threshold, len(q.Members))
			}
			for _, m := range q.Members {
				walk(m)
			}
		}
		if p.Quorum != nil {
			walk(p.Quorum)
			if p.SatisfiedBy(nil) {
				t.Fatal("a quorum met with no cosignature")
			}
		}
		var all []string
		for _, w := range p.Witnesses {
			all = append(all, w.Name)
		}
		if !p.SatisfiedBy(all) {
			t.Fatal("the quorum is not met even with every witness")
		}
	})
}

// On the policies both accept, this reader and formats' witness package
// (which Tessera's log side uses) reach the same verdict on real
// cosignatures, for every subset of witnesses; on the spec's holes, formats
// accepts what this reader refuses, which is why ledger runs this one first.
func TestPolicyAgreesWithFormats(t *testing.T) {
	key := newTestKey(t)
	var signers []note.Signer
	var lines []string
	for i := 1; i <= 4; i++ {
		s, vkey := witnessKey(t, fmt.Sprintf("w%d.commission.example", i))
		signers = append(signers, s)
		lines = append(lines, fmt.Sprintf("witness w%d %s http://127.0.0.1:1/w%d", i, vkey, i))
	}
	head := "log " + key.vkey + "\n" + strings.Join(lines, "\n") + "\n"
	body := testOrigin + "\n5\n" + strings.Repeat("A", 43) + "=\n"
	for _, tail := range []string{
		"group g 2 w1 w2 w3\nquorum g\n",
		"group a any w1 w2\ngroup b all w3 w4\ngroup q all a b\nquorum q\n",
		"group a 2 w1 w2 w3\ngroup q any a w4\nquorum q\n",
		"quorum w3\n",
	} {
		ours, err := tlog.ParsePolicy([]byte(head + tail))
		if err != nil {
			t.Fatal(err)
		}
		theirs, err := fwitness.ParsePolicy([]byte(head + tail))
		if err != nil {
			t.Fatal(err)
		}
		for set := 0; set < 1<<len(signers); set++ {
			ss := []note.Signer{key.signer}
			for i, s := range signers {
				if set&(1<<i) != 0 {
					ss = append(ss, s)
				}
			}
			raw, err := note.Sign(&note.Note{Text: body}, ss...)
			if err != nil {
				t.Fatal(err)
			}
			if a, b := ours.Satisfied(raw), theirs.Satisfied(raw); a != b {
				t.Errorf("%q, witnesses %04b: ours %v, formats %v", tail, set, a, b)
			}
		}
	}
	for name, tail := range map[string]string{
		"threshold 0":          "group g 0 w1\nquorum g\n",
		"a member twice":       "group g 2 w1 w1\nquorum g\n",
		"a trailing comment":   "quorum w1 # the first member\n",
		"two quorum lines":     "quorum w1\nquorum w2\n",
		"one key on two lines": strings.Replace(lines[0], "witness w1", "witness w1bis", 1) + "\ngroup g 2 w1 w1bis\nquorum g\n",
	} {
		if _, err := fwitness.ParsePolicy([]byte(head + tail)); err != nil {
			t.Logf("%s: formats now refuses it too (%v)", name, err)
		}
		if _, err := tlog.ParsePolicy([]byte(head + tail)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The cosigners a checkpoint names are facts of its note: the same with a
// bare log key as with a policy; the policy only decides which of them are
// checked (a report made with either pin must verify with the other).
func TestCheckpointSignersIndependentOfTrust(t *testing.T) {
	key := newTestKey(t)
	var signers []note.Signer
	var lines []string
	for i := 1; i <= 3; i++ {
		s, vkey := witnessKey(t, fmt.Sprintf("w%d.commission.example", i))
		signers = append(signers, s)
		lines = append(lines, fmt.Sprintf("witness w%d %s http://127.0.0.1:1/w%d", i, vkey, i))
	}
	// a cosignature by a key outside the policy, too
	stranger, _ := witnessKey(t, "stranger.example")
	policy := "log " + key.vkey + "\n" + strings.Join(lines[:2], "\n") + "\ngroup members 1 w1 w2\nquorum members\n"
	p, err := tlog.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	body := testOrigin + "\n5\n" + strings.Repeat("A", 43) + "=\n"
	raw, err := note.Sign(&note.Note{Text: body}, key.signer, signers[1], stranger, signers[0])
	if err != nil {
		t.Fatal(err)
	}
	bare, err := tlog.VerifyCheckpoint(raw, key.trust)
	if err != nil {
		t.Fatal(err)
	}
	withPolicy, err := tlog.VerifyCheckpoint(raw, tlog.TrustPolicy(p))
	if err != nil {
		t.Fatal(err)
	}
	want := "stranger.example,w1.commission.example,w2.commission.example"
	if got := strings.Join(bare.Signers, ","); got != want {
		t.Fatalf("signers with a bare key: %s, want %s", got, want)
	}
	if got := strings.Join(withPolicy.Signers, ","); got != want {
		t.Fatalf("signers with a policy: %s, want %s", got, want)
	}
	if got := strings.Join(p.CheckedSigners(raw), ","); got != "w1.commission.example,w2.commission.example" {
		t.Fatalf("checked signers: %s", got)
	}
	only, err := note.Sign(&note.Note{Text: body}, key.signer)
	if err != nil {
		t.Fatal(err)
	}
	if cp, err := tlog.VerifyCheckpoint(only, key.trust); err != nil || len(cp.Signers) != 0 {
		t.Fatalf("log signature only: signers %v, %v", cp.Signers, err)
	}
}
