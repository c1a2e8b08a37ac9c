// Package testkit builds real fixtures for tests: agency keys, a registry,
// signed entries, and a ledger directory. Nothing here is a mock: the keys
// sign, the registry parses, the entries pass admission.
package testkit

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/acdledger/acdledger/ledger/agencykey"
	"github.com/acdledger/acdledger/specs"
)

// Agency is one registry entry of a kit.
type Agency struct {
	ID, Role string
	Kinds    []string
}

// Agencies is a small registry: two agencies and the commission.
var Agencies = []Agency{
	{"nco", "agency", []string{"agreement.concluded", "agreement.amended", "agreement.terminated", "approval.requested", "acquisition.started", "acquisition.stopped", "selection.batch", "retention.deleted", "provision", "response"}},
	{"npa", "agency", []string{"approval.requested", "measure.executed", "emergency.notice", "mofa.consulted", "response"}},
	{"commission", "commission", []string{"approval.decided", "inspection", "notice", "demand", "recommendation"}},
}

// Kit holds one key per agency and the registry that pins them.
type Kit struct {
	Signers  map[string]*agencykey.Signer
	Registry *specs.Registry
	RegJSON  []byte
	seq      map[string]uint64
	n        int
}

// New makes keys from fixed seeds (tests stay reproducible) and a registry
// of Agencies.
func New(t testing.TB) *Kit { return NewWith(t, Agencies) }

// Many is a kit of n agencies a00, a01, … that append retention.deleted
// entries, for load tests.
func Many(t testing.TB, n int) *Kit {
	var as []Agency
	for i := 0; i < n; i++ {
		as = append(as, Agency{fmt.Sprintf("a%02d", i), "agency", []string{"retention.deleted"}})
	}
	return NewWith(t, as)
}

// NewWith makes a kit for the given agencies.
func NewWith(t testing.TB, agencies []Agency) *Kit {
	t.Helper()
	k := &Kit{Signers: map[string]*agencykey.Signer{}, Registry: &specs.Registry{}, seq: map[string]uint64{}}
	for i, a := range agencies {
		seed := make([]byte, ed25519.SeedSize)
		seed[0], seed[1] = byte(i+1), byte((i+1)>>8)
		s, err := agencykey.FromPrivateKey(ed25519.NewKeyFromSeed(seed))
		if err != nil {
			t.Fatal(err)
		}
		k.Signers[a.ID] = s
		if _, err := k.Registry.Add(a.ID, "Test "+a.ID, a.Role, a.Kinds, s.PublicKey()); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := k.Registry.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	k.RegJSON = raw
	return k
}

// Entry returns a valid payload for the agency with the next seq. The body
// is a small mofa.consulted (npa) or inspection (commission) or
// retention.deleted (nco), unless kind/body are given through Edit.
func (k *Kit) Entry(agency string) map[string]any {
	k.seq[agency]++
	k.n++
	e := map[string]any{
		"id":          fmt.Sprintf("E%s%06d", agency, k.n),
		"schema":      1,
		"agency":      agency,
		"seq":         k.seq[agency],
		"occurred_at": "2026-06-01T10:00:00+09:00",
		"case":        "CASE-1",
		"refs":        []string{},
	}
	switch agency {
	case "npa":
		e["kind"] = "mofa.consulted"
		e["legal_basis"] = map[string]any{"law": "police-duties-act", "article": "6-2"}
		e["body"] = map[string]any{"consulted_at": "2026-06-01T09:00:00+09:00"}
	case "commission":
		e["kind"] = "inspection"
		e["legal_basis"] = map[string]any{"law": "acd-act", "article": "63", "paragraph": "1"}
		e["body"] = map[string]any{"paragraph": "1", "target_agency": "nco", "period_from": "2026-04-01T00:00:00+09:00", "period_until": "2026-05-31T00:00:00+09:00", "findings": 0}
	default:
		e["kind"] = "retention.deleted"
		e["legal_basis"] = map[string]any{"law": "acd-act", "article": "22"}
		e["body"] = map[string]any{"dataset": "DS-1", "created_at": "2026-05-01T00:00:00+09:00", "deleted_at": "2026-06-01T00:00:00+09:00", "n": 10}
	}
	return e
}

// Unseq gives back the seq the last Entry for that agency took, for tests
// that build an entry and then do not append it.
func (k *Kit) Unseq(agency string) { k.seq[agency]-- }

// Sign signs a payload map with the agency's key.
func (k *Kit) Sign(t testing.TB, agency string, e map[string]any) []byte {
	t.Helper()
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	env, err := k.Signers[agency].Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Signed is Entry then Sign.
func (k *Kit) Signed(t testing.TB, agency string) []byte {
	return k.Sign(t, agency, k.Entry(agency))
}
