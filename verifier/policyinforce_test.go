package verifier_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/rules"
	"github.com/acdledger/acdledger/verifier/tlog"
	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"
)

// signerPair makes a signed-note key: a log key, or with cosig a
// tlog-cosignature/v1 witness key; it returns the signer and its vkey.
func signerPair(t *testing.T, name string, cosig bool) (note.Signer, string) {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	if !cosig {
		s, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		return s, vkey
	}
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := fnote.VKeyToCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return s, cv
}

// The policy and rules in force are those of the trust history at the
// checkpoint's size; every way a checkpoint or configuration can miss
// them is refused naming the entry. The history is built with
// registrylog.History as an audit's replay builds it (the entries'
// signatures are the replay's concern, tested with it).
func TestPolicyAndRulesInForce(t *testing.T) {
	const origin = "policy.example/log"
	logS, logV := signerPair(t, origin, false)
	w1, w1V := signerPair(t, "w1.example", true)
	w2, w2V := signerPair(t, "w2.example", true)
	_, otherV := signerPair(t, "other.example/log", false)
	pol := func(logKey, body string) string { return "log " + logKey + "\n" + body }
	one := pol(logV, "witness w1 "+w1V+"\nquorum w1\n")
	both := pol(logV, "witness w1 "+w1V+"\nwitness w2 "+w2V+"\ngroup all all w1 w2\nquorum all\n")

	// (testkit is not used: it imports ledger/agencykey, and no verifier
	// package, tests included, may depend on ledger/.)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	regJSON, _ := json.Marshal(map[string]any{"registry": 1, "agencies": []any{map[string]any{
		"id": "nco", "name": "NCO", "role": "agency", "kinds": []string{"retention.deleted"},
		"keys": []any{map[string]string{"key_id": hex.EncodeToString(sum[:]), "public_key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}}}}})
	reg, err := specs.ParseRegistry(regJSON)
	if err != nil {
		t.Fatal(err)
	}
	h := registrylog.NewHistory(reg, &specs.Admitted{Entry: &specs.Entry{ID: "registry-1", OccurredAt: "2026-01-01T00:00:00Z"}})
	add := func(idx uint64, id string, body map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		if _, err := h.Add(idx, &specs.Admitted{Entry: &specs.Entry{ID: id, Kind: specs.KindRegistryChange, OccurredAt: "2026-01-02T00:00:00Z", Body: raw}}); err != nil {
			t.Fatal(err)
		}
	}
	add(3, "registry-2", map[string]any{"change": "policy.set", "policy": one, "valid_from": "2026-01-02T00:00:00Z"})
	add(6, "registry-3", map[string]any{"change": "policy.set", "policy": both, "valid_from": "2026-01-03T00:00:00Z"})
	add(8, "registry-4", map[string]any{"change": "policy.set", "policy": pol(otherV, "quorum none\n"), "valid_from": "2026-01-04T00:00:00Z"})
	add(9, "registry-5", map[string]any{"change": "policy.set", "policy": "not a policy", "valid_from": "2026-01-04T00:00:00Z"})

	lv, err := tlog.ParseVerifierKey(logV)
	if err != nil {
		t.Fatal(err)
	}
	pins := &verifier.Pins{Trust: tlog.Trust{Origin: origin, Verifier: lv}, Root: "x", History: h}
	cp := func(size uint64, ws ...note.Signer) *tlog.Checkpoint {
		t.Helper()
		body := fmt.Sprintf("%s\n%d\n%s=\n", origin, size, strings.Repeat("A", 43))
		raw, err := note.Sign(&note.Note{Text: body}, append([]note.Signer{logS}, ws...)...)
		if err != nil {
			t.Fatal(err)
		}
		c, err := tlog.VerifyCheckpoint(raw, pins.Trust)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	// Size 3: the policy.set at index 3 is not below it, so none applies.
	if pf, got, err := pins.CheckLogPolicy(cp(3)); pf != nil || err != nil || got == nil {
		t.Errorf("size 3, before any policy.set: %+v %v", pf, err)
	}
	// Size 6: registry-2 (quorum w1).
	pf, got, err := pins.CheckLogPolicy(cp(6, w1))
	if err != nil || pf.EntryID != "registry-2" || pf.Index != 3 || strings.Join(got.Cosigners, ",") != "w1" || got.CosignedAt.IsZero() {
		t.Errorf("size 6 cosigned by w1: %+v %+v %v", pf, got, err)
	}
	// Size 7: registry-3 (both); w1 alone fails, naming the entry.
	_, _, err = pins.CheckLogPolicy(cp(7, w1))
	if !errors.Is(err, verifier.ErrPolicyInForce) || !strings.Contains(err.Error(), "registry entry registry-3 (index 6") || !strings.Contains(err.Error(), "missing [w2]") {
		t.Errorf("size 7 cosigned by w1 only: %v", err)
	}
	if pf, _, err := pins.CheckLogPolicy(cp(7, w1, w2)); err != nil || strings.Join(pf.Cosigners, ",") != "w1,w2" {
		t.Errorf("size 7 cosigned by both: %+v %v", pf, err)
	}
	// A --policy file pinned too: checked by the fetch, compared here.
	fileP, err := tlog.ParsePolicy([]byte(one))
	if err != nil {
		t.Fatal(err)
	}
	withFile := *pins
	withFile.Trust.Policy = fileP
	pf, _, err = withFile.CheckLogPolicy(cp(7, w1, w2))
	if err != nil || len(pf.FileDifferences) != 4 || !strings.Contains(strings.Join(pf.FileDifferences, "\n"), `the log's policy has "witness w2 `) {
		t.Errorf("a --policy file with only w1: want its quorum and the log's w2, group and quorum named: %q %v", pf.FileDifferences, err)
	}
	// Size 9: registry-4 pins another log's key.
	if _, _, err := pins.CheckLogPolicy(cp(9)); !errors.Is(err, verifier.ErrPolicyInForce) || !strings.Contains(err.Error(), "registry entry registry-4 (index 8) pins log key other.example/log") {
		t.Errorf("a policy of another log: %v", err)
	}
	// Size 10: registry-5 does not parse.
	if _, _, err := pins.CheckLogPolicy(cp(10)); !errors.Is(err, verifier.ErrPolicyInForce) || !strings.Contains(err.Error(), "registry entry registry-5 (index 9) does not parse") {
		t.Errorf("a policy that does not parse: %v", err)
	}
	// No history replayed: an input error.
	if _, _, err := (&verifier.Pins{Trust: pins.Trust}).CheckLogPolicy(cp(6)); !errors.Is(err, verifier.ErrInput) {
		t.Errorf("without a history: %v", err)
	}

	// Rules: none adopted below size 12, then the defaults.
	if ri, err := pins.CheckAdoptedRules(rules.Config{}, 11); ri != nil || err != nil {
		t.Errorf("no rules.adopted: %+v %v", ri, err)
	}
	_, digest, err := rules.DefaultConfig().Digest()
	if err != nil {
		t.Fatal(err)
	}
	add(11, "registry-6", map[string]any{"change": "rules.adopted", "version": "2026.1", "digest": digest, "valid_from": "2026-01-05T00:00:00Z"})
	if ri, err := pins.CheckAdoptedRules(rules.DefaultConfig(), 12); err != nil || ri.EntryID != "registry-6" || ri.Version != "2026.1" {
		t.Errorf("the adopted configuration: %+v %v", ri, err)
	}
	other := rules.DefaultConfig()
	other.MaxRecordLag *= 2
	_, otherDigest, _ := other.Digest()
	_, err = pins.CheckAdoptedRules(other, 12)
	if !errors.Is(err, verifier.ErrRulesNotAdopted) || !strings.Contains(err.Error(), otherDigest) || !strings.Contains(err.Error(), digest) || !strings.Contains(err.Error(), "registry entry registry-6") {
		t.Errorf("another configuration: %v", err)
	}
}
