// Package registrylog computes the agency registry in force anywhere in a
// log from the log itself (specs/registry.md, "Trust history in the log"):
// the genesis entry at index 0 gives the initial registry and the
// commission root keys, and every later registry.change entry, signed by a
// root key, changes it from its own position on.
//
// It is a pure function of the log's leaves, so the ledger (admitting) and
// an auditor (replaying) reach the same registry at every index. It lives
// under specs/ because both ledger/ and verifier/ import it, and the
// verifier must never import ledger/.
package registrylog

import (
	"crypto"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/acdledger/acdledger/specs"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
)

// Genesis is the body of the registry.genesis entry.
type Genesis struct {
	Origin   string          `json:"origin"`
	LogKey   string          `json:"log_key"`
	RootKeys []*specs.Key    `json:"root_keys"`
	Registry json.RawMessage `json:"registry"`
}

// Member is a commission member's recipient as a member.added change gives it.
type Member struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Recipient string `json:"recipient"`
}

// Change is the body of a registry.change entry; which fields are set
// depends on Change (entry.schema.json, $defs/registry_change).
type Change struct {
	Change    string        `json:"change"`
	Agency    *specs.Agency `json:"agency,omitempty"`
	AgencyID  string        `json:"agency_id,omitempty"`
	Key       *specs.Key    `json:"key,omitempty"`
	Replaces  string        `json:"replaces,omitempty"`
	KeyID     string        `json:"key_id,omitempty"`
	Member    *Member       `json:"member,omitempty"`
	Policy    string        `json:"policy,omitempty"`
	Version   string        `json:"version,omitempty"`
	Digest    string        `json:"digest,omitempty"`
	Reason    string        `json:"reason,omitempty"`
	ValidFrom string        `json:"valid_from,omitempty"`
}

// The kinds of change.
const (
	AgencyAdded   = "agency.added"
	AgencyRetired = "agency.retired"
	KeyAdded      = "key.added"
	KeyRotated    = "key.rotated"
	KeyRevoked    = "key.revoked"
	MemberAdded   = "member.added"
	PolicySet     = "policy.set"
	RulesAdopted  = "rules.adopted"
)

// Changes lists every kind of change, in the order of specs/registry.md.
var Changes = []string{AgencyAdded, AgencyRetired, KeyAdded, KeyRotated, KeyRevoked, MemberAdded, PolicySet, RulesAdopted}

func refuse(e *specs.Entry, field, format string, args ...any) error {
	return &specs.Violation{EntryID: e.ID, Field: field, Rule: specs.RuleRegistry, Message: fmt.Sprintf(format, args...)}
}

// Clone copies a registry (through its JSON form, so the copy is checked
// as any registry is).
func Clone(r *specs.Registry) (*specs.Registry, error) {
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return specs.ParseRegistry(raw)
}

// Pins are what an auditor trusts of a log's trust history: the log's
// origin and the fingerprint (key id) of a commission root key. Everything
// else, the initial registry included, is read from the genesis entry.
type Pins struct {
	Origin    string // empty: not checked (the checkpoint's origin is pinned separately)
	RootKeyID string // hex SHA-256 of the root key's DER SubjectPublicKeyInfo
}

// ReadGenesis checks that leaf (index 0 of a log) is a genesis entry
// signed by the pinned root key, for the pinned origin, and returns the
// registry it starts, with the root keys. Every admission rule a leaf
// passes is checked (the genesis is an entry like any other).
func ReadGenesis(leaf []byte, pins Pins) (*specs.Registry, *specs.Admitted, error) {
	env, err := specs.ParseEnvelope(leaf)
	if err != nil {
		return nil, nil, err
	}
	e, err := specs.ParseEntry(env.Payload)
	if err != nil {
		return nil, nil, err
	}
	if e.Kind != specs.KindGenesis {
		return nil, nil, refuse(e, "kind", "index 0 is a %s entry; a log with a trust history starts with its %s entry", e.Kind, specs.KindGenesis)
	}
	reg, err := GenesisRegistry(e)
	if err != nil {
		return nil, nil, err
	}
	var g Genesis
	json.Unmarshal(e.Body, &g) // GenesisRegistry read it
	if pins.Origin != "" && g.Origin != pins.Origin {
		return nil, nil, refuse(e, "body.origin", "the genesis is for log %q; the pinned origin is %q", g.Origin, pins.Origin)
	}
	if pins.RootKeyID != "" && !slices.ContainsFunc(g.RootKeys, func(k *specs.Key) bool { return k.ID == pins.RootKeyID }) {
		return nil, nil, refuse(e, "body.root_keys", "no root key of the genesis has the pinned fingerprint %s", pins.RootKeyID)
	}
	if pins.RootKeyID != "" && env.KeyID != pins.RootKeyID {
		return nil, nil, refuse(e, "signatures[0].keyid", "the genesis is signed by key %s, not by the pinned root key %s", env.KeyID, pins.RootKeyID)
	}
	a, err := reg.VerifySigned(leaf)
	if err != nil {
		return nil, nil, err
	}
	if err := a.Entry.CheckContent(); err != nil {
		return nil, nil, err
	}
	if e.Seq != 1 {
		return nil, nil, refuse(e, "seq", "the genesis is the root key's first entry: seq 1, not %d", e.Seq)
	}
	return reg, a, nil
}

// GenesisRegistry is the registry a genesis entry starts (without
// checking its signature: see ReadGenesis).
func GenesisRegistry(e *specs.Entry) (*specs.Registry, error) {
	var g Genesis
	if err := json.Unmarshal(e.Body, &g); err != nil {
		return nil, refuse(e, "body", "%v", err)
	}
	reg, err := specs.ParseRegistry(g.Registry)
	if err != nil {
		return nil, refuse(e, "body.registry", "%v", err)
	}
	if len(reg.RootKeys) > 0 || reg.WitnessPolicy != nil || reg.Rules != nil {
		return nil, refuse(e, "body.registry", "root_keys, witness_policy and rules are set by registry entries, not given in the genesis registry")
	}
	for i, k := range g.RootKeys {
		if k.ValidFrom != "" || k.RevokedBy != "" {
			return nil, refuse(e, fmt.Sprintf("body.root_keys[%d]", i), "a root key has only key_id and public_key")
		}
	}
	reg.RootKeys = g.RootKeys
	if reg, err = Clone(reg); err != nil {
		return nil, refuse(e, "body.root_keys", "%v", err)
	}
	return reg, nil
}

// Apply returns the registry that a registry.change entry makes of reg
// (which it does not change). The entry has passed the admission rules
// against reg (so it is signed by a root key in force); an error is a
// *specs.Violation of rule registry.change naming the field.
func Apply(reg *specs.Registry, e *specs.Entry) (*specs.Registry, error) {
	switch e.Kind {
	case specs.KindGenesis:
		return nil, refuse(e, "kind", "a genesis entry is only ever at index 0")
	case specs.KindRegistryChange:
	default:
		return reg, nil
	}
	var c Change
	if err := json.Unmarshal(e.Body, &c); err != nil {
		return nil, refuse(e, "body", "%v", err)
	}
	next, err := Clone(reg)
	if err != nil {
		return nil, refuse(e, "body", "%v", err)
	}
	agency := func() (*specs.Agency, error) {
		a := next.Agency(c.AgencyID)
		if a == nil || c.AgencyID == specs.RootAgency {
			return nil, refuse(e, "body.agency_id", "agency %q is not in the registry", c.AgencyID)
		}
		if a.RetiredBy != "" {
			return nil, refuse(e, "body.agency_id", "agency %s was retired by registry entry %s", a.ID, a.RetiredBy)
		}
		return a, nil
	}
	newKey := func(a *specs.Agency) error {
		for _, x := range next.Agencies {
			if x.Key(c.Key.ID) != nil {
				return refuse(e, "body.key.key_id", "key %s is already registered (agency %s); a key is never registered twice", c.Key.ID, x.ID)
			}
		}
		c.Key.ValidFrom = c.ValidFrom
		a.Keys = append(a.Keys, c.Key)
		return nil
	}
	switch c.Change {
	case AgencyAdded:
		a := c.Agency
		if next.Agency(a.ID) != nil {
			return nil, refuse(e, "body.agency.id", "agency %s is already registered; an agency id is never reused, even once retired", a.ID)
		}
		if a.RetiredBy != "" {
			return nil, refuse(e, "body.agency.retired_by", "set by an agency.retired entry, never given")
		}
		for i, k := range a.Keys {
			if k.ValidFrom != "" || k.RevokedBy != "" {
				return nil, refuse(e, fmt.Sprintf("body.agency.keys[%d]", i), "valid_from and revoked_by are set by the log, never given: the change's valid_from applies to every key")
			}
			for _, x := range next.Agencies {
				if x.Key(k.ID) != nil {
					return nil, refuse(e, fmt.Sprintf("body.agency.keys[%d].key_id", i), "key %s is already registered (agency %s)", k.ID, x.ID)
				}
			}
			k.ValidFrom = c.ValidFrom
		}
		next.Agencies = append(next.Agencies, a)
	case AgencyRetired:
		a, err := agency()
		if err != nil {
			return nil, err
		}
		a.RetiredBy = e.ID
	case KeyAdded:
		a, err := agency()
		if err != nil {
			return nil, err
		}
		if err := newKey(a); err != nil {
			return nil, err
		}
	case KeyRotated, KeyRevoked:
		a, err := agency()
		if err != nil {
			return nil, err
		}
		old, field := c.KeyID, "body.key_id"
		if c.Change == KeyRotated {
			old, field = c.Replaces, "body.replaces"
		}
		k := a.Key(old)
		if k == nil {
			return nil, refuse(e, field, "key %s is not registered for agency %s", old, a.ID)
		}
		if k.RevokedBy != "" {
			return nil, refuse(e, field, "key %s of agency %s was already revoked by registry entry %s", old, a.ID, k.RevokedBy)
		}
		if c.Change == KeyRotated {
			if err := newKey(a); err != nil {
				return nil, err
			}
		}
		// A revocation is never back-dated: it takes effect from this
		// entry's position in the log (specs/registry.md).
		k.RevokedBy = e.ID
	case MemberAdded:
		from, err := time.Parse(time.RFC3339, c.ValidFrom)
		if err != nil {
			return nil, refuse(e, "body.valid_from", "%v", err)
		}
		if err := next.AddRecipient(c.Member.ID, c.Member.Name, c.Member.Recipient, from); err != nil {
			return nil, refuse(e, "body.member", "%v", err)
		}
	case PolicySet:
		next.WitnessPolicy = &specs.PolicySetting{Policy: c.Policy, ValidFrom: c.ValidFrom, SetBy: e.ID}
	case RulesAdopted:
		next.Rules = &specs.RulesSetting{Version: c.Version, Digest: c.Digest, ValidFrom: c.ValidFrom, AdoptedBy: e.ID}
	default:
		return nil, refuse(e, "body.change", "unknown change %q", c.Change)
	}
	if next, err = Clone(next); err != nil {
		return nil, refuse(e, "body", "%v", err)
	}
	return next, nil
}

// Draft is a registry entry before it is signed: what `acdledger registry
// add-agency` and the others print, and `init` signs for the genesis.
func Draft(id string, kind string, seq uint64, occurred time.Time, body any) ([]byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	e := map[string]any{
		"id": id, "kind": kind, "schema": specs.EntrySchemaVersion, "agency": specs.RootAgency,
		"seq": seq, "occurred_at": occurred.Format(time.RFC3339), "case": "registry",
		// The commission acts under the Act's oversight chapter; the
		// article is to be confirmed like every other (specs/entries.md).
		"legal_basis": map[string]string{"law": "acd-act", "article": "63"},
		"refs":        []string{}, "body": json.RawMessage(b),
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return specs.CanonicalEntry(raw)
}

// GenesisDraft is the unsigned genesis entry of a new log.
func GenesisDraft(id string, occurred time.Time, origin, logKey string, root crypto.PublicKey, reg *specs.Registry) ([]byte, error) {
	k, err := KeyOf(root)
	if err != nil {
		return nil, err
	}
	regRaw, err := json.Marshal(reg)
	if err != nil {
		return nil, err
	}
	return Draft(id, specs.KindGenesis, 1, occurred, Genesis{Origin: origin, LogKey: logKey, RootKeys: []*specs.Key{k}, Registry: regRaw})
}

// KeyOf is a public key as the registry lists it.
func KeyOf(pub crypto.PublicKey) (*specs.Key, error) {
	id, err := specs.KeyID(pub)
	if err != nil {
		return nil, err
	}
	pemKey, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, err
	}
	return &specs.Key{ID: id, PublicKey: string(pemKey)}, nil
}
