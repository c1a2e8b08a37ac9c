package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveLogged starts serve like child, with its stderr (the JSON log)
// written to a file the test reads.
func serveLogged(t *testing.T, stderr string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	f, err := os.Create(stderr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stderr = f
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("acdledger serve did not start: %q %v", line, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// The witness policy and the rules configuration in force come from the
// log for an auditor pinning only the genesis (specs/registry.md, "What
// auditors do with policy.set and rules.adopted"): real witnesses on
// loopback cosign; a checkpoint meeting the policy set in the log passes,
// naming the policy.set entry; after a stricter policy.set, a checkpoint
// meeting only the old quorum fails naming the new entry, and serve warns
// that its --policy is no longer the log's; once serve runs with the new
// policy, the audit passes again. A --policy file given too is a
// cross-check naming where it differs. A rules configuration other than
// the adopted one is refused, naming both digests and the entry.
func TestPolicyAndRulesInForceFromLog(t *testing.T) {
	g := newGenesisLedger(t, "policy.acdledger.example/log")
	keys, led, logDir, vkey, fp, path := g.keys, g.led, g.logDir, g.vkey, g.fp, g.path
	logV, _ := os.ReadFile(vkey)

	// Two witnesses on loopback; policy A needs w1, policy B both.
	wline := map[string]string{}
	for _, w := range []string{"w1", "w2"} {
		key := filepath.Join(keys, w)
		must(t, "witness", "keygen", "--name", w+".commission.example", "--out", key)
		wv, _ := os.ReadFile(key + ".vkey")
		_, wurl := child(t, "witness", "serve", "--key", key+".key", "--state", path(w+"-state"), "--log-vkey", vkey, "--listen", "127.0.0.1:0")
		wline[w] = fmt.Sprintf("witness %s %s %s\n", w, strings.TrimSpace(string(wv)), wurl)
	}
	writePolicy := func(name, body string) string {
		f := path(name)
		os.WriteFile(f, []byte("log "+strings.TrimSpace(string(logV))+"\n"+body), 0o644)
		return f
	}
	policyA := writePolicy("policy-a", wline["w1"]+"quorum w1\n")
	policyB := writePolicy("policy-b", wline["w1"]+wline["w2"]+"group both all w1 w2\nquorum both\n")

	srv, url := serveLogged(t, path("serve-1.log"), "--ledger", led, "--listen", "127.0.0.1:0", "--policy", policyA)
	seq := 0
	appendEntry := func() {
		t.Helper()
		seq++
		occurred := time.Now().UTC().Format(time.RFC3339)
		e := map[string]any{"id": fmt.Sprintf("nco-%d", seq), "kind": "retention.deleted", "schema": 2, "agency": "nco",
			"seq": seq, "occurred_at": occurred, "case": "C-1", "legal_basis": map[string]string{"law": "acd-act", "article": "22"},
			"refs": []string{}, "body": map[string]any{"dataset": "DS-1", "created_at": occurred, "deleted_at": occurred, "n": 1}}
		raw, _ := json.Marshal(e)
		draft := path(fmt.Sprintf("nco-%d.json", seq))
		os.WriteFile(draft, raw, 0o644)
		env := path(fmt.Sprintf("nco-%d.dsse", seq))
		os.WriteFile(env, []byte(must(t, "sign", "--key", filepath.Join(keys, "nco.key"), draft)), 0o644)
		must(t, "append", "--server", url, "--receipts", path("receipts"), env)
	}
	receipt := func(n int) string { return filepath.Join(g.work, "receipts", fmt.Sprintf("nco-%d.tlog-proof", n)) }
	verifyReceipt := func(n int) result {
		return run(t, "verify", "receipt", "--vkey", vkey, "--root-key", fp, "--log", logDir, receipt(n))
	}
	changes := 0
	change := func(args ...string) {
		t.Helper()
		changes++
		env := path(fmt.Sprintf("change-%d.dsse", changes))
		args = append(args, "--root-key", filepath.Join(keys, "root.key"), "--log", logDir, "--vkey", vkey)
		os.WriteFile(env, []byte(must(t, append([]string{"registry"}, args...)...)), 0o644)
		must(t, "append", "--server", url, env)
	}
	type report struct {
		Policy *struct {
			EntryID     string   `json:"entry_id"`
			Index       uint64   `json:"index"`
			Cosigners   []string `json:"cosigners"`
			Differences []string `json:"policy_file_differences"`
			Error       string   `json:"error"`
		} `json:"witness_policy_in_force"`
		Rules *struct {
			EntryID string `json:"entry_id"`
			Version string `json:"version"`
		} `json:"rules_adopted"`
	}
	audit := func(code int, args ...string) (report, result) {
		t.Helper()
		r := run(t, append([]string{"audit", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--json"}, args...)...)
		if r.code != code {
			t.Fatalf("audit %v: exit %d, want %d\n%s%s", args, r.code, code, r.stdout, r.stderr)
		}
		var rep report
		if code != 2 {
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatalf("audit --json: %v\n%s", err, r.stdout)
			}
		}
		return rep, r
	}

	// Before any policy.set, the log's key alone is enough, as before.
	appendEntry()
	if rep, _ := audit(0, "--no-rules"); rep.Policy != nil {
		t.Fatalf("a log with no policy.set entry: want no policy in force, got %+v", rep.Policy)
	}

	// Policy A set in the log (registry-2): its quorum is met.
	change("set-policy", "--new-policy", policyA)
	appendEntry()
	rep, _ := audit(0, "--no-rules")
	if rep.Policy == nil || rep.Policy.EntryID != "registry-2" || rep.Policy.Index != 2 || strings.Join(rep.Policy.Cosigners, ",") != "w1" {
		t.Fatalf("want the checkpoint checked against registry-2 and cosigned by w1: %+v", rep.Policy)
	}
	text := must(t, "audit", "--log", logDir, "--vkey", vkey, "--root-key", fp, "--no-rules")
	if !strings.Contains(text, "witness policy in force at tree size") || !strings.Contains(text, "set by registry entry registry-2 (index 2") {
		t.Errorf("audit text does not name the policy entry used:\n%s", text)
	}
	// A --policy file is a cross-check: one listing w2 too (quorum still
	// w1, so it passes) names where it differs from the log's.
	wider := writePolicy("policy-wider", wline["w1"]+wline["w2"]+"quorum w1\n")
	r := run(t, "audit", "--log", logDir, "--policy", wider, "--root-key", fp, "--no-rules", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `the --policy file has \"witness w2`) {
		t.Errorf("audit --policy with a file that differs: exit %d, want the difference named\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Policy B set in the log (registry-3) while serve still publishes
	// with A: serve warns; the next checkpoint meets only the old quorum
	// and the audit fails naming registry-3.
	change("set-policy", "--new-policy", policyB)
	appendEntry()
	logged, _ := os.ReadFile(path("serve-1.log"))
	if !strings.Contains(string(logged), "the witness policy in force in the log differs from the one serve publishes with") ||
		!strings.Contains(string(logged), `"set_by":"registry-3"`) || !strings.Contains(string(logged), `the log's policy has \"witness w2`) {
		t.Errorf("serve does not warn that its --policy differs from the log's:\n%s", logged)
	}
	rep, r = audit(1, "--no-rules")
	if rep.Policy == nil || rep.Policy.EntryID != "registry-3" || !strings.Contains(rep.Policy.Error, "lacks the witness quorum") ||
		!strings.Contains(r.stderr, "registry entry registry-3 (index 4") {
		t.Fatalf("a checkpoint meeting only the old quorum: want a failure naming registry-3\n%s%s", r.stdout, r.stderr)
	}

	// Receipts too: nco-2's checkpoint (tree 4) was under policy A, nco-3's
	// (tree 6) is under B but cosigned by w1 only.
	if r := verifyReceipt(2); r.code != 0 || !strings.Contains(r.stdout, "witness policy of registry entry registry-2") {
		t.Errorf("verify receipt under policy A: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := verifyReceipt(3); r.code != 1 || !strings.Contains(r.stderr, "registry entry registry-3 (index 4") || !strings.Contains(r.stderr, "lacks the witness quorum") {
		t.Errorf("verify receipt of a checkpoint meeting only the old quorum: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// serve restarted with policy B: both witnesses cosign, the audit
	// passes, and serve no longer warns.
	srv.Process.Kill()
	srv.Wait()
	_, url = serveLogged(t, path("serve-2.log"), "--ledger", led, "--listen", "127.0.0.1:0", "--policy", policyB)
	appendEntry()
	rep, _ = audit(0, "--no-rules")
	if rep.Policy == nil || rep.Policy.EntryID != "registry-3" || strings.Join(rep.Policy.Cosigners, ",") != "w1,w2" || rep.Policy.Error != "" {
		t.Fatalf("with serve on the new policy: %+v", rep.Policy)
	}
	if r := verifyReceipt(4); r.code != 0 || !strings.Contains(r.stdout, "cosigned by w1, w2") {
		t.Errorf("verify receipt under policy B, cosigned by both: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if logged, _ := os.ReadFile(path("serve-2.log")); strings.Contains(string(logged), "differs from the one serve publishes with") {
		t.Errorf("serve on the log's policy still warns:\n%s", logged)
	}

	// Without a rules.adopted entry any configuration goes; once one is
	// adopted (the defaults, registry-4), another is refused.
	lag := path("rules.json")
	os.WriteFile(lag, []byte(`{"max_record_lag": "8760h"}`), 0o644)
	audit(0, "--rules-config", lag)
	change("adopt-rules", "--version", "2026.1")
	appendEntry()
	rep, _ = audit(0)
	if rep.Rules == nil || rep.Rules.EntryID != "registry-4" || rep.Rules.Version != "2026.1" {
		t.Fatalf("audit with the adopted configuration: want rules_adopted registry-4: %+v", rep.Rules)
	}
	_, r = audit(2, "--rules-config", lag)
	if !strings.Contains(r.stderr, "not the one adopted in the log") || !strings.Contains(r.stderr, "registry entry registry-4 adopted version 2026.1 with digest ") ||
		strings.Count(r.stderr, "sha256:") < 2 {
		t.Errorf("a rules configuration other than the adopted one: want both digests and the entry named\n%s", r.stderr)
	}
}
