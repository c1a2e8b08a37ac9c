package verifier_test

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/sealed"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// A member opens the vectors' sealed entry from a real log, discloses its
// detail, and anyone verifies the disclosure with the log key and the
// registry only; any change to what it claims fails.
func TestDisclosure(t *testing.T) {
	v, regFile := loadVectors(t)
	var sealedEnv string
	for _, c := range v.Cases {
		if c.Name == "valid sealed entry" {
			sealedEnv = c.Envelope
		}
	}
	l := testlog.New(t, "test.example/disclosure")
	l.Add(t, leaves(append(v.Prefix, sealedEnv))...)
	pins, err := verifier.LoadPins(l.VkeyFile, "", regFile)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src, _ := tlog.Open(l.Dir)
	cp, err := src.Checkpoint(ctx, pins.Trust)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := specs.PeekHeader([]byte(sealedEnv))
	index, err := verifier.FindEntry(ctx, src, cp, h.ID)
	if err != nil || index != uint64(len(v.Prefix)) {
		t.Fatalf("FindEntry: %d, %v", index, err)
	}
	if _, err := verifier.FindEntry(ctx, src, cp, "NO-SUCH-ID"); err == nil {
		t.Fatal("FindEntry found an id that is not in the log")
	}
	proof, a, err := pins.EntryProof(ctx, src, cp, index)
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.ParseX25519Identity(v.Identities["member-2"])
	box, err := sealed.Open(a.Entry, id)
	if err != nil {
		t.Fatal(err)
	}
	good := specs.Disclosure{Version: specs.DisclosureVersion, Index: index, EntryID: h.ID, Field: "detail",
		Value: box.Fields["detail"].Value, Salt: box.Fields["detail"].Salt, Proof: string(proof.Marshal())}
	data, err := good.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	r, err := pins.VerifyDisclosure(data)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != index || r.Field != "detail" || string(r.Value) != `"operational detail"` {
		t.Fatalf("result %+v", r)
	}

	otherProof, _, _ := pins.EntryProof(ctx, src, cp, 0)
	for name, tc := range map[string]struct {
		alter func(d *specs.Disclosure)
		want  string
	}{
		"value changed":       {func(d *specs.Disclosure) { d.Value = []byte(`"another detail"`) }, "value/salt"},
		"salt changed":        {func(d *specs.Disclosure) { d.Salt = append([]byte{d.Salt[0] ^ 1}, d.Salt[1:]...) }, "value/salt"},
		"index changed":       {func(d *specs.Disclosure) { d.Index = 0 }, "index"},
		"entry id changed":    {func(d *specs.Disclosure) { d.EntryID = "OTHER" }, "entry_id"},
		"field not sealed":    {func(d *specs.Disclosure) { d.Field = "carrier" }, "field"},
		"other entry's proof": {func(d *specs.Disclosure) { d.Proof = string(otherProof.Marshal()) }, "index"},
		"proof tampered": {func(d *specs.Disclosure) {
			d.Proof = strings.Replace(d.Proof, "index ", "index 1", 1)
		}, "receipt"},
	} {
		t.Run(name, func(t *testing.T) {
			d := good
			tc.alter(&d)
			raw, _ := d.Marshal()
			_, err := pins.VerifyDisclosure(raw)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("want an error starting %q, got %v", tc.want, err)
			}
			if errors.Is(err, verifier.ErrInput) {
				t.Fatalf("a false disclosure reported as an input error: %v", err)
			}
		})
	}
	for name, raw := range map[string]string{
		"not JSON":      "garbage",
		"unknown field": strings.Replace(string(data), `"field"`, `"extra": 1, "field"`, 1),
		"short salt":    strings.Replace(string(data), base64.StdEncoding.EncodeToString(good.Salt), "AAAA", 1),
	} {
		if _, err := pins.VerifyDisclosure([]byte(raw)); !errors.Is(err, verifier.ErrInput) {
			t.Fatalf("%s: want an input error, got %v", name, err)
		}
	}
}
