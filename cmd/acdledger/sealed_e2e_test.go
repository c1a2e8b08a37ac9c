package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/activity"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// Sealed entries end to end: the published log holds no sealed plaintext;
// each commission member (before and after a key rotation) and the agency
// itself can open what is sealed to them, nobody else can; a disclosure of
// one field verifies with public keys only, and a changed one does not.
func TestSealedEndToEnd(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	logDir := filepath.Join(led, "log")
	vkey := filepath.Join(led, "log.vkey")
	reg := filepath.Join(ag, "registry.json")
	keys := filepath.Join(ag, "keys")

	must(t, "demo", "generate", "--out", ag, "--seed", "3", "--entries", "200", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "sealed.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))

	// The drafts carry the marker in every sealed value ...
	drafts, err := activity.Generate(activity.Config{Seed: 3, Entries: 200, Start: activity.DefaultConfig().Start, End: activity.DefaultConfig().End})
	if err != nil {
		t.Fatal(err)
	}
	marker := []byte(activity.SecretMarker())
	withSecrets := 0
	for _, d := range drafts {
		if bytes.Contains(d.Payload, marker) {
			withSecrets++
		}
	}
	if withSecrets < len(drafts)/4 {
		t.Fatalf("only %d of %d drafts carry sealed secrets", withSecrets, len(drafts))
	}
	// ... and neither the log's files nor any decoded entry payload does.
	filepath.WalkDir(logDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if raw, _ := os.ReadFile(p); bytes.Contains(raw, marker) {
				t.Errorf("%s holds sealed plaintext", p)
			}
		}
		return nil
	})
	src, _ := tlog.Open(logDir)
	v, _ := tlog.ParseVerifierKey(string(readFile(t, vkey)))
	cp, err := src.Checkpoint(context.Background(), tlog.Trust{Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	type found struct {
		index      uint64
		id, agency string
	}
	var measures, ncoSealed []found
	err = src.Replay(context.Background(), cp, tlog.ReplayOptions{}, func(i uint64, leaf []byte) error {
		env, err := specs.ParseEnvelope(leaf)
		if err != nil {
			return err
		}
		if bytes.Contains(env.Payload, marker) {
			t.Errorf("entry %d: sealed plaintext in the signed payload", i)
		}
		e, err := specs.ParseEntry(env.Payload)
		if err != nil {
			return err
		}
		if e.SealedPart() == nil {
			return nil
		}
		if e.Kind == "measure.executed" {
			measures = append(measures, found{i, e.ID, e.Agency})
		}
		if e.Agency == "nco" {
			ncoSealed = append(ncoSealed, found{i, e.ID, e.Agency})
		}
		return nil
	})
	if err != nil || len(measures) == 0 || len(ncoSealed) < 2 {
		t.Fatalf("replay: %v; %d sealed measures, %d sealed nco entries", err, len(measures), len(ncoSealed))
	}

	open := func(identity, ref string, extra ...string) []string {
		return append([]string{"open", "--identity", filepath.Join(keys, identity), "--log", logDir, "--vkey", vkey, "--registry", reg}, append(extra, ref)...)
	}
	m := measures[0]
	out := must(t, open("member-1.age", strconv.FormatUint(m.index, 10))...)
	if !strings.Contains(out, "target_address: \"") || !strings.Contains(out, activity.SecretMarker()) || !strings.Contains(out, "every commitment verified") {
		t.Fatalf("open by index: %s", out)
	}
	var opened struct {
		Index  uint64                     `json:"index"`
		Fields map[string]json.RawMessage `json:"fields"`
	}
	json.Unmarshal([]byte(must(t, open("member-2.age", m.id, "--json")...)), &opened)
	if opened.Index != m.index || len(opened.Fields["target_address"]) == 0 {
		t.Fatalf("open by id: %+v", opened)
	}
	must(t, open(m.agency+".age", strconv.FormatUint(m.index, 10))...) // the appending agency reads its own
	mustFail(t, 1, "none of the given identities", open("commission.age", strconv.FormatUint(m.index, 10))...)

	// member-3 rotated its key halfway: each key opens its own period only.
	first, last := ncoSealed[0], ncoSealed[len(ncoSealed)-1]
	must(t, open("member-3.age", strconv.FormatUint(first.index, 10))...)
	mustFail(t, 1, "none of the given identities", open("member-3.rotated.age", strconv.FormatUint(first.index, 10))...)
	must(t, open("member-3.rotated.age", strconv.FormatUint(last.index, 10))...)
	mustFail(t, 1, "none of the given identities", open("member-3.age", strconv.FormatUint(last.index, 10))...)

	// A disclosure of one field, checked with public keys only.
	disc := filepath.Join(work, "target.disclosure.json")
	must(t, "disclose", "--identity", filepath.Join(keys, "member-1.age"), "--log", logDir, "--vkey", vkey, "--registry", reg,
		"--field", "target_address", "--out", disc, m.id)
	out = must(t, "verify", "disclosure", "--vkey", vkey, "--registry", reg, disc)
	if !strings.HasPrefix(out, "OK ") || !strings.Contains(out, activity.SecretMarker()) {
		t.Fatalf("verify disclosure: %s", out)
	}
	var d map[string]any
	json.Unmarshal(readFile(t, disc), &d)
	for name, tc := range map[string]struct {
		key  string
		val  any
		want string
	}{
		"value": {"value", "198.51.100.1 somebody else", "value/salt"},
		"index": {"index", float64(0), "index"},
		"field": {"field", "target_name", "value/salt"},
	} {
		changed := map[string]any{}
		for k, v := range d {
			changed[k] = v
		}
		changed[tc.key] = tc.val
		raw, _ := json.Marshal(changed)
		f := filepath.Join(work, name+".disclosure.json")
		os.WriteFile(f, raw, 0o644)
		mustFail(t, 1, tc.want, "verify", "disclosure", "--vkey", vkey, "--registry", reg, f)
	}
	mustFail(t, 2, "disclosure", "verify", "disclosure", "--vkey", vkey, "--registry", reg, reg)
	mustFail(t, 2, "seals no field", "disclose", "--identity", filepath.Join(keys, "member-1.age"), "--log", logDir, "--vkey", vkey, "--registry", reg,
		"--field", "carrier", m.id)

	// Sealing needs the registry; a draft with clear sealed values is
	// never signed as it is.
	draft := filepath.Join(work, "draft.json")
	os.WriteFile(draft, drafts[0].Payload, 0o644)
	mustFail(t, 2, "give --registry", "sign", "--key", filepath.Join(keys, drafts[0].Agency+".key"), draft)
	env := must(t, "sign", "--key", filepath.Join(keys, drafts[0].Agency+".key"), "--registry", reg, draft)
	if strings.Contains(env, activity.SecretMarker()) || !strings.Contains(env, "payload") {
		t.Fatalf("signed draft: %s", env)
	}

	// The commission-only check: a member's key opens everything sealed to
	// it in one audit. An agency that signs a box other than what it
	// committed to passes admission (nobody but the recipients can look
	// inside) and is caught here, by index.
	out = must(t, "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--identity", filepath.Join(keys, "member-1.age"))
	if !strings.Contains(out, "every opened entry matches") {
		t.Fatalf("audit --identity:\n%s", out)
	}
	var a auditJSON
	json.Unmarshal([]byte(must(t, "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--json")), &a)
	bad := map[string]any{"id": "MISCONDUCT-1", "kind": "retention.deleted", "schema": specs.EntrySchemaVersion, "agency": "nco", "seq": a.ByAgency["nco"].LastSeq + 1,
		"occurred_at": "2026-11-14T00:00:00+09:00", "case": "MISCONDUCT", "legal_basis": map[string]any{"law": "acd-act", "article": "22"}, "refs": []any{},
		"body":   map[string]any{"dataset": "DS-M", "created_at": "2026-11-01T00:00:00+09:00", "deleted_at": "2026-11-14T00:00:00+09:00", "n": 1},
		"sealed": map[string]any{"detail": "what really happened"}}
	raw, _ := json.Marshal(bad)
	os.WriteFile(draft, raw, 0o644)
	envLine := must(t, "sign", "--key", filepath.Join(keys, "nco.key"), "--registry", reg, draft)
	sealedEnv, err := specs.ParseEnvelope([]byte(strings.TrimSpace(envLine)))
	if err != nil {
		t.Fatal(err)
	}
	var sealedEntry map[string]any
	json.Unmarshal(sealedEnv.Payload, &sealedEntry)
	sealedEntry["sealed"].(map[string]any)["commitments"].(map[string]any)["detail"] = "sha256:" + strings.Repeat("5", 64) // commits to something else
	raw, _ = json.Marshal(sealedEntry)
	os.WriteFile(draft, raw, 0o644)
	signed := filepath.Join(work, "misconduct.dsse.json")
	os.WriteFile(signed, []byte(must(t, "sign", "--key", filepath.Join(keys, "nco.key"), draft)), 0o644) // already sealed: signed as is
	must(t, "append", "--ledger", led, signed)
	index := strconv.FormatUint(cp.Size, 10)
	r := mustFail(t, 1, "commission-only check C1", "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--identity", filepath.Join(keys, "member-1.age"))
	if !strings.Contains(r.stdout, "C1 sealed.opens  "+index) || !strings.Contains(r.stdout, "sealed.commitments.detail") {
		t.Fatalf("audit --identity did not name the misconduct at index %s:\n%s", index, r.stdout)
	}
	mustFail(t, 1, "MISCONDUCT by agency nco", open("member-2.age", index)...)
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
