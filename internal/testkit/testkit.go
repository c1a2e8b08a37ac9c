// Package testkit builds real fixtures for tests: agency keys, a registry,
// signed entries, and a ledger directory. Nothing here is a mock: the keys
// sign, the registry parses, the entries pass admission.
package testkit

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/ledger/seal"

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

// Members are the commission members of every kit: sealed entries are
// encrypted to their recipients.
var Members = []string{"member-1", "member-2"}

// memberIdentities are fixed test-only identities (made with age-keygen),
// so that a kit's registry is the same in every run, like its agency keys.
var memberIdentities = []string{
	"AGE-SECRET-KEY-16WYH5UTLTXDCGPT403WVDQ7SNLA7NWQRA7ZNGMMNQEZ3CAZTSHSS29D70V",
	"AGE-SECRET-KEY-17SHXD7SWJ8FM7YA8JTDED97YQH960693MALY7TJG8GW7XWS02ELS2VSFCT",
}

// Kit holds one key per agency and the registry that pins them, and the
// commission members' age identities.
type Kit struct {
	Signers    map[string]*agencykey.Signer
	Identities map[string]*age.X25519Identity // by member id
	Registry   *specs.Registry
	RegJSON    []byte
	seq        map[string]uint64
	n          int
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
	k := &Kit{Signers: map[string]*agencykey.Signer{}, Identities: map[string]*age.X25519Identity{}, Registry: &specs.Registry{}, seq: map[string]uint64{}}
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
	for i, m := range Members {
		id, err := age.ParseX25519Identity(memberIdentities[i])
		if err != nil {
			t.Fatal(err)
		}
		k.Identities[m] = id
		if err := k.Registry.AddRecipient(m, "Test "+m, id.Recipient().String(), time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)); err != nil {
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
		"schema":      specs.EntrySchemaVersion,
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
	return k.SignPayload(t, agency, payload)
}

// SignAsIs signs a payload map exactly as given: no sealing, for tests of
// what admission does with entries the tools would not make.
func (k *Kit) SignAsIs(t testing.TB, agency string, e map[string]any) []byte {
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

// Seal seals a payload map's clear sealed values in place (to the kit's
// members), so a test can then alter the sealed form and SignAsIs it.
func (k *Kit) Seal(t testing.TB, e map[string]any) {
	t.Helper()
	payload, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if payload, err = seal.Seal(payload, k.Registry); err != nil {
		t.Fatal(err)
	}
	clear(e)
	if err := json.Unmarshal(payload, &e); err != nil {
		t.Fatal(err)
	}
}

// SignPayload seals a payload whose sealed values are in clear (to the
// kit's members, as the ledger's tools do) and signs it with the agency's
// key.
func (k *Kit) SignPayload(t testing.TB, agency string, payload []byte) []byte {
	t.Helper()
	payload, err := seal.Seal(payload, k.Registry)
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

// SignedOfSize returns a valid envelope of exactly size bytes, signed by
// agency with its next seq, for tests of the size limit: an
// approval.requested whose sealed selectors fill it (so agency must be one
// that may request approval, nco or npa). An envelope as signers lay it out
// is a multiple of 4 bytes long (specs/admission.md), so size must be one
// too; the largest it can make is about 53,000 bytes (a sealed box is at
// most 40,000 base64 characters).
func (k *Kit) SignedOfSize(t testing.TB, agency string, size int) []byte {
	t.Helper()
	if size%4 != 0 {
		t.Fatalf("SignedOfSize(%d): an envelope's length is a multiple of 4", size)
	}
	e := k.Entry(agency)
	e["kind"] = "approval.requested"
	e["legal_basis"] = map[string]any{"law": "acd-act", "article": "17", "paragraph": "1"}
	e["body"] = map[string]any{"measure": "transit_sending", "direction": "GAIGAI",
		"requested_from": "2026-06-02T00:00:00+09:00", "requested_until": "2026-07-01T00:00:00+09:00",
		"grounds": map[string]any{"suspicion": true, "facts_unclear": true, "no_other_means": true}}
	// build signs the entry with fill characters of selectors (at most
	// 4096 to a selector, the schema's limit) and a case of caseLen, and
	// returns the envelope and its payload's length.
	build := func(fill, caseLen int) ([]byte, int) {
		var sel []any
		for ; fill > 0; fill -= 4096 {
			sel = append(sel, strings.Repeat("s", min(fill, 4096)))
		}
		e["case"] = "C" + strings.Repeat("0", caseLen-1)
		e["sealed"] = map[string]any{"selectors": sel}
		env := k.Sign(t, agency, e)
		var d struct{ Payload string }
		if err := json.Unmarshal(env, &d); err != nil {
			t.Fatal(err)
		}
		return env, base64.StdEncoding.DecodedLen(len(d.Payload)) - strings.Count(d.Payload[max(0, len(d.Payload)-2):], "=")
	}
	// The envelope is a fixed part plus the payload in base64, 4·⌈P/3⌉
	// bytes. The case is outside the sealed box, so each character of it
	// adds one byte to P: once the fill leaves P within 63 bytes under the
	// largest P of the wanted size, the case makes up the rest. Each byte
	// of fill adds about 4/3 to P (the box grows by a byte, in base64).
	fill := 1000
	for range 10 {
		env, p := build(fill, 1)
		fixed := len(env) - 4*((p+2)/3)
		if (size-fixed)%4 != 0 || size < fixed {
			t.Fatalf("SignedOfSize(%d): out of reach (%d bytes without the payload)", size, fixed)
		}
		gap := 3*((size-fixed)/4) - p // bytes of case still to add
		if gap >= 0 && gap <= 60 {
			env, _ = build(fill, 1+gap)
			if len(env) != size {
				t.Fatalf("SignedOfSize(%d): made %d bytes", size, len(env))
			}
			return env
		}
		fill = max(1, fill+(gap-30)*3/4)
		if fill > 29000 {
			t.Fatalf("SignedOfSize(%d): out of reach (the sealed box would be too large)", size)
		}
	}
	t.Fatalf("SignedOfSize(%d): no fill found", size)
	return nil
}
