package main_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// keygen from an empty directory: --out keys/nco creates keys/ (it failed
// with "open keys/nco.key: no such file or directory"); a second keygen to
// the same --out (the README's old key-rotation line) is refused, saying
// that a rotation takes a new --out, which then works.
func TestKeygenFreshDirectory(t *testing.T) {
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	must(t, "keygen", "--agency", "nco", "--out", filepath.Join(work, "keys", "nco"), "--registry", reg, "--name", "National Cybersecurity Office")
	must(t, "keygen", "--member", "member-1", "--out", filepath.Join(work, "keys", "deep", "member-1"), "--registry", reg)
	must(t, "witness", "keygen", "--name", "w1.commission.example", "--out", filepath.Join(work, "witnesses", "w1"))
	for _, f := range []string{"keys/nco.key", "keys/nco.pub", "keys/nco.age", "keys/deep/member-1.age", "witnesses/w1.key", "witnesses/w1.vkey"} {
		if _, err := os.Stat(filepath.Join(work, f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(work, "keys")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("keys/ made with mode %v (%v), want 0700", fi.Mode().Perm(), err)
	}
	mustFail(t, 2, "give another --out", "keygen", "--member", "member-1", "--out", filepath.Join(work, "keys", "deep", "member-1"), "--registry", reg)
	mustFail(t, 2, "give another --out", "keygen", "--agency", "nco", "--out", filepath.Join(work, "keys", "nco"))
	mustFail(t, 2, "give another --out", "witness", "keygen", "--name", "w1.commission.example", "--out", filepath.Join(work, "witnesses", "w1"))
	out := must(t, "keygen", "--member", "member-1", "--out", filepath.Join(work, "keys", "deep", "member-1.2027"), "--registry", reg, "--valid-from", "2027-04-01T00:00:00+09:00")
	if !strings.Contains(out, "registered in") {
		t.Fatalf("rotation: %s", out)
	}
}

// sign writes JSON Lines; two of its envelopes saved as .json are refused
// with the way out, not just "trailing data after the DSSE envelope". A
// .json holding one envelope, even pretty-printed, is still one document.
func TestTwoEnvelopesInDotJSON(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	must(t, "demo", "generate", "--out", ag, "--seed", "3", "--entries", "20", "--parts", "1")
	must(t, "init", "--dir", filepath.Join(work, "ledger"), "--origin", "snag.acdledger.example/log", "--registry", filepath.Join(ag, "registry.json"))
	data, _ := os.ReadFile(filepath.Join(ag, "part-1.dsse.jsonl"))
	lines := strings.SplitN(string(data), "\n", 3)
	two := filepath.Join(work, "two.dsse.json")
	os.WriteFile(two, []byte(lines[0]+"\n"+lines[1]+"\n"), 0o644)
	before := hashDir(t, filepath.Join(work, "ledger"))
	for _, args := range [][]string{
		{"append", "--ledger", filepath.Join(work, "ledger"), two},
		{"append", "--server", "http://127.0.0.1:1", two},
		{"sign", "--key", filepath.Join(ag, "keys", "nco.key"), two},
	} {
		r := mustFail(t, 2, "holds 2 JSON documents", args...)
		if !strings.Contains(r.stderr, ".jsonl") {
			t.Errorf("%s: no hint to use .jsonl: %s", args[0], r.stderr)
		}
	}
	if hashDir(t, filepath.Join(work, "ledger")) != before {
		t.Fatal("the ledger changed")
	}
	// the same two lines as .jsonl are appended
	jsonl := filepath.Join(work, "two.dsse.jsonl")
	os.Rename(two, jsonl)
	if out := must(t, "append", "--ledger", filepath.Join(work, "ledger"), jsonl); strings.Count(out, "appended index") != 2 {
		t.Fatalf("append .jsonl: %s", out)
	}
}

// append --server to a loopback port nothing listens on: exit 2 (not 1,
// "rejected"), naming the URL and the cause, after a bounded retry (it
// took 71 s before; the bound here is the client's tries, not a timer).
func TestAppendServerDown(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	must(t, "demo", "generate", "--out", ag, "--seed", "4", "--entries", "20", "--parts", "1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close() // a closed loopback port: connection refused
	r := mustFail(t, 2, "cannot reach "+url+"/add", "append", "--server", url, filepath.Join(ag, "part-1.dsse.jsonl"))
	for _, want := range []string{"connection refused", "after 5 tries", "0 of ", "sending them again is safe"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, r.stderr)
		}
	}
	if strings.Count(r.stderr, "cannot reach") != 1 {
		t.Errorf("the failure is reported more than once:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "rejected") {
		t.Errorf("a server that is down is not a rejection: %s", r.stderr)
	}
	// not a terminal: no retry lines
	if strings.Contains(r.stderr, "retrying in") {
		t.Errorf("retry progress printed without a terminal: %s", r.stderr)
	}
}

// On a terminal, append --server shows each retry round while the server
// does not answer, so a person is not left with silence. util-linux
// script(1) gives the command a pseudo-terminal.
func TestAppendServerDownShowsRetriesOnATerminal(t *testing.T) {
	scriptBin, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) is not installed: no pseudo-terminal to test with")
	}
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	must(t, "demo", "generate", "--out", ag, "--seed", "4", "--entries", "20", "--parts", "1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ln.Close()
	cmdline := bin + " append --server " + url + " " + filepath.Join(ag, "part-1.dsse.jsonl")
	out, err := exec.Command(scriptBin, "-qec", cmdline, "/dev/null").CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 {
		t.Fatalf("want exit 2, got %v:\n%s", err, out)
	}
	for _, want := range []string{"try 1 of 5 failed, retrying in", "try 4 of 5 failed", "cannot reach " + url} {
		if !strings.Contains(string(out), want) {
			t.Errorf("terminal output lacks %q:\n%s", want, out)
		}
	}
}
