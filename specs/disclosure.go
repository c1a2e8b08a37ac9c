package specs

import (
	"encoding/json"
	"fmt"
)

// DisclosureVersion is the value of a disclosure's "disclosure" field.
const DisclosureVersion = 1

// MaxDisclosureSize bounds a disclosure file: one sealed value (at most a
// few KiB), its salt and a receipt (an envelope of at most
// MaxEnvelopeSize bytes, under 64 KiB in base64, a 63-hash path and a
// checkpoint).
const MaxDisclosureSize = 256 << 10

// Disclosure shows one sealed field of one log entry to someone without a
// commission key (specs/sealed.md): the value and its salt, which hash to
// the commitment the agency signed, and the entry's receipt, which proves
// the entry is in the log. Nothing else of the entry's sealed part is
// revealed.
type Disclosure struct {
	Version int             `json:"disclosure"`
	Index   uint64          `json:"index"`
	EntryID string          `json:"entry_id"`
	Field   string          `json:"field"`
	Value   json.RawMessage `json:"value"`
	Salt    []byte          `json:"salt"`  // SaltSize bytes, standard base64 in JSON
	Proof   string          `json:"proof"` // the entry's C2SP tlog-proof, envelope in its extra line
}

// ParseDisclosure reads a disclosure file strictly: known fields only,
// every field present, a salt of the right size. It checks the form only;
// whether the disclosure is true is the verifier's business.
func ParseDisclosure(data []byte) (*Disclosure, error) {
	if len(data) > MaxDisclosureSize {
		return nil, fmt.Errorf("disclosure: %d bytes; the limit is %d", len(data), MaxDisclosureSize)
	}
	d := &Disclosure{}
	if err := decodeStrict(data, d); err != nil {
		return nil, fmt.Errorf("disclosure: %w", err)
	}
	switch {
	case d.Version != DisclosureVersion:
		return nil, fmt.Errorf("disclosure: version %d, want %d", d.Version, DisclosureVersion)
	case d.EntryID == "" || d.Field == "" || len(d.Value) == 0 || d.Proof == "":
		return nil, fmt.Errorf("disclosure: entry_id, field, value and proof are required")
	case len(d.Salt) != SaltSize:
		return nil, fmt.Errorf("disclosure: salt is %d bytes; it must be %d", len(d.Salt), SaltSize)
	}
	return d, nil
}

// Marshal renders the disclosure as indented JSON, checked to parse back.
func (d *Disclosure) Marshal() ([]byte, error) {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	out = append(out, '\n')
	if _, err := ParseDisclosure(out); err != nil {
		return nil, err
	}
	return out, nil
}
