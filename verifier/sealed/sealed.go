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
	"slices"
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

// Finding is what a commission member's key shows about one sealed entry
// that nobody without a key can see: the box the agency signed does not
// open to the member it is sealed to, or does not match its commitments.
// It is the commission-only check C1 of specs/rules.md.
type Finding struct {
	Check   string `json:"check"` // "C1"
	Name    string `json:"name"`  // "sealed.opens"
	Index   uint64 `json:"index"`
	EntryID string `json:"entry_id"`
	Agency  string `json:"agency"`
	Member  string `json:"member"`
	Reason  string `json:"reason"`
}

// Checker opens, with one member's identities, every entry sealed to that
// member's key valid at the entry's occurred_at.
type Checker struct {
	keys []memberKey
	// Opened counts the entries opened and matched; Others those sealed
	// only to other keys (other members', or this member's other keys).
	Opened, Others uint64
}

type memberKey struct {
	identity  age.Identity
	recipient *specs.Recipient
}

// NewChecker matches the identities to the registry's commission
// recipients (a member who rotated has one per key). An identity the
// registry does not list is an error: it could open nothing it must.
func NewChecker(reg *specs.Registry, ids []age.Identity) (*Checker, error) {
	c := &Checker{}
	for _, id := range ids {
		x, ok := id.(*age.X25519Identity)
		if !ok {
			return nil, fmt.Errorf("only X25519 identities can be commission recipients")
		}
		found := false
		for _, rc := range reg.Recipients {
			if rc.Recipient == x.Recipient().String() {
				c.keys = append(c.keys, memberKey{id, rc})
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("identity %s is not a commission recipient in the registry", x.Recipient())
		}
	}
	return c, nil
}

// Check opens the entry if it is sealed to one of the checker's keys and
// returns a finding if that fails; nil otherwise.
func (c *Checker) Check(index uint64, e *specs.Entry) *Finding {
	s := e.SealedPart()
	if s == nil {
		return nil
	}
	for _, k := range c.keys {
		if !slices.Contains(s.To, k.recipient.ID) || !k.recipient.ValidAt(e.Occurred()) {
			continue
		}
		_, err := Open(e, k.identity)
		if err == nil {
			c.Opened++
			return nil
		}
		reason := err.Error()
		var nr *NotRecipientError
		if errors.As(err, &nr) {
			reason = fmt.Sprintf("sealed.to lists %s, but the box does not open with its key valid at %s (%s)", k.recipient.ID, e.OccurredAt, k.recipient.Recipient)
		}
		return &Finding{Check: "C1", Name: "sealed.opens", Index: index, EntryID: e.ID, Agency: e.Agency, Member: k.recipient.ID, Reason: reason}
	}
	c.Others++
	return nil
}
