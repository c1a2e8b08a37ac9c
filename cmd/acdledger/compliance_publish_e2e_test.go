package main_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// compliance publish stores a statement only once its quorum signed it
// and it is about this log's tree; later signatures merge into the stored
// file; serve publishes it at /compliance/<N>.note, where verify
// compliance reads it by URL.
func TestCompliancePublishServe(t *testing.T) {
	work := t.TempDir()
	ag, led := filepath.Join(work, "agencies"), filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "6", "--entries", "40", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "publish.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	pins := []string{"--log", filepath.Join(led, "log"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg}
	vk := map[string]string{}
	for _, m := range []string{"m1", "m2", "m3"} {
		must(t, "compliance", "keygen", "--name", "commission.example/"+m, "--out", filepath.Join(work, m))
		b, _ := os.ReadFile(filepath.Join(work, m+".vkey"))
		vk[m] = strings.TrimSpace(string(b))
	}
	sign := func(m string) string {
		out := filepath.Join(work, m+".note")
		must(t, append([]string{"compliance", "sign", "--key", filepath.Join(work, m+".skey"), "--as-of", "2027-04-04T00:00:00Z", "--out", out}, pins...)...)
		return out
	}
	s1, s2 := sign("m1"), sign("m2")
	policy := filepath.Join(work, "members.txt")
	os.WriteFile(policy, []byte("member "+vk["m1"]+"\nmember "+vk["m2"]+"\nmember "+vk["m3"]+"\nquorum 2\n"), 0o644)
	lenient := filepath.Join(work, "one-of-three.txt")
	os.WriteFile(lenient, []byte("member "+vk["m1"]+"\nmember "+vk["m2"]+"\nmember "+vk["m3"]+"\nquorum 1\n"), 0o644)

	// One signature is not the quorum of two: nothing is stored.
	mustFail(t, 1, "1 of the policy's members signed", "compliance", "publish", s1, "--ledger", led, "--policy", policy)
	if _, err := os.Stat(filepath.Join(led, "log", "compliance")); !os.IsNotExist(err) {
		t.Fatalf("a refused statement left something behind: %v", err)
	}
	// An altered statement is refused, whatever the policy.
	raw, _ := os.ReadFile(s1)
	edited := filepath.Join(work, "edited.note")
	os.WriteFile(edited, []byte(strings.Replace(string(raw), "\nviolations ", "\nviolations 9", 1)), 0o644)
	mustFail(t, 1, "not what the member signed", "compliance", "publish", edited, "--ledger", led, "--policy", lenient)

	out := must(t, "compliance", "publish", s1, "--ledger", led, "--policy", lenient)
	if !strings.Contains(out, "signed by commission.example/m1\n") {
		t.Fatalf("publish: %s", out)
	}
	// m2's copy merges into the stored file, which now meets the quorum of 2.
	if out := must(t, "compliance", "publish", s2, "--ledger", led, "--policy", lenient); !strings.Contains(out, "signed by commission.example/m1, commission.example/m2\n") {
		t.Fatalf("publish of the second copy: %s", out)
	}
	stored, _ := filepath.Glob(filepath.Join(led, "log", "compliance", "*.note"))
	if len(stored) != 1 {
		t.Fatalf("stored: %v", stored)
	}
	must(t, "compliance", "verify", stored[0], "--policy", policy)

	// A statement about another log is refused.
	other := filepath.Join(work, "other")
	must(t, "init", "--dir", other, "--origin", "other.acdledger.example/log", "--registry", reg)
	mustFail(t, 1, "this ledger is other.acdledger.example/log", "compliance", "publish", stored[0], "--ledger", other, "--policy", policy)
	mustFail(t, 2, "give the members' keys", "compliance", "publish", s1, "--ledger", led)

	s := startServer(t, led)
	defer func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		s.cmd.Wait()
	}()
	url := s.url + "/compliance/" + filepath.Base(stored[0])
	if out := must(t, "verify", "compliance", url, "--policy", policy); !strings.HasPrefix(out, "OK: publish.acdledger.example/log") {
		t.Fatalf("verify by URL: %s", out)
	}
	mustFail(t, 2, "404 Not Found", "verify", "compliance", s.url+"/compliance/999999.note", "--policy", policy)
}
