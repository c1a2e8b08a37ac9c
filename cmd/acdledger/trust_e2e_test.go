package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The trust history in the log (specs/registry.md), as the commission and
// agencies use it while serve runs: the commission adds an agency, gives an
// agency a second key and revokes the first, rotates a member key and
// changes the witness quorum, each an entry applied as soon as it is
// admitted (no restart, no file copied). An entry signed by the revoked key
// after its revocation is refused; those signed before it still verify in
// an audit "ten years later" that pins nothing but the log key and the root
// key fingerprint. A morning event, older than every member key, is sealed
// and opened.
func TestTrustHistoryWhileServing(t *testing.T) {
	g := newGenesisLedger(t, "trust.acdledger.example/log")
	keys, reg, led, logDir, vkey, fp, path := g.keys, g.reg, g.led, g.logDir, g.vkey, g.fp, g.path
	if !strings.Contains(g.initOut, fp) {
		t.Fatalf("init does not print the root key fingerprint %s:\n%s", fp, g.initOut)
	}
	_, url := child(t, "serve", "--ledger", led, "--listen", "127.0.0.1:0")

	// An agency entry; sealed ones are sealed to the registry in force.
	seqs := map[string]int{}
	entry := func(agency, key, occurred string, sealed bool) string {
		seqs[agency]++
		e := map[string]any{"id": fmt.Sprintf("%s-%d", agency, seqs[agency]), "kind": "retention.deleted", "schema": 2, "agency": agency,
			"seq": seqs[agency], "occurred_at": occurred, "case": "C-1", "legal_basis": map[string]string{"law": "acd-act", "article": "22"},
			"refs": []string{}, "body": map[string]any{"dataset": "DS-1", "created_at": occurred, "deleted_at": occurred, "n": 1}}
		if sealed {
			e["sealed"] = map[string]any{"detail": "deleted at the morning's incident site"}
		}
		raw, _ := json.Marshal(e)
		draft := path(fmt.Sprintf("%s-%d.json", agency, seqs[agency]))
		os.WriteFile(draft, raw, 0o644)
		args := []string{"sign", "--key", filepath.Join(keys, key+".key"), draft}
		if sealed {
			must(t, "registry", "show", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--write", path("in-force.json"))
			args = append(args, "--registry", path("in-force.json"))
		}
		env := path(fmt.Sprintf("%s-%d.dsse", agency, seqs[agency]))
		os.WriteFile(env, []byte(must(t, args...)), 0o644)
		return env
	}
	appendOK := func(env string) string {
		t.Helper()
		return must(t, "append", "--server", url, "--receipts", path("receipts"), env)
	}
	// change makes a registry entry, checked against the log by --log.
	change := func(args ...string) {
		t.Helper()
		env := path(fmt.Sprintf("change-%d.dsse", len(seqs)+len(args)+int(time.Now().UnixNano()%1e6)))
		args = append(args, "--root-key", filepath.Join(keys, "root.key"), "--log", logDir, "--vkey", vkey)
		os.WriteFile(env, []byte(must(t, append([]string{"registry"}, args...)...)), 0o644)
		appendOK(env)
	}

	now := time.Now().UTC()
	appendOK(entry("nco", "nco", now.Format(time.RFC3339), false))

	// 1. A new agency, appending at once.
	must(t, "keygen", "--agency", "mic", "--out", filepath.Join(keys, "mic"))
	change("add-agency", "--agency", "mic", "--name", "Ministry of Internal Affairs", "--pub", filepath.Join(keys, "mic.pub"), "--kinds", "retention.deleted")
	appendOK(entry("mic", "mic", now.Format(time.RFC3339), false))
	// A watcher starts here; it carries on from its saved state below.
	must(t, "watch", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--state", path("watch.state"), "--once")

	// 2. A second nco key, then the first revoked: the old key signs one
	// more entry before the revocation, and is refused after it.
	must(t, "keygen", "--agency", "nco", "--out", filepath.Join(keys, "nco-2"))
	change("add-key", "--agency", "nco", "--pub", filepath.Join(keys, "nco-2.pub"))
	beforeRevocation := entry("nco", "nco", now.Format(time.RFC3339), false)
	appendOK(beforeRevocation)
	change("revoke-key", "--agency", "nco", "--key", filepath.Join(keys, "nco.pub"), "--reason", "laptop lost")
	late := entry("nco", "nco", now.Format(time.RFC3339), false)
	r := run(t, "append", "--server", url, late)
	if r.code != 1 || !strings.Contains(r.stderr, "key.unknown") || !strings.Contains(r.stderr, "revoked by registry entry") {
		t.Fatalf("an entry signed by the revoked key after its revocation: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seqs["nco"]--
	appendOK(entry("nco", "nco-2", now.Format(time.RFC3339), false))

	// 3. A member key rotation, back-dated to the start of the day, and a
	// morning event sealed to the members in force.
	must(t, "keygen", "--member", "member-1", "--out", filepath.Join(keys, "member-1b"))
	// The start of the day that was 7 hours ago, so that its 06:00 is in
	// the past whatever the time of day the test runs at.
	morning := now.Add(-7 * time.Hour).Truncate(24 * time.Hour)
	change("add-member", "--member", "member-1", "--recipient", filepath.Join(keys, "member-1b.age"), "--valid-from", morning.Format(time.RFC3339))
	event := entry("nco", "nco-2", morning.Add(6*time.Hour).Format(time.RFC3339), true)
	appendOK(event)
	// The morning event opens with the member's new key (before the
	// policy changes below: after them, this log's unwitnessed checkpoints
	// lack the quorum in force, which open and verify refuse).
	opened := must(t, "open", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--identity", filepath.Join(keys, "member-1b.age"), "nco-4")
	if !strings.Contains(opened, "deleted at the morning's incident site") {
		t.Errorf("open of the morning event:\n%s", opened)
	}
	// A field disclosed, verified with the registry replayed from the log.
	must(t, "disclose", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--identity", filepath.Join(keys, "member-1b.age"), "--field", "detail", "--out", path("fact.json"), "nco-4")
	must(t, "verify", "disclosure", "--vkey", vkey, "--root-key", fp, "--log", logDir, path("fact.json"))
	mustFail(t, 2, "--root-key needs --log", "verify", "disclosure", "--vkey", vkey, "--root-key", fp, path("fact.json"))

	// 4. The witness quorum: 1 of 2, then 2 of 2.
	logV, _ := os.ReadFile(vkey)
	policy := func(k int) string {
		p := "log " + strings.TrimSpace(string(logV)) + "\n"
		for _, w := range []string{"w1", "w2"} {
			if _, err := os.Stat(filepath.Join(keys, w+".vkey")); err != nil {
				must(t, "witness", "keygen", "--name", w+".commission.example", "--out", filepath.Join(keys, w))
			}
			wv, _ := os.ReadFile(filepath.Join(keys, w+".vkey"))
			p += fmt.Sprintf("witness %s %s\n", w, strings.TrimSpace(string(wv)))
		}
		p += fmt.Sprintf("group members %d w1 w2\nquorum members\n", k)
		f := path(fmt.Sprintf("policy-%d", k))
		os.WriteFile(f, []byte(p), 0o644)
		return f
	}
	change("set-policy", "--new-policy", policy(1))
	change("set-policy", "--new-policy", policy(2))
	// 5. The rules configuration adopted, and the added agency retired.
	change("adopt-rules", "--version", "2026.1")
	change("retire-agency", "--agency", "mic", "--reason", "merged")
	r = run(t, "append", "--server", url, entry("mic", "mic", now.Format(time.RFC3339), false))
	if r.code != 1 || !strings.Contains(r.stderr, "agency.unknown") || !strings.Contains(r.stderr, "retired by registry entry") {
		t.Fatalf("an entry of a retired agency: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	seqs["mic"]--

	// Ten years later, with nothing but the genesis pins. This serve
	// publishes without witnesses, so the checkpoint lacks the quorum of
	// the policy in force (registry-7, 2 of 2): the audit replays and
	// reports everything, and fails naming that entry.
	var audit struct {
		Entries       uint64 `json:"entries"`
		FailureCount  uint64 `json:"failure_count"`
		WitnessPolicy struct {
			EntryID string `json:"entry_id"`
			Error   string `json:"error"`
		} `json:"witness_policy_in_force"`
		RulesAdopted struct {
			EntryID string `json:"entry_id"`
		} `json:"rules_adopted"`
		Trust struct {
			Source   string `json:"source"`
			Versions []struct {
				Change string `json:"change"`
			} `json:"versions"`
		} `json:"trust"`
	}
	r = mustFail(t, 1, "registry entry registry-7", "audit", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--as-of", now.AddDate(10, 0, 0).Format(time.RFC3339), "--json")
	out := r.stdout
	if err := json.Unmarshal([]byte(out), &audit); err != nil {
		t.Fatal(err)
	}
	if audit.WitnessPolicy.EntryID != "registry-7" || !strings.Contains(audit.WitnessPolicy.Error, "lacks the witness quorum") || audit.RulesAdopted.EntryID != "registry-8" {
		t.Errorf("audit ten years later: want the policy of registry-7 unmet and the rules of registry-8 matched:\n%s", out)
	}
	var changes []string
	for _, v := range audit.Trust.Versions {
		changes = append(changes, v.Change)
	}
	if audit.FailureCount != 0 || audit.Trust.Source != "genesis" ||
		strings.Join(changes, " ") != "genesis agency.added key.added key.revoked member.added policy.set policy.set rules.adopted agency.retired" {
		t.Fatalf("audit ten years later: %d failures, trust from %s, changes %v\n%s", audit.FailureCount, audit.Trust.Source, changes, out)
	}
	// open too checks the checkpoint against the policy in force.
	mustFail(t, 1, "registry entry registry-7", "open", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--identity", filepath.Join(keys, "member-1b.age"), "nco-4")
	// The receipt of the entry the old key signed before its revocation
	// still verifies, the registry replayed from the log.
	must(t, "verify", "receipt", "--vkey", vkey, "--root-key", fp, "--log", logDir, filepath.Join(g.work, "receipts", "nco-2.tlog-proof"))
	// The registry in force: the old key revoked, the quorum 2 of 2.
	show := must(t, "registry", "show", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--json")
	if !strings.Contains(show, `"revoked_by": "registry-4"`) || !strings.Contains(show, `group members 2 w1 w2`) {
		t.Errorf("registry show: want nco's first key revoked by registry-4 and the 2-of-2 policy:\n%s", show)
	}
	if !strings.Contains(show, `"version": "2026.1"`) || !strings.Contains(show, `"retired_by": "registry-9"`) {
		t.Errorf("registry show: want rules 2026.1 and mic retired by registry-9:\n%s", show)
	}
	// By time: before the first change, the genesis registry.
	show = must(t, "registry", "show", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--at", now.Add(-time.Hour).Format(time.RFC3339))
	if !strings.Contains(show, "as made by the genesis") {
		t.Errorf("registry show --at an hour ago:\n%s", show)
	}
	// At the index of the entry signed before the revocation, the old key was in force.
	show = must(t, "registry", "show", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--index", "5")
	if !strings.Contains(show, "as made by key.added") {
		t.Errorf("registry show --index 5:\n%s", show)
	}
	// The watcher carries on through the key revocation, the member rotation
	// and the policy changes, with the history it saved.
	must(t, "watch", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--state", path("watch.state"), "--once")
	// A --registry file is a cross-check: the stale one names the differences.
	out = mustFail(t, 1, "registry entry registry-7", "audit", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--registry", reg, "--no-rules", "--json").stdout
	if !strings.Contains(out, "registry_file_differences") || !strings.Contains(out, "but the log revoked it (registry entry registry-4)") {
		t.Errorf("audit with a stale --registry does not name where it differs:\n%s", out)
	}
	// A registry file alone does not verify a log with a genesis, and says what to pin.
	r = mustFail(t, 1, "break the admission rules", "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--no-rules")
	if !strings.Contains(r.stdout, "pin the root key's fingerprint (--root-key)") {
		t.Errorf("audit of a log with a genesis pinning only a registry file does not say to pin the root key:\n%s", r.stdout)
	}
	// Another root key pinned: nothing verifies.
	otherFP := strings.TrimSpace(strings.SplitAfter(must(t, "keygen", "--commission", "--out", filepath.Join(keys, "other")), "(auditors pin this): ")[1])
	r = mustFail(t, 1, "break the admission rules", "audit", "--log", logDir, "--vkey", vkey, "--root-key", otherFP, "--no-rules")
	if !strings.Contains(r.stdout, "no root key of the genesis has the pinned fingerprint "+otherFP) {
		t.Errorf("audit pinning another root key does not say why:\n%s", r.stdout)
	}
}

// keygen --member: a rotation back-dated before the key it replaces works
// (the earlier key is superseded), and a refused change leaves no file.
func TestMemberKeygenRotation(t *testing.T) {
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	keys := filepath.Join(work, "keys")
	must(t, "keygen", "--agency", "nco", "--out", filepath.Join(keys, "nco"), "--registry", reg)
	must(t, "keygen", "--member", "member-1", "--out", filepath.Join(keys, "member-1"), "--registry", reg)
	must(t, "keygen", "--member", "member-1", "--out", filepath.Join(keys, "member-1.term"), "--registry", reg, "--valid-from", "2026-04-01T00:00:00+09:00")
	raw, _ := os.ReadFile(reg)
	var r struct {
		Recipients []struct {
			ID        string `json:"id"`
			ValidFrom string `json:"valid_from"`
		} `json:"recipients"`
	}
	json.Unmarshal(raw, &r)
	if len(r.Recipients) != 1 || r.Recipients[0].ValidFrom != "2026-04-01T00:00:00+09:00" {
		t.Errorf("after a rotation back-dated to the start of the term: %s", raw)
	}
	mustFail(t, 2, "also an agency id", "keygen", "--member", "nco", "--out", filepath.Join(keys, "stray"), "--registry", reg)
	if _, err := os.Stat(filepath.Join(keys, "stray.age")); err == nil {
		t.Error("a refused keygen --member left its .age file")
	}
}

// genesisLedger is a ledger made as the README's trust walk-through makes
// one: a commission root key, one agency (nco, retention.deleted), one
// member, and init --root-key, which writes the genesis at index 0.
type genesisLedger struct {
	work, keys, reg, led, logDir, vkey string
	fp                                 string // the root key's fingerprint, the auditors' pin
	initOut                            string // what init printed
}

func newGenesisLedger(t *testing.T, origin string) *genesisLedger {
	t.Helper()
	work := t.TempDir()
	g := &genesisLedger{work: work, keys: filepath.Join(work, "keys"), reg: filepath.Join(work, "registry.json"), led: filepath.Join(work, "ledger")}
	g.logDir, g.vkey = filepath.Join(g.led, "log"), filepath.Join(g.led, "log.vkey")
	var kg struct {
		Fingerprint string `json:"root_key_fingerprint"`
	}
	if err := json.Unmarshal([]byte(must(t, "keygen", "--commission", "--out", filepath.Join(g.keys, "root"), "--json")), &kg); err != nil {
		t.Fatal(err)
	}
	g.fp = kg.Fingerprint
	must(t, "keygen", "--agency", "nco", "--out", filepath.Join(g.keys, "nco"), "--registry", g.reg, "--kinds", "retention.deleted")
	must(t, "keygen", "--member", "member-1", "--out", filepath.Join(g.keys, "member-1"), "--registry", g.reg)
	g.initOut = must(t, "init", "--dir", g.led, "--origin", origin, "--registry", g.reg, "--root-key", filepath.Join(g.keys, "root.key"))
	return g
}

// path is a file in the test's work directory.
func (g *genesisLedger) path(name string) string { return filepath.Join(g.work, name) }
