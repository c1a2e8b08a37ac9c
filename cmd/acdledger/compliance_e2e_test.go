package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Compliance statements through the CLI: two members sign into one file,
// a 2-of-3 policy accepts it, one signature is not a quorum, an edited
// figure is refused, and bad keys or files are usage errors.
func TestComplianceCLI(t *testing.T) {
	work := t.TempDir()
	ag, led := filepath.Join(work, "agencies"), filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "5", "--entries", "80", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "compliance.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	pins := []string{"--log", filepath.Join(led, "log"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg}
	for _, m := range []string{"m1", "m2", "m3"} {
		must(t, "compliance", "keygen", "--name", "commission.example/"+m, "--out", filepath.Join(work, m))
	}
	cp, err := os.ReadFile(filepath.Join(led, "log", "checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	size := strings.Split(string(cp), "\n")[1]
	file := filepath.Join(led, "log", "compliance", size+".note")
	sign := func(m string) string {
		return must(t, append([]string{"compliance", "sign", "--key", filepath.Join(work, m+".skey"), "--as-of", "2027-04-04T00:00:00Z", "--out", file}, pins...)...)
	}
	if out := sign("m1"); !strings.Contains(out, "at tree size "+size+":") {
		t.Fatalf("sign output:\n%s", out)
	}
	one, _ := os.ReadFile(file)
	sign("m2")
	vk := func(m string) string {
		b, _ := os.ReadFile(filepath.Join(work, m+".vkey"))
		return strings.TrimSpace(string(b))
	}
	policy := filepath.Join(work, "members.txt")
	os.WriteFile(policy, []byte("member "+vk("m1")+"\nmember "+vk("m2")+"\nmember "+vk("m3")+"\nquorum 2\n"), 0o644)

	var res struct {
		OK        bool     `json:"ok"`
		Signers   []string `json:"signers"`
		Statement struct {
			Size uint64 `json:"tree_size"`
		} `json:"statement"`
	}
	if err := json.Unmarshal([]byte(must(t, "compliance", "verify", file, "--policy", policy, "--json")), &res); err != nil || !res.OK || len(res.Signers) != 2 || strconv.FormatUint(res.Statement.Size, 10) != size {
		t.Fatalf("verify --json: %v %+v", err, res)
	}
	must(t, "verify", "compliance", file, "--vkey", filepath.Join(work, "m1.vkey"), "--vkey", filepath.Join(work, "m2.vkey"))

	// Anyone holding the log replays it and gets the same statement; with
	// another configuration the config line differs.
	logArgs := []string{"--log", filepath.Join(led, "log"), "--log-vkey", filepath.Join(led, "log.vkey"), "--registry", reg}
	must(t, append([]string{"compliance", "verify", file, "--policy", policy}, logArgs...)...)
	cfg := filepath.Join(work, "rules.json")
	os.WriteFile(cfg, []byte(`{"clock_skew": "10m"}`), 0o644)
	mustFail(t, 1, "config: statement says sha256:", append([]string{"compliance", "verify", file, "--policy", policy, "--rules-config", cfg}, logArgs...)...)

	oneFile := filepath.Join(work, "one.note")
	os.WriteFile(oneFile, one, 0o644)
	mustFail(t, 1, "1 of the policy's members signed", "compliance", "verify", oneFile, "--policy", policy)
	mustFail(t, 1, "1 of the policy's members signed", "compliance", "verify", oneFile, "--vkey", filepath.Join(work, "m1.vkey"), "--vkey", filepath.Join(work, "m2.vkey"))

	raw, _ := os.ReadFile(file)
	edited := filepath.Join(work, "edited.note")
	os.WriteFile(edited, []byte(strings.Replace(string(raw), "\nsize "+size+"\n", "\nsize 1\n", 1)), 0o644)
	mustFail(t, 1, "not what the member signed", "compliance", "verify", edited, "--policy", policy)

	junk := filepath.Join(work, "junk.note")
	os.WriteFile(junk, []byte("acdledger-compliance/v1\n\n— x AAAA\n"), 0o644)
	mustFail(t, 2, "malformed", "compliance", "verify", junk, "--policy", policy)
	mustFail(t, 2, "give the members' keys", "compliance", "verify", file)
	badPolicy := filepath.Join(work, "bad.txt")
	os.WriteFile(badPolicy, []byte("member "+vk("m1")+"\nquorum 3\n"), 0o644)
	mustFail(t, 2, "quorum 3 of 1 members", "compliance", "verify", file, "--policy", badPolicy)
	mustFail(t, 2, "not a signed-note signing key", append([]string{"compliance", "sign", "--key", filepath.Join(work, "m1.vkey"), "--out", file}, pins...)...)
}
