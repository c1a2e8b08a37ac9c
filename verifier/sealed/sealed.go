// Package sealed is the commission's side of sealed entries
// (specs/sealed.md): a member opens an entry's age box with their identity
// and checks every value against the commitment the agency signed.
//
// Like the rest of verifier/, it never imports ledger/: a member's finding
// must not depend on the code that sealed the entry.
package sealed

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/acdledger/acdledger/specs"
)

// ErrNotSealed means the entry has no sealed part: there is nothing to open.
var ErrNotSealed = errors.New("the entry has no sealed part")

// NotRecipientError means none of the identities can open the box: the
// member is not among its recipients (or holds a rotated-out key).
type NotRecipientError struct {
	EntryID string
	To      []string
}

func (e *NotRecipientError) Error() string {
	return fmt.Sprintf("entry %s: none of the given identities can open it; it is sealed to %s", e.EntryID, strings.Join(e.To, ", "))
}

// LoadIdentities reads an age identity file (AGE-SECRET-KEY-1… lines, as
// acdledger keygen --member and age-keygen write them).
func LoadIdentities(path string) ([]age.Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ids, err := age.ParseIdentities(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return ids, nil
}

// Open decrypts the entry's box and checks it against the entry's
// commitments. A *specs.Violation (rule sealed.box or sealed.commitment)
// means the agency signed a box that is broken or holds other values than
// it committed to: misconduct by the agency, to be reported with the
// entry's index. A *NotRecipientError means these identities cannot tell.
func Open(e *specs.Entry, ids ...age.Identity) (*specs.Box, error) {
	s := e.SealedPart()
	if s == nil {
		return nil, ErrNotSealed
	}
	ct, err := base64.StdEncoding.DecodeString(s.Box)
	if err != nil {
		return nil, misconduct(e, "sealed.box", "not base64: %v", err)
	}
	r, err := age.Decrypt(bytes.NewReader(ct), ids...)
	var noMatch *age.NoIdentityMatchError
	switch {
	case errors.As(err, &noMatch):
		return nil, &NotRecipientError{EntryID: e.ID, To: s.To}
	case err != nil:
		return nil, misconduct(e, "sealed.box", "the box does not decrypt: %v", err)
	}
	plain, err := io.ReadAll(io.LimitReader(r, specs.MaxEnvelopeSize))
	if err != nil {
		return nil, misconduct(e, "sealed.box", "the box's payload is corrupt: %v", err)
	}
	b, err := specs.ParseBox(plain)
	if err != nil {
		return nil, misconduct(e, "sealed.box", "%v", err)
	}
	if err := e.CheckBox(b); err != nil {
		return nil, err
	}
	return b, nil
}

func misconduct(e *specs.Entry, field, format string, args ...any) error {
	return &specs.Violation{EntryID: e.ID, Field: field, Rule: specs.RuleSealedBox, Message: fmt.Sprintf(format, args...)}
}
