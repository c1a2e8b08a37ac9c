package sealed_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/sealed"
)

// sealedCase returns the vectors' valid sealed entry as a generic map (to
// alter it) and the members' identities.
func sealedCase(t *testing.T) (map[string]any, map[string]age.Identity) {
	t.Helper()
	v, err := specs.LoadVectors("../../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]age.Identity{}
	for name, s := range v.Identities {
		if ids[name], err = age.ParseX25519Identity(s); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range v.Cases {
		if c.Name == "valid sealed entry" {
			env, err := specs.ParseEnvelope([]byte(c.Envelope))
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(env.Payload, &m); err != nil {
				t.Fatal(err)
			}
			return m, ids
		}
	}
	t.Fatal("no valid sealed entry in the vectors")
	return nil, nil
}

func parse(t *testing.T, m map[string]any) *specs.Entry {
	t.Helper()
	raw, _ := json.Marshal(m)
	e, err := specs.ParseEntry(raw)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOpenWithEveryMember(t *testing.T) {
	m, ids := sealedCase(t)
	e := parse(t, m)
	if len(ids) < 2 {
		t.Fatalf("%d identities in the vectors", len(ids))
	}
	for name, id := range ids {
		box, err := sealed.Open(e, id)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := string(box.Fields["detail"].Value); got != `"operational detail"` {
			t.Fatalf("%s: detail = %s", name, got)
		}
	}
}

func TestOpenWithANonRecipient(t *testing.T) {
	m, _ := sealedCase(t)
	outsider, _ := age.GenerateX25519Identity()
	_, err := sealed.Open(parse(t, m), outsider)
	var nr *sealed.NotRecipientError
	if !errors.As(err, &nr) || !strings.Contains(err.Error(), "member-1") {
		t.Fatalf("want a not-a-recipient error naming who it is sealed to, got %v", err)
	}
}

func TestOpenFindsMisconduct(t *testing.T) {
	for name, tc := range map[string]struct {
		alter       func(m, s map[string]any)
		rule, field string
	}{
		"commitment that the box does not match": {func(m, s map[string]any) {
			s["commitments"].(map[string]any)["detail"] = "sha256:" + strings.Repeat("0", 64)
		}, specs.RuleSealedCommitment, "sealed.commitments.detail"},
		"box moved from another entry": {func(m, s map[string]any) {
			m["id"] = "ANOTHER-ENTRY"
		}, specs.RuleSealedCommitment, "box.entry"},
		"ciphertext changed": {func(m, s map[string]any) {
			ct, _ := base64.StdEncoding.DecodeString(s["box"].(string))
			ct[len(ct)-3] ^= 1
			s["box"] = base64.StdEncoding.EncodeToString(ct)
		}, specs.RuleSealedBox, "sealed.box"},
	} {
		t.Run(name, func(t *testing.T) {
			m, ids := sealedCase(t)
			tc.alter(m, m["sealed"].(map[string]any))
			_, err := sealed.Open(parse(t, m), ids["member-1"])
			var v *specs.Violation
			if !errors.As(err, &v) || v.Rule != tc.rule || v.Field != tc.field {
				t.Fatalf("want rule %s field %s, got %v", tc.rule, tc.field, err)
			}
		})
	}
}

func TestOpenUnsealed(t *testing.T) {
	m, ids := sealedCase(t)
	delete(m, "sealed")
	if _, err := sealed.Open(parse(t, m), ids["member-1"]); !errors.Is(err, sealed.ErrNotSealed) {
		t.Fatalf("want ErrNotSealed, got %v", err)
	}
}

// The commission-only check C1: a member's checker opens what is sealed to
// it, leaves alone what is not, and reports a box that breaks its
// commitments with the entry's index.
func TestChecker(t *testing.T) {
	v, err := specs.LoadVectors("../../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	reg, err := specs.ParseRegistry(v.Registry)
	if err != nil {
		t.Fatal(err)
	}
	m, ids := sealedCase(t)
	outsider, _ := age.GenerateX25519Identity()
	if _, err := sealed.NewChecker(reg, []age.Identity{outsider}); err == nil {
		t.Fatal("a checker for an identity the registry does not list")
	}
	c, err := sealed.NewChecker(reg, []age.Identity{ids["member-1"]})
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Check(7, parse(t, m)); f != nil || c.Opened != 1 {
		t.Fatalf("valid entry: finding %+v, opened %d", f, c.Opened)
	}
	m["sealed"].(map[string]any)["to"] = []any{"member-2"} // sealed to someone else only
	if f := c.Check(8, parse(t, m)); f != nil || c.Others != 1 {
		t.Fatalf("entry not sealed to the member: finding %+v, others %d", f, c.Others)
	}
	m, _ = sealedCase(t)
	m["sealed"].(map[string]any)["commitments"].(map[string]any)["detail"] = "sha256:" + strings.Repeat("1", 64)
	f := c.Check(9, parse(t, m))
	if f == nil || f.Check != "C1" || f.Index != 9 || f.Member != "member-1" || !strings.Contains(f.Reason, "sealed.commitments.detail") {
		t.Fatalf("misconduct: %+v", f)
	}
}
