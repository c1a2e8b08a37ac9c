package registrylog_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger/seal"
	"github.com/acdledger/acdledger/specs"
)

// The morning event (specs/sealed.md, "Past events"): an entry that
// occurred before every member key the registry lists is sealed to the
// members in force, and admitted; sealed to anyone else it is refused,
// the message naming both sets it could have had.
func TestSealingAPastEvent(t *testing.T) {
	k := testkit.New(t)
	// Every member key from noon on, the event at 06:00 that day.
	noon := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	reg := &specs.Registry{}
	raw, _ := json.Marshal(k.Registry)
	json.Unmarshal(raw, reg)
	reg.Recipients = nil
	for _, m := range testkit.Members {
		id, _ := age.GenerateX25519Identity()
		if err := reg.AddRecipient(m, m, id.Recipient().String(), noon); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := reg.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if reg, err = specs.ParseRegistry(raw); err != nil {
		t.Fatal(err)
	}
	e := k.Entry("nco")
	e["occurred_at"] = "2026-06-01T06:00:00Z"
	e["sealed"] = map[string]any{"detail": "this morning"}
	payload, _ := json.Marshal(e)
	if _, err := reg.SealTo("nco", time.Date(2026, 6, 1, 6, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("a member key valid at 06:00: the case is not the morning case")
	}
	sealed, err := seal.Seal(payload, reg)
	if err != nil {
		t.Fatalf("sealing the morning event: %v", err)
	}
	env, err := k.Signers["nco"].Sign(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := reg.VerifySigned(env); err != nil {
		t.Fatalf("the morning event sealed to the members in force is refused: %v", err)
	}
	// Sealed with the kit's registry (other member keys): refused.
	other, err := seal.Seal(payload, k.Registry)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(other, &m)
	m["sealed"].(map[string]any)["to"] = []string{"member-1", "nco"}
	bad, _ := json.Marshal(m)
	env, _ = k.Signers["nco"].Sign(bad)
	_, err = reg.VerifySigned(env)
	var v *specs.Violation
	if !errors.As(err, &v) || v.Rule != specs.RuleSealedRecipients || !strings.Contains(v.Message, "in force now") {
		t.Fatalf("sealed to a member short: %v", err)
	}
}
