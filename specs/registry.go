package specs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// Registry is the agency registry (specs/registry.md): who may append, with
// which keys, which kinds. Its JSON form is specs/registry.schema.json.
type Registry struct {
	Version    int          `json:"registry"`
	Agencies   []*Agency    `json:"agencies"`
	Recipients []*Recipient `json:"recipients,omitempty"`

	// What registry entries of the log (specs/registry.md) add: the
	// commission root keys that sign them, the witness policy and the
	// rules configuration in force. A registry file given to init has
	// none of them; the genesis entry adds the root keys.
	RootKeys      []*Key         `json:"root_keys,omitempty"`
	WitnessPolicy *PolicySetting `json:"witness_policy,omitempty"`
	Rules         *RulesSetting  `json:"rules,omitempty"`

	byID map[string]*Agency
	root *Agency // the pseudo-agency RootAgency, holding RootKeys
}

// PolicySetting is the witness policy (specs/witnesses.md) the commission
// set by a policy.set entry, in force for checkpoints from ValidFrom on.
type PolicySetting struct {
	Policy    string `json:"policy"`
	ValidFrom string `json:"valid_from"`
	SetBy     string `json:"set_by"` // the registry entry's id
}

// RulesSetting is the rules configuration the commission adopted by a
// rules.adopted entry: audits and reports name Version and check Digest
// (rules.Config.Digest) of the configuration they ran.
type RulesSetting struct {
	Version   string `json:"version"`
	Digest    string `json:"digest"`
	ValidFrom string `json:"valid_from"`
	AdoptedBy string `json:"adopted_by"`
}

// Agency is one registered appender.
type Agency struct {
	ID    string   `json:"id"`
	Name  string   `json:"name"`
	Role  string   `json:"role"`
	Kinds []string `json:"kinds"`
	Keys  []*Key   `json:"keys"`
	// Recipient is the agency's own age X25519 recipient: entries it seals
	// are also encrypted to it, so it can read back what it appended.
	Recipient string `json:"recipient,omitempty"`
	// RetiredBy is the id of the registry entry that retired the agency:
	// entries of it logged after that one are refused (agency.unknown).
	RetiredBy string `json:"retired_by,omitempty"`

	kinds map[string]bool
	keys  map[string]*Key
}

// Recipient is one commission member's age X25519 recipient, valid for
// entries that occurred in [ValidFrom, ValidUntil). A member who rotates
// keys gets a new recipient; the old one stays, closed by ValidUntil, so
// old entries keep naming a recipient the registry knows.
type Recipient struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Recipient  string `json:"recipient"`
	ValidFrom  string `json:"valid_from"`
	ValidUntil string `json:"valid_until,omitempty"`

	from, until time.Time
}

// ValidAt reports whether the recipient is to be sealed to for an entry
// that occurred at t.
func (r *Recipient) ValidAt(t time.Time) bool {
	return !t.Before(r.from) && (r.until.IsZero() || t.Before(r.until))
}

// SealTarget is one recipient an entry must be sealed to.
type SealTarget struct {
	ID        string // a commission recipient id, or the agency's id
	Recipient string // age1…
}

// SealTo lists who an entry of that agency, occurred at t, must be sealed
// to: every commission recipient valid at t, then the agency itself if it
// registered a recipient. Without any commission recipient the commission
// could not open the entry, so that is an error.
func (r *Registry) SealTo(agency string, t time.Time) ([]SealTarget, error) {
	var out []SealTarget
	for _, rc := range r.Recipients {
		if rc.ValidAt(t) {
			out = append(out, SealTarget{rc.ID, rc.Recipient})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no commission recipient in the registry is valid at %s, so nobody could open a sealed entry", t.Format(time.RFC3339))
	}
	if a := r.Agency(agency); a != nil && a.Recipient != "" {
		out = append(out, SealTarget{a.ID, a.Recipient})
	}
	return out, nil
}

// SealToCurrent lists who an entry of that agency may be sealed to when
// its occurred_at predates every member key (specs/sealed.md, "Past
// events"): the members' current recipients, those with no valid_until in
// the registry in force where the entry is logged, then the agency.
func (r *Registry) SealToCurrent(agency string) ([]SealTarget, error) {
	var out []SealTarget
	for _, rc := range r.Recipients {
		if rc.ValidUntil == "" {
			out = append(out, SealTarget{rc.ID, rc.Recipient})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no commission recipient in the registry is in force, so nobody could open a sealed entry")
	}
	if a := r.Agency(agency); a != nil && a.Recipient != "" {
		out = append(out, SealTarget{a.ID, a.Recipient})
	}
	return out, nil
}

// SealFor is who an agency's tool seals an entry that occurred at t to:
// the recipients valid at t (SealTo) or, when none was valid then (an
// event before any member key, e.g. this morning's before today's key), the
// current ones (SealToCurrent). Admission accepts either set.
func (r *Registry) SealFor(agency string, t time.Time) ([]SealTarget, error) {
	out, err := r.SealTo(agency, t)
	if err == nil {
		return out, nil
	}
	if cur, cerr := r.SealToCurrent(agency); cerr == nil {
		return cur, nil
	}
	return nil, err
}

// AddRecipient registers a commission member's recipient from validFrom
// on. If the member already has an open recipient, that one is closed at
// validFrom: a key rotation.
func (r *Registry) AddRecipient(id, name, recipient string, validFrom time.Time) error {
	if r.Version == 0 {
		r.Version = 1
	}
	if err := r.index(); err != nil {
		return err
	}
	// A recipient of the member that would only start at or after the new
	// one is superseded (a rotation back-dated before the key it replaces,
	// e.g. to the start of the member's term): it is dropped from the
	// registry from now on. Entries already logged keep their verdict, judged
	// against the registry in force at their own position in the log.
	kept := r.Recipients[:0]
	for _, rc := range r.Recipients {
		if rc.ID == id && !rc.from.Before(validFrom) {
			continue
		}
		if rc.ID == id && (rc.until.IsZero() || rc.until.After(validFrom)) {
			rc.ValidUntil = validFrom.Format(time.RFC3339)
		}
		kept = append(kept, rc)
	}
	r.Recipients = append(kept, &Recipient{ID: id, Name: name, Recipient: recipient, ValidFrom: validFrom.Format(time.RFC3339)})
	return r.index()
}

// SetAgencyRecipient registers the agency's own age recipient.
func (r *Registry) SetAgencyRecipient(agency, recipient string) error {
	a := r.Agency(agency)
	if a == nil {
		return fmt.Errorf("registry: agency %s is not registered", agency)
	}
	a.Recipient = recipient
	return r.index()
}

// Key is one of an agency's public keys.
type Key struct {
	ID        string `json:"key_id"`
	PublicKey string `json:"public_key"` // PEM, SubjectPublicKeyInfo
	// ValidFrom, when set, is the start of the key's validity as the
	// registry entry that added it declares it (it may be back-dated). It
	// is for the record and for "registry show --at": admission judges a
	// key by its position in the log (added before, not revoked before),
	// not by occurred_at, so that an agency can record this morning's event
	// with the key it got at noon.
	ValidFrom string `json:"valid_from,omitempty"`
	// RevokedBy is the id of the registry entry that revoked or replaced
	// the key: entries signed by it and logged after that one are refused
	// (key.unknown). Those logged before still verify.
	RevokedBy string `json:"revoked_by,omitempty"`

	verifier signature.Verifier
	// ed is the key itself when it is Ed25519 (every agency key so far):
	// verify calls crypto/ed25519 on the PAE directly, which is what the
	// sigstore verifier does after copying the message and signature out
	// of readers (two copies of every payload, issue 12's audit profile).
	ed   ed25519.PublicKey
	from time.Time
}

// ParseRegistry reads and checks a registry: schema, known kinds, commission
// kinds only for the commission, key ids that match their keys, and keys of
// an accepted algorithm (Ed25519 or ECDSA P-256).
func ParseRegistry(data []byte) (*Registry, error) {
	// The strict reader (specs/strict.md): an agency listed with two
	// "kinds" members, say, must not mean one thing here and another to
	// an auditor's own tool.
	doc, err := readStrict(data)
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := registrySchema().Validate(doc); err != nil {
		return nil, fmt.Errorf("registry: field %s: %s", fieldPath(err.Path), err.Message)
	}
	r := &Registry{}
	if err := json.Unmarshal(data, r); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	if err := r.index(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) index() error {
	known := map[string]bool{}
	for _, k := range Kinds {
		known[k] = true
	}
	r.byID = map[string]*Agency{}
	for _, a := range r.Agencies {
		if r.byID[a.ID] != nil {
			return fmt.Errorf("registry: agency %s is listed twice", a.ID)
		}
		if a.ID == RootAgency {
			return fmt.Errorf("registry: agency id %s is reserved to the commission root key (specs/registry.md)", RootAgency)
		}
		r.byID[a.ID] = a
		a.kinds = map[string]bool{}
		for _, k := range a.Kinds {
			if !known[k] {
				return fmt.Errorf("registry: agency %s: unknown kind %q", a.ID, k)
			}
			if RootKinds[k] {
				return fmt.Errorf("registry: agency %s: kind %s is appended only by the commission root key", a.ID, k)
			}
			if CommissionKinds[k] && a.Role != "commission" {
				return fmt.Errorf("registry: agency %s: kind %s is reserved to the commission", a.ID, k)
			}
			a.kinds[k] = true
		}
		var err error
		if a.keys, err = indexKeys("agency "+a.ID, a.Keys); err != nil {
			return err
		}
	}
	r.root = nil
	if len(r.RootKeys) > 0 {
		r.root = &Agency{ID: RootAgency, Name: "Commission root key", Role: "root", Keys: r.RootKeys,
			kinds: map[string]bool{KindGenesis: true, KindRegistryChange: true}}
		var err error
		if r.root.keys, err = indexKeys("root", r.RootKeys); err != nil {
			return err
		}
		for _, k := range r.RootKeys {
			if pub, _ := cryptoutils.UnmarshalPEMToPublicKey([]byte(k.PublicKey)); pub != nil {
				if _, ok := pub.(ed25519.PublicKey); !ok {
					return fmt.Errorf("registry: root key %s: a commission root key must be Ed25519", k.ID)
				}
			}
		}
	}
	for _, a := range r.Agencies {
		if a.Recipient != "" {
			if _, err := age.ParseX25519Recipient(a.Recipient); err != nil {
				return fmt.Errorf("registry: agency %s: recipient: %w", a.ID, err)
			}
		}
	}
	seen := map[string]bool{}
	for _, rc := range r.Recipients {
		if r.byID[rc.ID] != nil {
			return fmt.Errorf("registry: recipient id %s is also an agency id; sealed.to could not tell them apart", rc.ID)
		}
		if _, err := age.ParseX25519Recipient(rc.Recipient); err != nil {
			return fmt.Errorf("registry: recipient %s: %w", rc.ID, err)
		}
		if seen[rc.Recipient] {
			return fmt.Errorf("registry: recipient %s: %s is listed twice", rc.ID, rc.Recipient)
		}
		seen[rc.Recipient] = true
		var err error
		if rc.from, err = time.Parse(time.RFC3339, rc.ValidFrom); err != nil {
			return fmt.Errorf("registry: recipient %s: valid_from: %w", rc.ID, err)
		}
		if rc.ValidUntil != "" {
			if rc.until, err = time.Parse(time.RFC3339, rc.ValidUntil); err != nil {
				return fmt.Errorf("registry: recipient %s: valid_until: %w", rc.ID, err)
			}
			if !rc.until.After(rc.from) {
				return fmt.Errorf("registry: recipient %s: valid_until is not after valid_from", rc.ID)
			}
		}
	}
	return nil
}

// indexKeys checks each key (its id matches its public key, an accepted
// algorithm, a valid_from that is a time) and maps them by id.
func indexKeys(owner string, keys []*Key) (map[string]*Key, error) {
	out := map[string]*Key{}
	for _, k := range keys {
		pub, err := cryptoutils.UnmarshalPEMToPublicKey([]byte(k.PublicKey))
		if err != nil {
			return nil, fmt.Errorf("registry: %s: key %s: %w", owner, k.ID, err)
		}
		id, err := KeyID(pub)
		if err != nil {
			return nil, fmt.Errorf("registry: %s: key %s: %w", owner, k.ID, err)
		}
		if id != k.ID {
			return nil, fmt.Errorf("registry: %s: key_id %s does not match its public key (which has key id %s)", owner, k.ID, id)
		}
		if out[k.ID] != nil {
			return nil, fmt.Errorf("registry: %s: key %s is listed twice", owner, k.ID)
		}
		if k.verifier, err = signature.LoadVerifier(pub, crypto.SHA256); err != nil {
			return nil, fmt.Errorf("registry: %s: key %s: %w", owner, k.ID, err)
		}
		k.ed, _ = pub.(ed25519.PublicKey)
		k.from = time.Time{}
		if k.ValidFrom != "" {
			if k.from, err = time.Parse(time.RFC3339, k.ValidFrom); err != nil {
				return nil, fmt.Errorf("registry: %s: key %s: valid_from: %w", owner, k.ID, err)
			}
		}
		out[k.ID] = k
	}
	return out, nil
}

// Agency returns the registered agency with that id, or nil.
func (r *Registry) Agency(id string) *Agency {
	if id == RootAgency {
		return r.root
	}
	return r.byID[id]
}

// MayAppend reports whether the agency may append entries of that kind.
func (a *Agency) MayAppend(kind string) bool { return a.kinds[kind] }

// Key returns the agency's key with that key id, or nil.
func (a *Agency) Key(id string) *Key { return a.keys[id] }

// Verifier returns the signature verifier for the key.
func (k *Key) Verifier() signature.Verifier { return k.verifier }

// Add registers a public key for an agency, creating the agency if needed,
// and returns the key id. Used by tools that build registries; the result is
// re-checked by Marshal.
func (r *Registry) Add(agency, name, role string, kinds []string, pub crypto.PublicKey) (string, error) {
	id, err := KeyID(pub)
	if err != nil {
		return "", err
	}
	pemKey, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return "", err
	}
	if r.Version == 0 {
		r.Version = 1
	}
	var a *Agency
	for _, x := range r.Agencies {
		if x.ID == agency {
			a = x
		}
	}
	if a == nil {
		a = &Agency{ID: agency, Name: name, Role: role, Kinds: kinds}
		r.Agencies = append(r.Agencies, a)
	}
	for _, k := range a.Keys {
		if k.ID == id {
			return id, nil
		}
	}
	a.Keys = append(a.Keys, &Key{ID: id, PublicKey: string(pemKey)})
	return id, r.index()
}

// Marshal renders the registry as indented JSON and checks that it parses
// back, so a tool can never write a registry that auditors would reject.
func (r *Registry) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	out = append(out, '\n')
	if _, err := ParseRegistry(out); err != nil {
		return nil, err
	}
	return out, nil
}

// KeyID is the id of a public key: lowercase hex SHA-256 of its DER
// SubjectPublicKeyInfo. Only Ed25519 and ECDSA P-256 keys are accepted.
func KeyID(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case ed25519.PublicKey:
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("ECDSA key on %s: only P-256 is accepted", k.Curve.Params().Name)
		}
	default:
		return "", fmt.Errorf("key type %T: only Ed25519 and ECDSA P-256 are accepted", pub)
	}
	der, err := cryptoutils.MarshalPublicKeyToDER(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
