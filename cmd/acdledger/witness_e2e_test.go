package main_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// child starts a long-running acdledger command that prints
// "listening on URL" first, and returns the process and the URL.
func child(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
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
		t.Fatalf("acdledger %s did not start: %q %v", strings.Join(args, " "), line, err)
	}
	return cmd, strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

// Three commission witnesses on loopback, quorum 2 of 3: appends publish
// with at least two cosignatures; with one witness down publishing goes on;
// with two down, appends are durable but nothing new is published until one
// returns, and then everything publishes and verifies against the policy.
func TestWitnessQuorum(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "5", "--entries", "300", "--parts", "3")
	must(t, "init", "--dir", led, "--origin", "witnessed.acdledger.example/log", "--registry", reg)
	logVkey, _ := os.ReadFile(filepath.Join(led, "log.vkey"))

	type wit struct {
		name, key, state, url string
		cmd                   *exec.Cmd
	}
	var ws []*wit
	policy := "log " + strings.TrimSpace(string(logVkey)) + "\n"
	for i := 1; i <= 3; i++ {
		w := &wit{name: fmt.Sprintf("member%d", i), key: filepath.Join(work, fmt.Sprintf("w%d", i)), state: filepath.Join(work, fmt.Sprintf("w%d-state", i))}
		must(t, "witness", "keygen", "--name", w.name+".commission.example", "--out", w.key)
		vkey, _ := os.ReadFile(w.key + ".vkey")
		w.cmd, w.url = child(t, "witness", "serve", "--key", w.key+".key", "--state", w.state, "--log-vkey", filepath.Join(led, "log.vkey"), "--listen", "127.0.0.1:0")
		policy += fmt.Sprintf("witness %s %s %s\n", w.name, strings.TrimSpace(string(vkey)), w.url)
		ws = append(ws, w)
	}
	policy += "group members 2 member1 member2 member3\nquorum members\n"
	policyFile := filepath.Join(work, "policy")
	os.WriteFile(policyFile, []byte(policy), 0o644)

	srv, url := child(t, "serve", "--ledger", led, "--listen", "127.0.0.1:0", "--policy", policyFile, "--wait-timeout", "3s")
	pins, err := verifier.LoadPolicyPins(policyFile, reg)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := tlog.Open(url)
	published := func() uint64 {
		cp, err := src.Checkpoint(context.Background(), pins.Trust)
		if err != nil {
			t.Fatalf("checkpoint without quorum published: %v", err)
		}
		return cp.Size
	}

	// All three up, then one down: receipts carry ≥ 2 cosignatures.
	rec := filepath.Join(work, "receipts")
	must(t, "append", "--server", url, "--receipts", rec, filepath.Join(ag, "part-1.dsse.jsonl"))
	ws[2].cmd.Process.Kill()
	ws[2].cmd.Wait()
	must(t, "append", "--server", url, "--receipts", rec, filepath.Join(ag, "part-2.dsse.jsonl"))
	receipts, _ := filepath.Glob(filepath.Join(rec, "*.tlog-proof"))
	out := must(t, append([]string{"verify", "receipt", "--policy", policyFile, "--registry", reg}, receipts...)...)
	if strings.Count(out, "cosigned by member") != len(receipts) {
		t.Fatalf("receipts without cosigners:\n%s", out)
	}

	// Two down: appends are acknowledged durably, nothing new publishes.
	ws[1].cmd.Process.Kill()
	ws[1].cmd.Wait()
	before := published()
	c, _ := submit.New(url)
	data, _ := os.ReadFile(filepath.Join(ag, "part-3.dsse.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	for _, l := range lines {
		if _, err := c.Add(context.Background(), []byte(l), false); err != nil {
			t.Fatalf("append without quorum was not acknowledged: %v", err)
		}
	}
	time.Sleep(2 * time.Second)
	if got := published(); got != before {
		t.Fatalf("published size %d → %d without the quorum", before, got)
	}
	// /healthz says so and names the two missing witnesses; the metrics
	// count their failures.
	status, body := waitHealth(t, url, func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "member2, member3")
	})
	if !strings.Contains(body, "witness quorum lost") || strings.Contains(body, "member1") {
		t.Fatalf("/healthz %d: %q", status, body)
	}
	metrics := get(t, url+"/metrics")
	for _, want := range []string{`acdledger_degraded{reason="witness_quorum"} 1`, `acdledger_witness_up{witness="member1"} 1`,
		`acdledger_witness_up{witness="member3"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %s", want)
		}
	}
	if !regexp.MustCompile(`acdledger_witness_failures_total\{witness="member2"\} [1-9]`).MatchString(metrics) {
		t.Fatal("metrics count no failure of member2")
	}
	// A ?wait=false retry of an entry the ledger holds is answered from the
	// log (one answer, no retries by a client), though nothing publishes.
	resp, err := http.Post(url+"/add?wait=false", "application/json", strings.NewReader(lines[0]))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(raw), `"existing":true`) {
		t.Fatalf("?wait=false retry without quorum: %d %s", resp.StatusCode, raw)
	}

	// One returns (from its state): everything publishes and verifies.
	ws[1].cmd, _ = child(t, "witness", "serve", "--key", ws[1].key+".key", "--state", ws[1].state, "--log-vkey", filepath.Join(led, "log.vkey"), "--listen", strings.TrimPrefix(ws[1].url, "http://"))
	want := before + uint64(len(lines))
	for deadline := time.Now().Add(30 * time.Second); published() < want; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after the quorum returned, published size %d, want %d", published(), want)
		}
	}
	waitHealth(t, url, func(code int, body string) bool { return code == http.StatusOK })
	for _, l := range lines {
		res, err := c.Add(context.Background(), []byte(l), true)
		if err != nil || !res.Existing {
			t.Fatalf("receipt after recovery: %+v %v", res, err)
		}
		if _, err := pins.VerifyReceipt([]byte(res.Receipt), nil); err != nil {
			t.Fatal(err)
		}
	}
	// The generated entries occurred months before they are appended now:
	// audit dates them by witness time (specs/checkpoints.md) and would
	// call them back-dated with the default 72h of record lag. Allow a
	// year, as the demo does.
	lag := filepath.Join(work, "rules.json")
	os.WriteFile(lag, []byte(`{"max_record_lag": "8760h"}`), 0o644)
	out = must(t, "audit", "--log", url, "--policy", policyFile, "--registry", reg, "--rules-config", lag)
	if !strings.Contains(out, "cosigned by member1") {
		t.Fatalf("audit does not name the cosigners:\n%s", out)
	}
	// An auditor's copy of the policy needs no witness URLs (tlog-policy
	// makes them optional): the same quorum is checked.
	var noURLs []string
	for _, l := range strings.Split(policy, "\n") {
		if f := strings.Fields(l); len(f) == 4 && f[0] == "witness" {
			l = strings.Join(f[:3], " ")
		}
		noURLs = append(noURLs, l)
	}
	os.WriteFile(policyFile+".auditor", []byte(strings.Join(noURLs, "\n")), 0o644)
	out = must(t, "audit", "--log", url, "--policy", policyFile+".auditor", "--registry", reg, "--rules-config", lag)
	if !strings.Contains(out, "cosigned by member1") {
		t.Fatalf("audit with a policy without URLs does not name the cosigners:\n%s", out)
	}
	// Auditors pinning the policy refuse the log's key alone as enough.
	strict := strings.Replace(policy, "group members 2", "group members 3", 1)
	os.WriteFile(policyFile+".strict", []byte(strict), 0o644)
	mustFail(t, 1, "lacks the witness quorum", "audit", "--log", url, "--policy", policyFile+".strict", "--registry", reg)

	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
}

// waitHealth polls /healthz until ok says its answer is the one wanted
// (the witnesses' state is learnt from the log's next attempt to publish).
func waitHealth(t *testing.T, url string, ok func(code int, body string) bool) (int, string) {
	t.Helper()
	var code int
	var body string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if code, body = resp.StatusCode, string(raw); ok(code, body) {
			return code, body
		}
	}
	t.Fatalf("/healthz stays %d: %q", code, body)
	return 0, ""
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// A witness policy turned on for a log that has entries gets the current
// checkpoint cosigned at once, without a new entry: a retry of an earlier
// entry then has a receipt that verifies against the policy.
func TestPolicyOnExistingLog(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "6", "--entries", "20", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "later.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	logVkey, _ := os.ReadFile(filepath.Join(led, "log.vkey"))
	key := filepath.Join(work, "w1")
	must(t, "witness", "keygen", "--name", "member1.commission.example", "--out", key)
	vkey, _ := os.ReadFile(key + ".vkey")
	_, wurl := child(t, "witness", "serve", "--key", key+".key", "--state", filepath.Join(work, "w1-state"), "--log-vkey", filepath.Join(led, "log.vkey"), "--listen", "127.0.0.1:0")
	policyFile := filepath.Join(work, "policy")
	os.WriteFile(policyFile, []byte("log "+strings.TrimSpace(string(logVkey))+"\nwitness member1 "+strings.TrimSpace(string(vkey))+" "+wurl+"\nquorum member1\n"), 0o644)
	pins, err := verifier.LoadPolicyPins(policyFile, reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, url := child(t, "serve", "--ledger", led, "--listen", "127.0.0.1:0", "--policy", policyFile)
	data, _ := os.ReadFile(filepath.Join(ag, "part-1.dsse.jsonl"))
	first := strings.SplitN(string(data), "\n", 2)[0]
	c, _ := submit.New(url)
	res, err := c.Add(context.Background(), []byte(first), true)
	if err != nil || !res.Existing {
		t.Fatalf("retry of a logged entry: %+v %v", res, err)
	}
	if _, err := pins.VerifyReceipt([]byte(res.Receipt), nil); err != nil {
		t.Fatalf("the receipt of an earlier entry does not verify against the new policy: %v", err)
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
}

// serve --policy refuses, before starting, a policy that auditors would read
// differently or that it cannot use, naming the line and the rule.
func TestServePolicyRefused(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	must(t, "demo", "generate", "--out", ag, "--seed", "5", "--entries", "3", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "refused.acdledger.example/log", "--registry", filepath.Join(ag, "registry.json"))
	must(t, "init", "--dir", filepath.Join(work, "other"), "--origin", "other.acdledger.example/log", "--registry", filepath.Join(ag, "registry.json"))
	logVkey, _ := os.ReadFile(filepath.Join(led, "log.vkey"))
	otherVkey, _ := os.ReadFile(filepath.Join(work, "other", "log.vkey"))
	var vkeys []string
	for i := 1; i <= 2; i++ {
		key := filepath.Join(work, fmt.Sprintf("w%d", i))
		must(t, "witness", "keygen", "--name", fmt.Sprintf("member%d.commission.example", i), "--out", key)
		v, _ := os.ReadFile(key + ".vkey")
		vkeys = append(vkeys, strings.TrimSpace(string(v)))
	}
	logLine := "log " + strings.TrimSpace(string(logVkey)) + "\n"
	w1 := "witness member1 " + vkeys[0] + " http://127.0.0.1:1/\n"
	for _, c := range []struct{ name, policy, want string }{
		{"a witness without URL", logLine + w1 + "witness member2 " + vkeys[1] + "\ngroup g all member1 member2\nquorum g\n",
			"policy line 3: witness member2 has no URL"},
		{"threshold 0", logLine + w1 + "group g 0 member1\nquorum g\n", "policy line 3: group g: threshold 0"},
		{"a member twice", logLine + w1 + "group g 2 member1 member1\nquorum g\n", "(rule member-twice)"},
		{"one key twice", logLine + w1 + "witness member1bis " + vkeys[0] + " http://127.0.0.1:2/\ngroup g 2 member1 member1bis\nquorum g\n", "(rule witness-duplicate)"},
		{"another log's key", "log " + strings.TrimSpace(string(otherVkey)) + "\n" + w1 + "quorum member1\n", "(rule acdledger/other-log)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(work, strings.ReplaceAll(c.name, " ", "-"))
			os.WriteFile(file, []byte(c.policy), 0o644)
			mustFail(t, 2, c.want, "serve", "--ledger", led, "--listen", "127.0.0.1:0", "--policy", file)
		})
	}
}
