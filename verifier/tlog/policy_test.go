package tlog_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	fnote "github.com/transparency-dev/formats/note"
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
