package specs

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Envelope is a decoded DSSE envelope as acdledger stores it: one signature,
// by one agency key, over the entry payload. Raw is the exact leaf bytes.
type Envelope struct {
	Raw     []byte
	Payload []byte
	KeyID   string
	Sig     []byte
}

// ParseEnvelope decodes a DSSE envelope strictly: known fields only, the
// acdledger payload type, exactly one signature with a key id, standard
// base64. A failure is a *Violation with rule "envelope.format".
func ParseEnvelope(raw []byte) (*Envelope, error) {
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, violation("", "envelope", RuleEnvelope, "not a DSSE envelope: %v", err)
	}
	if dec.More() {
		return nil, violation("", "envelope", RuleEnvelope, "trailing data after the DSSE envelope")
	}
	if env.PayloadType != PayloadType {
		return nil, violation("", "payloadType", RuleEnvelope, "payload type %q, want %q", env.PayloadType, PayloadType)
	}
	if len(env.Signatures) != 1 {
		return nil, violation("", "signatures", RuleEnvelope, "%d signatures; an entry carries exactly one, by its agency", len(env.Signatures))
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, violation("", "payload", RuleEnvelope, "payload is not standard base64: %v", err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil || len(sig) == 0 {
		return nil, violation("", "signatures[0].sig", RuleEnvelope, "signature is empty or not standard base64")
	}
	if env.Signatures[0].KeyID == "" {
		return nil, violation("", "signatures[0].keyid", RuleEnvelope, "signature has no keyid")
	}
	return &Envelope{Raw: raw, Payload: payload, KeyID: env.Signatures[0].KeyID, Sig: sig}, nil
}

// PAE is the DSSE pre-authentication encoding the agency signs.
func (e *Envelope) PAE() []byte { return dsse.PAE(PayloadType, e.Payload) }

// verify checks the envelope's signature with the agency's registered key.
func (e *Envelope) verify(entryID string, k *Key) error {
	if err := k.verifier.VerifySignature(bytes.NewReader(e.Sig), bytes.NewReader(e.PAE())); err != nil {
		return violation(entryID, "signatures[0].sig", RuleSignature, "signature does not verify with key %s: %v", k.ID, err)
	}
	return nil
}

// EnvelopeJSON builds the envelope bytes for a payload and its signature.
// Signing itself is the agency's business (ledger/agencykey); this only
// fixes the byte layout every signer produces.
func EnvelopeJSON(payload []byte, keyID string, sig []byte) ([]byte, error) {
	out, err := json.Marshal(dsse.Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{KeyID: keyID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding envelope: %w", err)
	}
	return out, nil
}

// Header is the part of an entry that identifies it: id, agency, seq, and
// what a reference to it is checked against (rule refs.kind): kind, case.
type Header struct {
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Agency string `json:"agency"`
	Case   string `json:"case"`
	Seq    uint64 `json:"seq"`
}

// PeekHeader reads the header of the entry inside an envelope without
// checking anything else. It is for entries already in a log: a writer
// restoring its state from its own log, an auditor keeping its count after
// a leaf that broke a rule.
func PeekHeader(raw []byte) (*Header, error) {
	env, err := ParseEnvelope(raw)
	if err != nil {
		return nil, err
	}
	var h Header
	if err := json.Unmarshal(env.Payload, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
