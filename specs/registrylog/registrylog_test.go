package registrylog_test

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/registrylog"
)

var t0 = time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC)

func rootSigner(t *testing.T, b byte) *agencykey.Signer {
	seed := make([]byte, ed25519.SeedSize)
	seed[0], seed[31] = b, 0xee
	s, err := agencykey.FromPrivateKey(ed25519.NewKeyFromSeed(seed))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// chain is a log's leaves as far as the registry is concerned.
type chain struct {
	t    *testing.T
	root *agencykey.Signer
	h    *registrylog.History
	seq  uint64
	n    uint64
}

func newChain(t *testing.T, k *testkit.Kit) *chain {
	root := rootSigner(t, 1)
	draft, err := registrylog.GenesisDraft("genesis", t0, "example.org/log", "example.org/log+abcd+AAAA", root.PublicKey(), k.Registry)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Sign(draft)
	if err != nil {
		t.Fatal(err)
	}
	reg, a, err := registrylog.ReadGenesis(leaf, registrylog.Pins{Origin: "example.org/log", RootKeyID: root.KeyID()})
	if err != nil {
		t.Fatal(err)
	}
	return &chain{t: t, root: root, h: registrylog.NewHistory(reg, a), seq: 1, n: 1}
}

// change signs a change and adds it at the next index.
func (c *chain) change(id string, at time.Time, body map[string]any) error {
	c.t.Helper()
	c.seq++
	draft, err := registrylog.Draft(id, specs.KindRegistryChange, c.seq, at, body)
	if err != nil {
		c.t.Fatal(err)
	}
	leaf, err := c.root.Sign(draft)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := c.h.Current().VerifySigned(leaf)
	if err != nil {
		c.seq--
		return err
	}
	if _, err := c.h.Add(c.n, a); err != nil {
		c.seq--
		return err
	}
	c.n++
	return nil
}

func keyJSON(t *testing.T, s *agencykey.Signer) map[string]any {
	k, err := registrylog.KeyOf(s.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	return map[string]any{"key_id": k.ID, "public_key": k.PublicKey}
}

func TestHistory(t *testing.T) {
	k := testkit.New(t)
	c := newChain(t, k)
	newNCO := rootSigner(t, 9)
	oldID := k.Signers["nco"].KeyID()
	if err := c.change("rot", t0.Add(time.Hour), map[string]any{"change": "key.rotated", "agency_id": "nco", "key": keyJSON(t, newNCO), "replaces": oldID, "valid_from": t0.Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
	// At index 1 (the rotation itself) the old key is in force; after it, refused.
	if got := c.h.AtIndex(1).Registry.Agency("nco").Key(oldID).RevokedBy; got != "" {
		t.Errorf("old key revoked before the rotation: %q", got)
	}
	k.Registry = c.h.Current()
	_, err := c.h.Current().VerifySigned(k.Signed(t, "nco"))
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleKeyUnknown || !strings.Contains(v.Message, "revoked by registry entry rot") {
		t.Fatalf("old key after its revocation: %v", err)
	}
	// By time: before the rotation's occurred_at, the genesis registry.
	if got := c.h.AtTime(t0.Add(30 * time.Minute)).Change; got != "genesis" {
		t.Errorf("AtTime before the rotation: %s", got)
	}
	if got := c.h.AtTime(t0.Add(2 * time.Hour)).Change; got != "key.rotated" {
		t.Errorf("AtTime after the rotation: %s", got)
	}
	// Refusals name the field and the rule.
	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"change": "key.revoked", "agency_id": "nco", "key_id": oldID}, "body.key_id"},
		{map[string]any{"change": "key.revoked", "agency_id": "nope", "key_id": oldID}, "body.agency_id"},
		{map[string]any{"change": "agency.retired", "agency_id": "commission-root"}, "body.agency_id"},
		{map[string]any{"change": "key.added", "agency_id": "npa", "key": keyJSON(t, newNCO), "valid_from": t0.Format(time.RFC3339)}, "body.key.key_id"},
	} {
		err := c.change("bad", t0.Add(3*time.Hour), tc.body)
		if !errors.As(err, &v) || v.Rule != specs.RuleRegistry || v.Field != tc.field {
			t.Errorf("%v: got %v, want rule %s on %s", tc.body, err, specs.RuleRegistry, tc.field)
		}
	}
	// A back-dated member rotation: valid from before the key it replaces.
	rc := k.Registry.Recipients[0]
	if err := c.change("m1", t0.Add(4*time.Hour), map[string]any{"change": "member.added", "member": map[string]any{"id": rc.ID, "name": rc.Name, "recipient": "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"}, "valid_from": "2019-06-01T00:00:00Z"}); err != nil {
		t.Fatal(err)
	}
	var n int
	for _, r := range c.h.Current().Recipients {
		if r.ID == rc.ID {
			n++
		}
	}
	if n != 1 {
		t.Errorf("member %s has %d recipients after a rotation back-dated before its key; want the new one only", rc.ID, n)
	}
	// The history round-trips through JSON.
	raw, err := json.Marshal(c.h)
	if err != nil {
		t.Fatal(err)
	}
	var back registrylog.History
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Versions()) != len(c.h.Versions()) || back.Current().Agency("nco").Key(oldID).RevokedBy != "rot" {
		t.Errorf("history did not round-trip")
	}
}

func TestGenesisPins(t *testing.T) {
	k := testkit.New(t)
	root := rootSigner(t, 1)
	draft, _ := registrylog.GenesisDraft("genesis", t0, "example.org/log", "k", root.PublicKey(), k.Registry)
	leaf, _ := root.Sign(draft)
	other := rootSigner(t, 2)
	var v *specs.Violation
	if _, _, err := registrylog.ReadGenesis(leaf, registrylog.Pins{RootKeyID: other.KeyID()}); !errors.As(err, &v) || v.Field != "body.root_keys" {
		t.Errorf("another root pin: %v", err)
	}
	if _, _, err := registrylog.ReadGenesis(leaf, registrylog.Pins{Origin: "other.org/log"}); !errors.As(err, &v) || v.Field != "body.origin" {
		t.Errorf("another origin: %v", err)
	}
	// Signed by a key other than the one it names: signature or key refused.
	bad, _ := other.Sign(draft)
	if _, _, err := registrylog.ReadGenesis(bad, registrylog.Pins{}); !errors.As(err, &v) || v.Rule != specs.RuleKeyUnknown {
		t.Errorf("genesis signed by a key it does not name: %v", err)
	}
	if _, _, err := registrylog.ReadGenesis(k.Signed(t, "nco"), registrylog.Pins{}); !errors.As(err, &v) || v.Field != "kind" {
		t.Errorf("an ordinary entry at index 0: %v", err)
	}
}
