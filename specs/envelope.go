package specs

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Envelope is a decoded DSSE envelope as acdledger stores it: one signature,
// by one agency key, over the entry payload. Raw is the leaf: the
// envelope's canonical encoding (RFC 8785), whatever spacing or member
// order it was submitted with.
type Envelope struct {
	Raw     []byte
	Payload []byte
	KeyID   string
	Sig     []byte
}

// envelopeMembers and signatureMembers are the exact member names of an
// envelope and of its one signature: names are case-sensitive, and no
// other member is allowed.
var (
	envelopeMembers  = []string{"payload", "payloadType", "signatures"}
	signatureMembers = []string{"keyid", "sig"}
)

// ReadEnvelope reads a submitted DSSE envelope strictly (specs/admission.md,
// rule envelope.format): exactly the DSSE member names, in any order and
// spacing; the acdledger payload type; exactly one signature with a key id;
// canonical standard base64. Its Raw is the canonical re-encoding, the
// bytes a ledger stores. A failure is a *Violation with rule
// "envelope.format".
func ReadEnvelope(raw []byte) (*Envelope, error) {
	// Long strings (the payload, the signature) stay in raw as rawString:
	// they are decoded from base64 where they stand.
	sd, err := readStrictRaw(raw)
	if err != nil {
		se := err.(*StrictError)
		return nil, violation("", orEnvelope(se.Field), RuleEnvelope, "%s", se.Reason)
	}
	top, ok := sd.value.(map[string]any)
	if !ok {
		return nil, violation("", "envelope", RuleEnvelope, "not a DSSE envelope: the JSON value is not an object")
	}
	if err := exactMembers(top, "", envelopeMembers); err != nil {
		return nil, err
	}
	payloadType, ok := stringOf(top["payloadType"])
	if !ok || payloadType != PayloadType {
		return nil, violation("", "payloadType", RuleEnvelope, "payload type %s, want %q", describe(top["payloadType"]), PayloadType)
	}
	sigs, ok := top["signatures"].([]any)
	if !ok || len(sigs) != 1 {
		n := "not an array of"
		if ok {
			n = fmt.Sprint(len(sigs))
		}
		return nil, violation("", "signatures", RuleEnvelope, "%s signatures; an entry carries exactly one, by its agency", n)
	}
	sig0, ok := sigs[0].(map[string]any)
	if !ok {
		return nil, violation("", "signatures[0]", RuleEnvelope, "a signature is an object with keyid and sig")
	}
	if err := exactMembers(sig0, "signatures[0].", signatureMembers); err != nil {
		return nil, err
	}
	keyID, ok := stringOf(sig0["keyid"])
	if !ok || keyID == "" {
		return nil, violation("", "signatures[0].keyid", RuleEnvelope, "signature has no keyid")
	}
	payload, err := canonicalBase64(top["payload"])
	if err != nil {
		return nil, violation("", "payload", RuleEnvelope, "payload %v", err)
	}
	sig, err := canonicalBase64(sig0["sig"])
	if err != nil || len(sig) == 0 {
		if err == nil {
			err = fmt.Errorf("is empty")
		}
		return nil, violation("", "signatures[0].sig", RuleEnvelope, "signature %v", err)
	}
	// A leaf (and most submissions) is canonical already, which the strict
	// reader saw while reading: only other spellings are canonicalised.
	canon := bytes.Clone(raw)
	if !sd.canonical {
		if canon, err = canonicalize(raw); err != nil {
			return nil, violation("", "envelope", RuleEnvelope, "the envelope cannot be canonicalized: %v", err)
		}
	}
	return &Envelope{Raw: canon, Payload: payload, KeyID: keyID, Sig: sig}, nil
}

// ParseEnvelope reads an envelope as it stands in a log: ReadEnvelope,
// and the bytes must be the canonical encoding itself (rule
// envelope.canonical), so that a leaf carries no byte its agency did not
// sign but the envelope's fixed layout.
func ParseEnvelope(raw []byte) (*Envelope, error) {
	env, err := ReadEnvelope(raw)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(env.Raw, raw) {
		d, _ := canonicalDiff(raw)
		return nil, violation("", "envelope", RuleEnvelopeCanonical, "the leaf is not the envelope's canonical encoding (RFC 8785): %s", d)
	}
	return env, nil
}

func orEnvelope(field string) string {
	if field == "" {
		return "envelope"
	}
	return field
}

// exactMembers refuses an object whose member names are not exactly want:
// a name in another letter case, an unknown member or a missing one.
func exactMembers(m map[string]any, prefix string, want []string) error {
	for _, name := range sortedKeys(m) {
		if slices.Contains(want, name) {
			continue
		}
		for _, w := range want {
			if strings.EqualFold(w, name) {
				return violation("", prefix+name, RuleEnvelope, "unknown member %q: member names are case-sensitive, it must be %q", name, w)
			}
		}
		return violation("", prefix+name, RuleEnvelope, "unknown member %q; a DSSE envelope here has exactly %s", name, strings.Join(want, ", "))
	}
	for _, w := range want {
		if _, ok := m[w]; !ok {
			return violation("", prefix+w, RuleEnvelope, "member %q is missing", w)
		}
	}
	return nil
}

// canonicalBase64 decodes standard base64 that has exactly one spelling:
// padded, no line breaks or other characters, zero padding bits. Go's
// decoder alone ignores line breaks and, unless strict, padding bits.
func canonicalBase64(v any) ([]byte, error) {
	var src []byte
	switch v := v.(type) {
	case string:
		src = []byte(v)
	case rawString:
		src = v
	default:
		return nil, fmt.Errorf("is %s, not a base64 string", describe(v))
	}
	enc := base64.StdEncoding.Strict()
	b := make([]byte, enc.DecodedLen(len(src)))
	n, err := enc.Decode(b, src)
	if err != nil {
		return nil, fmt.Errorf("is not standard base64: %v", err)
	}
	// The strict decoder refuses missing padding and non-zero padding
	// bits; what it still takes in another spelling is a line break it
	// skips, and that makes the text longer than the canonical encoding of
	// what it decodes to (no re-encoding needed to compare).
	if len(src) != base64.StdEncoding.EncodedLen(n) {
		return nil, fmt.Errorf("is not canonical standard base64 (a line break or other character the decoder skips)")
	}
	return b[:n:n], nil
}

// stringOf is a string value of an envelope as ReadEnvelope reads it
// (a long one is a rawString).
func stringOf(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case rawString:
		return string(v), true
	}
	return "", false
}

// describe names a JSON value's type and content for messages.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return fmt.Sprintf("%q", v)
	case rawString:
		return fmt.Sprintf("%q", string(v))
	case json.Number:
		return "the number " + string(v)
	case bool:
		return fmt.Sprint(v)
	case []any:
		return "an array"
	default:
		return "an object"
	}
}

// PAE is the DSSE pre-authentication encoding the agency signs.
func (e *Envelope) PAE() []byte { return dsse.PAE(PayloadType, e.Payload) }

// verify checks the envelope's signature with the agency's registered key.
func (e *Envelope) verify(entryID string, k *Key) error {
	if k.ed != nil {
		if !ed25519.Verify(k.ed, e.PAE(), e.Sig) {
			// The sigstore verifier's words, so the verdict reads the same.
			return violation(entryID, "signatures[0].sig", RuleSignature, "signature does not verify with key %s: %v", k.ID, "failed to verify signature")
		}
		return nil
	}
	if err := k.verifier.VerifySignature(bytes.NewReader(e.Sig), bytes.NewReader(e.PAE())); err != nil {
		return violation(entryID, "signatures[0].sig", RuleSignature, "signature does not verify with key %s: %v", k.ID, err)
	}
	return nil
}

// EnvelopeJSON builds the canonical envelope bytes for a payload and its
// signature. Signing itself is the agency's business (ledger/agencykey);
// this only fixes the byte layout every signer produces.
func EnvelopeJSON(payload []byte, keyID string, sig []byte) ([]byte, error) {
	out, err := json.Marshal(dsse.Envelope{
		PayloadType: PayloadType,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []dsse.Signature{{KeyID: keyID, Sig: base64.StdEncoding.EncodeToString(sig)}},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding envelope: %w", err)
	}
	return canonicalize(out)
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
	env, err := ReadEnvelope(raw)
	if err != nil {
		return nil, err
	}
	var h Header
	if err := json.Unmarshal(env.Payload, &h); err != nil {
		return nil, err
	}
	return &h, nil
}
