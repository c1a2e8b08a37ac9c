package specs

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/gowebpki/jcs"
)

// Sealed entries (specs/sealed.md): a kind's operationally secret fields
// never travel in clear. The log holds, per sealed field, a salted
// commitment, plus one age-encrypted box with every value and its salt,
// encrypted to the commission's members and the appending agency.

// SaltSize is the size in bytes of every commitment's random salt.
const SaltSize = 32

// BoxVersion is the value of a box's "sealed" field.
const BoxVersion = 1

// SealedFields returns, per kind, the fields it may seal (the commitments its
// sealed_* definition in entry.schema.json allows), sorted.
//
// Read from the schema on first use, not at package init.
func SealedFields() map[string][]string { return sealedFields() }

var sealedFields = sync.OnceValue(sealedFieldsFromSchema)

// Sealed is an entry's sealed part as it stands in the log.
type Sealed struct {
	Commitments map[string]string `json:"commitments"`
	To          []string          `json:"to"`
	Box         string            `json:"box"` // standard base64 of a binary age file
}

// Box is what the age-encrypted box holds: the entry it belongs to and,
// per sealed field, its value and salt. Binding the entry id in the box
// means a box moved to another entry is detected when it is opened.
type Box struct {
	Version int                  `json:"sealed"`
	Entry   string               `json:"entry"`
	Fields  map[string]*BoxField `json:"fields"`
}

// BoxField is one sealed value with the salt of its commitment.
type BoxField struct {
	Salt  []byte          `json:"salt"` // SaltSize bytes, standard base64 in JSON
	Value json.RawMessage `json:"value"`
}

// SealedPart decodes the entry's sealed part, or returns nil if the entry
// has none. The schema has already checked its shape.
func (e *Entry) SealedPart() *Sealed {
	if len(e.Sealed) == 0 {
		return nil
	}
	s, ok := sealedFromDoc(e.doc)
	if !ok {
		s = &Sealed{}
		if err := json.Unmarshal(e.Sealed, s); err != nil {
			return nil
		}
	}
	if s.Box == "" {
		return nil
	}
	return s
}

// sealedFromDoc takes the sealed part from the entry's strict reading
// instead of decoding its bytes again (a box is kilobytes of base64;
// issue 12: each payload decoded once). It answers only where
// json.Unmarshal into Sealed would give the same: the members named
// exactly, each of its Go type or null; otherwise ok is false and the
// caller decodes the bytes as before.
func sealedFromDoc(doc any) (s *Sealed, ok bool) {
	m, _ := doc.(map[string]any)
	sm, _ := m["sealed"].(map[string]any)
	if sm == nil {
		return nil, false
	}
	s = &Sealed{}
	for k, v := range sm {
		switch k {
		case "box":
			if s.Box, ok = v.(string); !ok && v != nil {
				return nil, false
			}
		case "to":
			if v == nil {
				continue
			}
			a, isArray := v.([]any)
			if !isArray {
				return nil, false
			}
			s.To = make([]string, len(a))
			for i, x := range a {
				if s.To[i], ok = x.(string); !ok {
					return nil, false
				}
			}
		case "commitments":
			if v == nil {
				continue
			}
			o, isObject := v.(map[string]any)
			if !isObject {
				return nil, false
			}
			s.Commitments = make(map[string]string, len(o))
			for name, x := range o {
				if s.Commitments[name], ok = x.(string); !ok {
					return nil, false
				}
			}
		default:
			return nil, false // a name json.Unmarshal may match in another case, or ignore
		}
	}
	return s, true
}

// Commit is the commitment to one sealed value: "sha256:" and the hex
// SHA-256 of the salt followed by the value's RFC 8785 canonical JSON.
// Canonical JSON makes the commitment a property of the value, not of how
// one encoder happened to write it.
func Commit(salt []byte, value json.RawMessage) (string, error) {
	if len(salt) != SaltSize {
		return "", fmt.Errorf("salt is %d bytes; it must be %d", len(salt), SaltSize)
	}
	canon, err := jcs.Transform(value)
	if err != nil {
		return "", fmt.Errorf("value is not JSON: %w", err)
	}
	h := sha256.New()
	h.Write(salt)
	h.Write(canon)
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// CheckSealedValues checks clear sealed values of a kind: only fields the
// kind may seal, each of the type entry.schema.json gives it. field is the
// prefix errors name the fields with ("sealed" in a draft, "box.fields" in
// an opened box).
func CheckSealedValues(id, kind, prefix string, values map[string]json.RawMessage) error {
	allowed := SealedFields()[kind]
	doc := map[string]any{}
	for _, name := range sortedKeys(values) {
		if !slices.Contains(allowed, name) {
			return violation(id, prefix+"."+name, RuleSealedField, "kind %s has no sealed field %s (it may seal: %s)", kind, name, strings.Join(allowed, ", "))
		}
		v, err := decodeValue(values[name])
		if err != nil {
			return violation(id, prefix+"."+name, RuleSealedField, "value is not JSON: %v", err)
		}
		doc[name] = v
	}
	if err := sealedValuesSchema().Validate(doc); err != nil {
		v := schemaViolation(id, err)
		v.Field, v.Rule = prefix+"."+v.Field, RuleSealedField
		return v
	}
	return nil
}

// decodeValue decodes one clear sealed value for its schema check: as JSON
// with numbers kept exact, one value and nothing after it. (Sealed values
// come from an agency's draft or an opened box, not the strict reader:
// their rule is sealed.field, and every one of them must be a string or a
// list of strings anyway.)
func decodeValue(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return v, nil
}

// ParseBox decodes a decrypted box strictly: known fields only, the box
// version, a salt of the right size for every field.
func ParseBox(data []byte) (*Box, error) {
	b := &Box{}
	if err := decodeStrict(data, b); err != nil {
		return nil, fmt.Errorf("box: %w", err)
	}
	if b.Version != BoxVersion {
		return nil, fmt.Errorf("box: version %d, want %d", b.Version, BoxVersion)
	}
	if b.Entry == "" || len(b.Fields) == 0 {
		return nil, fmt.Errorf("box: entry and fields are required")
	}
	for name, f := range b.Fields {
		if f == nil || len(f.Salt) != SaltSize || len(f.Value) == 0 {
			return nil, fmt.Errorf("box: field %s: needs a %d-byte salt and a value", name, SaltSize)
		}
	}
	return b, nil
}

// CheckBox checks an opened box against the entry it was taken from: it
// names this entry, holds exactly the committed fields with values of the
// right type, and every value with its salt gives the commitment the agency
// signed. A failure is a *Violation naming the field: the agency sealed
// something other than what it committed to.
func (e *Entry) CheckBox(b *Box) error {
	s := e.SealedPart()
	if s == nil {
		return violation(e.ID, "sealed", RuleSealedCommitment, "the entry has no sealed part")
	}
	if b.Entry != e.ID {
		return violation(e.ID, "box.entry", RuleSealedCommitment, "the box belongs to entry %q, not to this one", b.Entry)
	}
	values := map[string]json.RawMessage{}
	for name, f := range b.Fields {
		values[name] = f.Value
	}
	if err := CheckSealedValues(e.ID, e.Kind, "box.fields", values); err != nil {
		return err
	}
	for _, name := range sortedKeys(s.Commitments) {
		f := b.Fields[name]
		if f == nil {
			return violation(e.ID, "sealed.commitments."+name, RuleSealedCommitment, "the box holds no value for committed field %s", name)
		}
		got, err := Commit(f.Salt, f.Value)
		if err != nil {
			return violation(e.ID, "box.fields."+name, RuleSealedCommitment, "%v", err)
		}
		if got != s.Commitments[name] {
			return violation(e.ID, "sealed.commitments."+name, RuleSealedCommitment, "the box's value and salt give %s, the entry commits to %s", got, s.Commitments[name])
		}
	}
	for _, name := range sortedKeys(b.Fields) {
		if _, ok := s.Commitments[name]; !ok {
			return violation(e.ID, "box.fields."+name, RuleSealedCommitment, "the box holds field %s, which the entry does not commit to", name)
		}
	}
	return nil
}

// checkSealedShape runs before the schema, so that the two mistakes an
// agency is likely to make get their own rule rather than a generic schema
// message: appending a draft whose sealed values are still in clear, and
// putting a sealed field in the public body.
func checkSealedShape(id string, doc any) error {
	m, _ := doc.(map[string]any)
	kind, _ := m["kind"].(string)
	if sealed, ok := m["sealed"].(map[string]any); ok {
		if _, sealedForm := sealed["box"]; !sealedForm {
			for _, name := range sortedKeys(sealed) {
				if name != "commitments" && name != "to" {
					return violation(id, "sealed."+name, RuleSealedPlaintext, "sealed field %s is in clear; seal the entry before signing (acdledger sign --registry …)", name)
				}
			}
		}
	}
	body, _ := m["body"].(map[string]any)
	for _, name := range SealedFields()[kind] {
		if _, ok := body[name]; ok {
			return violation(id, "body."+name, RuleSealedInPublic, "%s is a sealed field of %s; it may not appear in the public body", name, kind)
		}
	}
	return nil
}

// checkSealed is the admission rule for an entry's sealed part (rules
// sealed.recipients and sealed.box): the box is encrypted to exactly the
// recipients the registry requires at occurred_at — every commission member
// then valid, and the agency itself if it registered a recipient — no
// more (nobody else may read it) and no fewer (the commission must be able
// to open everything), and the box is an age file with one X25519 stanza
// per recipient listed. Which stanza belongs to whom cannot be seen
// without the keys; a member who cannot open an entry listed to it reports
// that as misconduct (acdledger open).
func (reg *Registry) checkSealed(e *Entry) error {
	s := e.SealedPart()
	if s == nil {
		return nil
	}
	// Either the members valid at occurred_at or those in force where the
	// entry is logged (specs/sealed.md, "Past events"): both can open it,
	// and an agency can always seal what it must record.
	got := slices.Sorted(slices.Values(s.To))
	want, err := reg.SealTo(e.Agency, e.Occurred())
	ids := targetIDs(want)
	if err == nil && slices.Equal(got, ids) {
		err = nil
	} else if cur, cerr := reg.SealToCurrent(e.Agency); cerr == nil && slices.Equal(got, targetIDs(cur)) {
		err = nil
	} else if err != nil {
		return violation(e.ID, "sealed.to", RuleSealedRecipients, "%v; nor is it sealed to the members in force now [%s]", err, strings.Join(targetIDs(cur), " "))
	} else {
		return violation(e.ID, "sealed.to", RuleSealedRecipients, "sealed to [%s]; at %s the registry requires exactly [%s] (or the members in force now, [%s])", strings.Join(s.To, " "), e.OccurredAt, strings.Join(ids, " "), strings.Join(targetIDs(cur), " "))
	}
	box, err := base64.StdEncoding.DecodeString(s.Box)
	if err != nil {
		return violation(e.ID, "sealed.box", RuleSealedBox, "not standard base64: %v", err)
	}
	n, err := CountAgeStanzas(box)
	if err != nil {
		return violation(e.ID, "sealed.box", RuleSealedBox, "%v", err)
	}
	if n != len(s.To) {
		return violation(e.ID, "sealed.box", RuleSealedBox, "the box has %d X25519 recipient stanzas; sealed.to lists %d", n, len(s.To))
	}
	return nil
}

func targetIDs(ts []SealTarget) []string {
	var ids []string
	for _, r := range ts {
		ids = append(ids, r.ID)
	}
	return slices.Sorted(slices.Values(ids))
}

// CountAgeStanzas reads the text header of a binary age file (C2SP age:
// "age-encryption.org/v1", stanzas "-> type args" with wrapped base64
// bodies, then the "---" MAC line) and counts its X25519 stanzas. Any
// other stanza type is refused: the ledger seals to X25519 recipients only,
// so a passphrase (scrypt) or plugin stanza would be a way to let someone
// outside the registry read the box.
func CountAgeStanzas(file []byte) (int, error) {
	r := bufio.NewReader(bytes.NewReader(file))
	line, err := r.ReadString('\n')
	if err != nil || line != "age-encryption.org/v1\n" {
		return 0, fmt.Errorf("not an age v1 file")
	}
	n := 0
	for lines := 0; lines < 4096; lines++ {
		line, err := r.ReadString('\n')
		if err != nil {
			return 0, fmt.Errorf("age header: truncated")
		}
		switch {
		case strings.HasPrefix(line, "---"):
			return n, nil
		case strings.HasPrefix(line, "-> "):
			args := strings.Fields(line[3:])
			if len(args) == 0 || args[0] != "X25519" {
				return 0, fmt.Errorf("age header: stanza %q: only X25519 recipients are allowed", strings.TrimSpace(line))
			}
			n++
		}
	}
	return 0, fmt.Errorf("age header: too long")
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

func sealedFieldsFromSchema() map[string][]string {
	out := map[string][]string{}
	for kind, def := range kindDefs("sealed") {
		var d struct {
			Properties struct {
				Commitments struct {
					Properties map[string]json.RawMessage `json:"properties"`
				} `json:"commitments"`
			} `json:"properties"`
		}
		if err := json.Unmarshal(def, &d); err != nil {
			panic(err)
		}
		out[kind] = sortedKeys(d.Properties.Commitments.Properties)
	}
	return out
}
