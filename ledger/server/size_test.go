package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/specs"
	"github.com/transparency-dev/formats/proof"
)

// The largest envelope a signer can make under the limit goes in through
// POST /add, and the receipt in the answer reads in transparency-dev/formats'
// tlog-proof parser and verifies; the next size up is refused with 413 and
// rule envelope.size, and the log stays as it was.
func TestLargestEnvelopeOverHTTP(t *testing.T) {
	kit := testkit.New(t)
	f := start(t, kit, ledger.Options{}, ledger.DriverPOSIX)
	env := kit.SignedOfSize(t, "nco", specs.MaxEnvelopeSize/4*4)
	code, body := f.post(t, specs.EnvelopeMediaType, bytes.NewReader(env), "")
	var res server.AddResponse
	if err := json.Unmarshal(body, &res); err != nil || code != http.StatusOK {
		t.Fatalf("largest envelope: %d %.300s", code, body)
	}
	var fp proof.TLogProof
	if err := fp.Unmarshal([]byte(res.Receipt)); err != nil || !bytes.Equal(fp.ExtraData, env) {
		t.Fatalf("formats reads the receipt: %v", err)
	}
	if r, err := f.pins(t).VerifyReceipt([]byte(res.Receipt), nil); err != nil || r.EntryID != res.EntryID {
		t.Fatalf("receipt: %+v %v", r, err)
	}

	before, n := f.logHash(t), f.l.Len()
	over := kit.SignedOfSize(t, "nco", specs.MaxEnvelopeSize/4*4+4)
	code, body = f.post(t, specs.EnvelopeMediaType, bytes.NewReader(over), "")
	var e server.ErrorResponse
	if err := json.Unmarshal(body, &e); err != nil || code != http.StatusRequestEntityTooLarge || e.Code != specs.RuleSize || e.Rule != specs.RuleSize || e.Field != "envelope" {
		t.Fatalf("over the limit: %d %s", code, body)
	}
	if f.logHash(t) != before || f.l.Len() != n {
		t.Fatal("the log changed after a refused envelope")
	}
}
