package registrylog_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/acdledger/acdledger/specs/registrylog"
)

// FuzzRegistryLeaves feeds a genesis and a second leaf, both outside input
// (a log's leaves): reading them never panics, and a history that reads
// them saves and restores to the same registry.
func FuzzRegistryLeaves(f *testing.F) {
	raw, err := os.ReadFile(vectorsFile)
	if err != nil {
		f.Fatal(err)
	}
	var v registryVectors
	if err := json.Unmarshal(raw, &v); err != nil {
		f.Fatal(err)
	}
	for _, l := range v.Prefix[1:] {
		f.Add([]byte(v.Prefix[0].Envelope), []byte(l.Envelope), v.Pins.RootKeyID)
	}
	for _, c := range v.Cases {
		f.Add([]byte(v.Prefix[0].Envelope), []byte(c.Envelope), v.Pins.RootKeyID)
	}
	f.Fuzz(func(t *testing.T, genesis, leaf []byte, root string) {
		reg, a, err := registrylog.ReadGenesis(genesis, registrylog.Pins{RootKeyID: root})
		if err != nil {
			return
		}
		h := registrylog.NewHistory(reg, a)
		if b, err := h.Current().VerifySigned(leaf); err == nil {
			h.Add(1, b)
		}
		saved, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back registrylog.History
		if err := json.Unmarshal(saved, &back); err != nil {
			t.Fatalf("a saved history does not restore: %v", err)
		}
		x, _ := json.Marshal(h.Current())
		y, _ := json.Marshal(back.Current())
		if string(x) != string(y) {
			t.Fatalf("restored registry differs")
		}
	})
}

// FuzzHistoryJSON: a saved history is outside input too (a watcher's state
// file): restoring it never panics, and what restores saves again alike.
func FuzzHistoryJSON(f *testing.F) {
	f.Add([]byte(`{"registry_history":1,"versions":[]}`))
	f.Add([]byte(`{"registry_history":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h registrylog.History
		if err := json.Unmarshal(data, &h); err != nil {
			return
		}
		out, err := json.Marshal(&h)
		if err != nil {
			t.Fatal(err)
		}
		var again registrylog.History
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("re-read: %v", err)
		}
	})
}
