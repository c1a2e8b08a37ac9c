// Package testsign signs entries for the verifier's tests. The verifier
// may not depend on the agencies' code (ledger/, which internal/testkit
// uses), even in tests, so this signs the DSSE pre-authentication encoding
// with Ed25519 keys from fixed seeds directly, through specs only.
package testsign

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"

	"github.com/acdledger/acdledger/specs"
)

// Agency is one registry entry.
type Agency struct {
	ID, Role string
	Kinds    []string
}

// Kit holds a key per agency, the registry pinning them and each agency's
// next seq.
type Kit struct {
	Registry *specs.Registry
	RegJSON  []byte
	keys     map[string]ed25519.PrivateKey
	keyIDs   map[string]string
	seq      map[string]uint64
}

// New makes the keys (from fixed seeds) and the registry.
func New(t testing.TB, agencies ...Agency) *Kit {
	t.Helper()
	k := &Kit{Registry: &specs.Registry{}, keys: map[string]ed25519.PrivateKey{}, keyIDs: map[string]string{}, seq: map[string]uint64{}}
	for i, a := range agencies {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i+1), 0x7e
		k.keys[a.ID] = ed25519.NewKeyFromSeed(seed)
		id, err := k.Registry.Add(a.ID, a.ID, a.Role, a.Kinds, k.keys[a.ID].Public())
		if err != nil {
			t.Fatal(err)
		}
		k.keyIDs[a.ID] = id
	}
	raw, err := k.Registry.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k.RegJSON = raw
	return k
}

// Entry signs an entry of the agency with its next seq; occurred_at is
// 2026-06-01 unless set with the header map (which overrides any field).
func (k *Kit) Entry(t testing.TB, agency, id, kind string, basis, body map[string]any, refs []string, header map[string]any) []byte {
	t.Helper()
	k.seq[agency]++
	e := map[string]any{"id": id, "kind": kind, "schema": specs.EntrySchemaVersion, "agency": agency, "seq": k.seq[agency],
		"occurred_at": "2026-06-01T10:00:00+09:00", "case": "CASE-1", "legal_basis": basis, "refs": append([]string{}, refs...), "body": body}
	for f, v := range header {
		e[f] = v
	}
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return k.Sign(t, agency, payload)
}

// Sign signs a payload with the agency's key, in its canonical form (as
// every signer does, specs/strict.md).
func (k *Kit) Sign(t testing.TB, agency string, payload []byte) []byte {
	t.Helper()
	payload, err := specs.Canonical(payload)
	if err != nil {
		t.Fatal(err)
	}
	sig := ed25519.Sign(k.keys[agency], (&specs.Envelope{Payload: payload}).PAE())
	env, err := specs.EnvelopeJSON(payload, k.keyIDs[agency], sig)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Has says whether the kit has a key for the agency.
func (k *Kit) Has(agency string) bool { _, ok := k.keys[agency]; return ok }
