package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// audit --resume: the members sign a statement with the state saved, the
// log grows, and an audit that starts from the state (the statement found
// beside the checkpoints, in the directory or over HTTP) gives the full
// audit's verdict; a state the statement does not vouch for is refused.
func TestAuditResume(t *testing.T) {
	work := t.TempDir()
	ag, led := filepath.Join(work, "agencies"), filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "7", "--entries", "160", "--parts", "2")
	must(t, "init", "--dir", led, "--origin", "resume.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	logDir, vkey := filepath.Join(led, "log"), filepath.Join(led, "log.vkey")
	pins := []string{"--vkey", vkey, "--registry", reg}
	vk := map[string]string{}
	state := filepath.Join(work, "part-1.state")
	note := filepath.Join(work, "part-1.note")
	for _, m := range []string{"m1", "m2", "m3"} {
		must(t, "compliance", "keygen", "--name", "commission.example/"+m, "--out", filepath.Join(work, m))
		b, _ := os.ReadFile(filepath.Join(work, m+".vkey"))
		vk[m] = strings.TrimSpace(string(b))
	}
	for _, m := range []string{"m1", "m2"} {
		must(t, append([]string{"compliance", "sign", "--log", logDir, "--key", filepath.Join(work, m+".skey"),
			"--as-of", "2026-04-01T00:00:00Z", "--out", note, "--save-state", state}, pins...)...)
	}
	policy := filepath.Join(work, "members.txt")
	os.WriteFile(policy, []byte("member "+vk["m1"]+"\nmember "+vk["m2"]+"\nmember "+vk["m3"]+"\nquorum 2\n"), 0o644)
	must(t, "compliance", "publish", note, "--ledger", led, "--policy", policy)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-2.dsse.jsonl"))

	type report struct {
		Size         uint64 `json:"tree_size"`
		Entries      uint64 `json:"entries"`
		FailureCount uint64 `json:"failure_count"`
		ResumedAt    uint64 `json:"resumed_at"`
		TreeVerified bool   `json:"tree_verified"`
		Rules        struct {
			ViolationCount uint64 `json:"violation_count"`
		} `json:"rules"`
	}
	audit := func(args ...string) (report, int) {
		r := run(t, append(append([]string{"audit", "--as-of", "2027-04-04T00:00:00Z", "--json"}, pins...), args...)...)
		var rep report
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatalf("audit %v: exit %d, %v\n%s%s", args, r.code, err, r.stdout, r.stderr)
		}
		return rep, r.code
	}
	full, fullCode := audit("--log", logDir)
	resumed, code := audit("--log", logDir, "--resume", state, "--members", policy)
	if resumed.ResumedAt == 0 || resumed.ResumedAt >= full.Size || code != fullCode || resumed.Size != full.Size || resumed.Entries != full.Entries ||
		resumed.FailureCount != full.FailureCount || resumed.Rules.ViolationCount != full.Rules.ViolationCount || !resumed.TreeVerified {
		t.Fatalf("full audit (exit %d) %+v, resumed (exit %d) %+v", fullCode, full, code, resumed)
	}
	s := startServer(t, led)
	defer func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}()
	if overHTTP, code := audit("--log", s.url, "--resume", state, "--members", policy); code != fullCode || overHTTP.Rules.ViolationCount != full.Rules.ViolationCount {
		t.Fatalf("resumed over HTTP (exit %d): %+v", code, overHTTP)
	}

	// One signature is not the quorum; a state not in its one encoding is
	// a usage error; --resume needs the members. (A state edited to another
	// valid one is refused by its digest: verifier/compliance tests it.)
	one := filepath.Join(work, "one.txt")
	os.WriteFile(one, []byte("member "+vk["m3"]+"\nmember "+vk["m1"]+"\nquorum 2\n"), 0o644)
	mustFail(t, 1, "1 of the policy's members signed", append([]string{"audit", "--log", logDir, "--resume", state, "--members", one}, pins...)...)
	raw, _ := os.ReadFile(state)
	spaced := filepath.Join(work, "spaced.state")
	os.WriteFile(spaced, []byte(strings.Replace(string(raw), `{"format":`, `{ "format":`, 1)), 0o644)
	mustFail(t, 2, "not in its one encoding", append([]string{"audit", "--log", logDir, "--resume", spaced, "--members", policy}, pins...)...)
	mustFail(t, 2, "--resume needs the members' policy", append([]string{"audit", "--log", logDir, "--resume", state}, pins...)...)
	mustFail(t, 2, "--resume goes without", append([]string{"audit", "--log", logDir, "--resume", state, "--members", policy, "--no-rules"}, pins...)...)
	mustFail(t, 2, "--statement: ", append([]string{"audit", "--log", logDir, "--resume", state, "--members", policy, "--statement", filepath.Join(work, "none.note")}, pins...)...)
	// The statement of another tree: the state's size differs from it.
	must(t, append([]string{"compliance", "sign", "--log", logDir, "--key", filepath.Join(work, "m1.skey"), "--as-of", "2026-04-01T00:00:00Z", "--out", filepath.Join(work, "later.note")}, pins...)...)
	must(t, append([]string{"compliance", "sign", "--log", logDir, "--key", filepath.Join(work, "m2.skey"), "--as-of", "2026-04-01T00:00:00Z", "--out", filepath.Join(work, "later.note")}, pins...)...)
	mustFail(t, 1, "tree_size: the state is at size", append([]string{"audit", "--log", logDir, "--resume", state, "--members", policy, "--statement", filepath.Join(work, "later.note")}, pins...)...)
}
