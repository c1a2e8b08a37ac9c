// Package seal turns an agency's draft entry, whose sealed fields are still
// in clear, into the entry that goes into the log (specs/sealed.md): a
// salted commitment per sealed field in the public part, and the values
// with their salts in an age box encrypted to the commission's members and
// the agency itself, as the registry lists them at the entry's occurred_at.
// The agency then signs the result, so the signature covers the public
// part, the commitments and the ciphertext alike.
package seal

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/specs"
)

// NeedsSealing reports whether a draft payload carries sealed values in
// clear (a "sealed" object without a box).
func NeedsSealing(draft []byte) bool {
	var head struct {
		Sealed map[string]json.RawMessage `json:"sealed"`
	}
	if json.Unmarshal(draft, &head) != nil || len(head.Sealed) == 0 {
		return false
	}
	_, sealed := head.Sealed["box"]
	return !sealed
}

// Seal seals a draft entry for the registry's recipients. A draft with no
// clear sealed values is returned in canonical form, so every payload can go
// through Seal before signing.
func Seal(draft []byte, reg *specs.Registry) ([]byte, error) {
	// Read the draft strictly first: the decoding below would silently keep
	// the last of two equal names.
	draft, err := specs.CanonicalEntry(draft)
	if err != nil {
		return nil, err
	}
	if !NeedsSealing(draft) {
		return draft, nil
	}
	var doc map[string]json.RawMessage
	if err = json.Unmarshal(draft, &doc); err != nil {
		return nil, fmt.Errorf("draft is not a JSON object: %w", err)
	}
	var head struct {
		ID         string                     `json:"id"`
		Kind       string                     `json:"kind"`
		Agency     string                     `json:"agency"`
		OccurredAt string                     `json:"occurred_at"`
		Sealed     map[string]json.RawMessage `json:"sealed"`
	}
	if err := json.Unmarshal(draft, &head); err != nil {
		return nil, fmt.Errorf("draft: %w", err)
	}
	at, err := time.Parse(time.RFC3339Nano, head.OccurredAt)
	if err != nil {
		return nil, &specs.Violation{EntryID: head.ID, Field: "occurred_at", Rule: specs.RuleSchema, Message: "needed to choose the recipients: " + err.Error()}
	}
	if err := specs.CheckSealedValues(head.ID, head.Kind, "sealed", head.Sealed); err != nil {
		return nil, err
	}
	targets, err := reg.SealFor(head.Agency, at)
	if err != nil {
		return nil, &specs.Violation{EntryID: head.ID, Field: "sealed", Rule: specs.RuleSealedRecipients, Message: err.Error()}
	}

	part := specs.Sealed{Commitments: map[string]string{}}
	box := specs.Box{Version: specs.BoxVersion, Entry: head.ID, Fields: map[string]*specs.BoxField{}}
	for name, value := range head.Sealed {
		salt := make([]byte, specs.SaltSize)
		if _, err := rand.Read(salt); err != nil {
			return nil, err
		}
		c, err := specs.Commit(salt, value)
		if err != nil {
			return nil, fmt.Errorf("entry %s: sealed.%s: %w", head.ID, name, err)
		}
		part.Commitments[name] = c
		box.Fields[name] = &specs.BoxField{Salt: salt, Value: value}
	}
	var recipients []age.Recipient
	for _, t := range targets {
		r, err := age.ParseX25519Recipient(t.Recipient)
		if err != nil {
			return nil, fmt.Errorf("registry recipient %s: %w", t.ID, err)
		}
		recipients = append(recipients, r)
		part.To = append(part.To, t.ID)
	}
	plain, err := json.Marshal(box)
	if err != nil {
		return nil, err
	}
	var ct bytes.Buffer
	w, err := age.Encrypt(&ct, recipients...)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(plain); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	part.Box = base64.StdEncoding.EncodeToString(ct.Bytes())

	if doc["sealed"], err = json.Marshal(part); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}
