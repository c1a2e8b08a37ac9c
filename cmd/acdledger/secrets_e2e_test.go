package main_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// runPass runs acdledger with another key passphrase than the tests' own.
func runPass(t *testing.T, pass string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ACDLEDGER_KEY_PASSPHRASE="+pass)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func wantExit(t *testing.T, r result, code int, want string) {
	t.Helper()
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("exit %d, want %d with %q:\n%s%s", r.code, code, want, r.stdout, r.stderr)
	}
}

// Keys at rest: the members' and agencies' age identities, log.key and a
// witness key are written encrypted with the passphrase (age's passphrase
// files); encrypted member keys open entries; a wrong passphrase is exit 2;
// a key in the clear is refused unless --unencrypted-key says so.
func TestKeysEncryptedAtRest(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	keys := filepath.Join(ag, "keys")
	must(t, "demo", "generate", "--out", ag, "--seed", "3", "--entries", "40", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "secrets.acdledger.example/log", "--registry", reg)
	must(t, "witness", "keygen", "--name", "w1.commission.example", "--out", filepath.Join(work, "w1"))
	for _, f := range []string{filepath.Join(keys, "member-1.age"), filepath.Join(keys, "nco.age"), filepath.Join(led, "log.key"), filepath.Join(work, "w1.key")} {
		raw, _ := os.ReadFile(f)
		if !strings.HasPrefix(string(raw), "-----BEGIN AGE ENCRYPTED FILE-----\n") || strings.Contains(string(raw), "SECRET") || strings.Contains(string(raw), "PRIVATE") {
			t.Fatalf("%s is not an age passphrase file:\n%s", f, raw)
		}
	}

	// log.key: a wrong passphrase stops append and serve with exit 2.
	wantExit(t, runPass(t, "wrong", "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl")), 2, "log.key: cannot decrypt it (wrong passphrase?)")
	wantExit(t, runPass(t, "wrong", "serve", "--ledger", led, "--listen", "127.0.0.1:0"), 2, "wrong passphrase")
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))

	// Encrypted member identities open entries; a wrong passphrase is exit 2.
	open := []string{"open", "--identity", filepath.Join(keys, "member-1.age"), "--log", filepath.Join(led, "log"),
		"--vkey", filepath.Join(led, "log.vkey"), "--registry", reg}
	idx := firstSealed(t, led, reg, keys)
	must(t, append(open, idx)...)
	wantExit(t, runPass(t, "wrong", append(open, idx)...), 2, "member-1.age: cannot decrypt it (wrong passphrase?)")

	// A key in the clear: refused without the flag, used with it.
	regCopy, _ := os.ReadFile(reg)
	os.WriteFile(filepath.Join(work, "reg2.json"), regCopy, 0o644)
	must(t, "keygen", "--member", "member-9", "--out", filepath.Join(work, "plain"), "--registry", filepath.Join(work, "reg2.json"), "--unencrypted-key")
	plainID := filepath.Join(work, "plain.age")
	if raw, _ := os.ReadFile(plainID); !strings.Contains(string(raw), "AGE-SECRET-KEY-1") {
		t.Fatalf("--unencrypted-key did not write a plain identity:\n%s", raw)
	}
	plainOpen := append([]string{}, open...)
	plainOpen[2] = plainID
	mustFail(t, 2, "plain.age: the key file is not encrypted with a passphrase; encrypt it (acdledger key encrypt", append(plainOpen, idx)...)
	mustFail(t, 1, "none of the given identities", append(plainOpen, idx, "--unencrypted-key")...) // read, but not a recipient
	// key encrypt makes it acceptable.
	must(t, "key", "encrypt", plainID)
	mustFail(t, 1, "none of the given identities", append(plainOpen, idx)...)

	plainLed := filepath.Join(work, "plain-ledger")
	must(t, "init", "--dir", plainLed, "--origin", "plain.acdledger.example/log", "--registry", reg, "--unencrypted-key")
	mustFail(t, 2, "log.key: the key file is not encrypted with a passphrase", "append", "--ledger", plainLed, filepath.Join(ag, "part-1.dsse.jsonl"))
	mustFail(t, 2, "pass --unencrypted-key to use it as it is", "serve", "--ledger", plainLed, "--listen", "127.0.0.1:0")
	must(t, "append", "--ledger", plainLed, "--unencrypted-key", filepath.Join(ag, "part-1.dsse.jsonl"))

	// Witness keys likewise.
	wantExit(t, runPass(t, "wrong", "witness", "serve", "--key", filepath.Join(work, "w1.key"), "--state", filepath.Join(work, "ws"),
		"--log-vkey", filepath.Join(led, "log.vkey"), "--listen", "127.0.0.1:0"), 2, "wrong passphrase")
	must(t, "witness", "keygen", "--name", "w2.commission.example", "--out", filepath.Join(work, "w2"), "--unencrypted-key")
	mustFail(t, 2, "w2.key: the key file is not encrypted", "witness", "serve", "--key", filepath.Join(work, "w2.key"), "--state", filepath.Join(work, "ws2"),
		"--log-vkey", filepath.Join(led, "log.vkey"), "--listen", "127.0.0.1:0")
}

// firstSealed is the index of an entry sealed to member-1, found by
// auditing with its identity.
func firstSealed(t *testing.T, led, reg, keys string) string {
	t.Helper()
	for i := 0; i < 40; i++ {
		r := run(t, "open", "--identity", filepath.Join(keys, "member-1.age"), "--log", filepath.Join(led, "log"),
			"--vkey", filepath.Join(led, "log.vkey"), "--registry", reg, strconv.Itoa(i))
		if r.code == 0 {
			return strconv.Itoa(i)
		}
	}
	t.Fatal("no entry sealed to member-1")
	return ""
}
