package main_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
)

var bin string

// TestMain builds the real binary once; every test drives it as a user
// would, through its command line and exit codes.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "acdledger-e2e")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "acdledger")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building acdledger: %v\n%s", err, out)
		os.Exit(1)
	}
	// Child processes (serve, witness serve) read the key passphrase too.
	os.Setenv("ACDLEDGER_KEY_PASSPHRASE", "test-passphrase")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "ACDLEDGER_KEY_PASSPHRASE=test-passphrase")
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

// must runs a command that has to succeed.
func must(t *testing.T, args ...string) string {
	t.Helper()
	r := run(t, args...)
	if r.code != 0 {
		t.Fatalf("acdledger %s: exit %d\n%s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// mustFail runs a command that has to exit with code, its stderr naming want.
func mustFail(t *testing.T, code int, want string, args ...string) result {
	t.Helper()
	r := run(t, args...)
	if r.code != code || !strings.Contains(r.stderr, want) {
		t.Fatalf("acdledger %s: want exit %d with %q, got exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, r.code, r.stdout, r.stderr)
	}
	return r
}

func hashDir(t *testing.T, dir string) string {
	t.Helper()
	h := sha256.New()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".lock") {
			return err
		}
		b, _ := os.ReadFile(p)
		fmt.Fprintf(h, "%s\x00%x\x00", p, sha256.Sum256(b))
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if at < 0 {
		at += len(b)
	}
	b[at] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// sigByte marks a tampering case that flips a bit inside the checkpoint's
// first signature rather than at a byte offset.
const sigByte = math.MinInt

// flipSignatureBit flips one bit of the Ed25519 signature (after the 4-byte
// key hash) of the note's first signature line and re-encodes it, so the
// note stays well-formed and only the signature check can fail. Flipping a
// raw base64 character instead sometimes yields an invalid character, and
// the note is then refused as malformed before any signature is checked.
func flipSignatureBit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text, sigs, ok := strings.Cut(string(b), "\n\n")
	if !ok {
		t.Fatalf("%s: not a signed note", path)
	}
	lines := strings.Split(sigs, "\n")
	i := strings.LastIndex(lines[0], " ")
	raw, err := base64.StdEncoding.DecodeString(lines[0][i+1:])
	if err != nil || len(raw) < 5 {
		t.Fatalf("%s: signature line %q", path, lines[0])
	}
	raw[4] ^= 0x01
	lines[0] = lines[0][:i+1] + base64.StdEncoding.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(text+"\n\n"+strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}

type auditJSON struct {
	Size     uint64            `json:"tree_size"`
	Entries  uint64            `json:"entries"`
	ByKind   map[string]uint64 `json:"by_kind"`
	ByAgency map[string]struct {
		Entries uint64 `json:"entries"`
		LastSeq uint64 `json:"last_seq"`
	} `json:"by_agency"`
	FailureCount uint64 `json:"failure_count"`
	Rules        *struct {
		Checked        uint64 `json:"entries_checked"`
		ViolationCount uint64 `json:"violation_count"`
		Violations     []struct {
			Rule    string `json:"rule"`
			Index   uint64 `json:"index"`
			EntryID string `json:"entry_id"`
		} `json:"violations"`
	} `json:"rules"`
}

// The life of a ledger: generate ≥ 1000 agency-signed entries, append them
// in two steps, verify every receipt, consistency across growth, a full
// audit (from the directory and over HTTP), a refused NAINAI entry that
// leaves the log unchanged, then forks, rollbacks and tampering.
func TestEndToEnd(t *testing.T) {
	work := t.TempDir()
	ag := filepath.Join(work, "agencies")
	led := filepath.Join(work, "ledger")
	logDir := filepath.Join(led, "log")
	vkey := filepath.Join(led, "log.vkey")
	reg := filepath.Join(ag, "registry.json")
	state := filepath.Join(work, "auditor.state")
	evidence := filepath.Join(work, "evidence")

	must(t, "demo", "generate", "--out", ag, "--seed", "7", "--entries", "1200", "--parts", "2")
	must(t, "init", "--dir", led, "--origin", "e2e.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, "--receipts", filepath.Join(work, "receipts"), filepath.Join(ag, "part-1.dsse.jsonl"))
	out := must(t, "verify", "consistency", "--log", logDir, "--vkey", vkey, "--state", state)
	if !strings.HasPrefix(out, "first use") {
		t.Fatalf("first consistency check: %s", out)
	}
	atPart1 := filepath.Join(work, "log-at-part1")
	copyDir(t, led, atPart1)

	must(t, "append", "--ledger", led, "--receipts", filepath.Join(work, "receipts"), filepath.Join(ag, "part-2.dsse.jsonl"))
	out = must(t, "verify", "consistency", "--log", logDir, "--vkey", vkey, "--state", state, "--json")
	var cons struct{ Status string }
	json.Unmarshal([]byte(out), &cons)
	if cons.Status != "consistent" {
		t.Fatalf("after growth: %s", out)
	}
	out = must(t, "verify", "consistency", "--log", logDir, "--vkey", vkey, "--state", state)
	if !strings.HasPrefix(out, "unchanged") {
		t.Fatalf("no growth: %s", out)
	}

	receipts, _ := filepath.Glob(filepath.Join(work, "receipts", "*.tlog-proof"))
	if len(receipts) < 1000 {
		t.Fatalf("%d receipts, want ≥ 1000", len(receipts))
	}
	out = must(t, append([]string{"verify", "receipt", "--vkey", vkey, "--registry", reg}, receipts...)...)
	if n := strings.Count(out, "\nOK ") + 1; n != len(receipts) {
		t.Fatalf("%d receipts verified of %d", n, len(receipts))
	}

	var a auditJSON
	json.Unmarshal([]byte(must(t, "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--json")), &a)
	if a.Entries != uint64(len(receipts)) || a.Size != a.Entries || a.FailureCount != 0 || len(a.ByKind) < 19 {
		t.Fatalf("audit: %+v", a)
	}
	// The generated activity complies with every rule, whenever it is audited.
	if a.Rules == nil || a.Rules.Checked != a.Entries || a.Rules.ViolationCount != 0 {
		t.Fatalf("audit rules: %+v", a.Rules)
	}
	out = must(t, "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--as-of", "2040-01-01T00:00:00Z")
	if !strings.Contains(out, fmt.Sprintf("all %d entries comply with the 15 rules", a.Entries)) {
		t.Fatalf("audit text: %s", out)
	}
	// The log as it was after part 1 ends mid-case: acquisitions not yet
	// stopped, datasets not yet deleted. Judged as of long after, those
	// deadlines are missed: each is a violation in the table, exit 1.
	r := mustFail(t, 1, "compliance rule violations", "audit", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--registry", reg, "--as-of", "2040-01-01T00:00:00Z")
	if !strings.Contains(r.stdout, "VIOLATIONS:") || !regexp.MustCompile(`R11 +retention.deadline +[0-9]+ `).MatchString(r.stdout) || !strings.Contains(r.stdout, "no retention.deleted of dataset") {
		t.Fatalf("violations table: %s", r.stdout)
	}
	var cut auditJSON
	json.Unmarshal([]byte(mustFail(t, 1, "compliance rule violations", "audit", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--registry", reg, "--as-of", "2040-01-01T00:00:00Z", "--json").stdout), &cut)
	if cut.FailureCount != 0 || cut.Rules == nil || cut.Rules.ViolationCount == 0 || int(cut.Rules.ViolationCount) != len(cut.Rules.Violations) {
		t.Fatalf("cut log: %+v", cut)
	}
	must(t, "audit", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--registry", reg, "--no-rules")
	mustFail(t, 2, "unknown key", "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--rules-config", reg)
	mustFail(t, 2, "--as-of", "audit", "--log", logDir, "--vkey", vkey, "--registry", reg, "--as-of", "yesterday")
	srv := httptest.NewServer(http.FileServer(http.Dir(logDir)))
	defer srv.Close()
	var overHTTP auditJSON
	json.Unmarshal([]byte(must(t, "audit", "--log", srv.URL, "--vkey", vkey, "--registry", reg, "--json")), &overHTTP)
	if overHTTP.Entries != a.Entries || overHTTP.FailureCount != 0 {
		t.Fatalf("audit over HTTP: %+v", overHTTP)
	}

	// A refused entry: one line naming entry, field and rule; exit 1; the
	// log byte-for-byte unchanged.
	before := hashDir(t, logDir)
	r = mustFail(t, 1, "rule direction.nainai", "append", "--ledger", led, filepath.Join(ag, "rejected", "nainai.dsse.json"))
	if !strings.Contains(r.stderr, "entry DEMO-REJECTED-NAINAI: field body.direction") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("rejection is not one clear line: %q", r.stderr)
	}
	if hashDir(t, logDir) != before {
		t.Fatal("log changed after a rejected append")
	}

	t.Run("rollback", func(t *testing.T) {
		r := mustFail(t, 1, "ROLLBACK", "verify", "consistency", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--state", state, "--evidence", evidence)
		if ev, _ := filepath.Glob(filepath.Join(evidence, "rollback-*.json")); len(ev) != 1 {
			t.Fatalf("no evidence written: %v\n%s", ev, r.stderr)
		}
		// A second incident in the same directory is kept beside the
		// first, and --json names it.
		r = run(t, "verify", "consistency", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--state", state, "--evidence", evidence, "--json")
		var out struct {
			Status   string   `json:"status"`
			Evidence []string `json:"evidence"`
		}
		checkSnake(t, "consistency --json rollback", oneJSON(t, "consistency --json rollback", r.stdout))
		json.Unmarshal([]byte(r.stdout), &out)
		if ev, _ := filepath.Glob(filepath.Join(evidence, "rollback-*.json")); r.code != 1 || out.Status != "rollback" || len(out.Evidence) != 1 || len(ev) != 2 {
			t.Fatalf("second rollback: exit %d %+v %v\n%s", r.code, out, ev, r.stdout)
		}
	})

	t.Run("fork", func(t *testing.T) {
		// Two copies of the ledger at part 1, each given a different
		// next nco entry: same size, same key, different roots.
		var at1 auditJSON
		json.Unmarshal([]byte(must(t, "audit", "--log", filepath.Join(atPart1, "log"), "--vkey", vkey, "--registry", reg, "--json", "--no-rules")), &at1)
		seq := at1.ByAgency["nco"].LastSeq + 1
		views := []string{filepath.Join(work, "view-a"), filepath.Join(work, "view-b")}
		for i, v := range views {
			copyDir(t, atPart1, v)
			entry := fmt.Sprintf(`{"id":"FORK-%d","kind":"retention.deleted","schema":2,"agency":"nco","seq":%d,"occurred_at":"2026-11-01T00:00:00+09:00","case":"FORK","legal_basis":{"law":"acd-act","article":"22"},"refs":[],"body":{"dataset":"DS-FORK-%d","created_at":"2026-10-01T00:00:00+09:00","deleted_at":"2026-11-01T00:00:00+09:00","n":%d}}`, i, seq, i, i+1)
			f := filepath.Join(work, fmt.Sprintf("fork-%d.json", i))
			os.WriteFile(f, []byte(entry), 0o644)
			must(t, "append", "--ledger", v, "--key", filepath.Join(ag, "keys", "nco.key"), f)
		}
		forkState := filepath.Join(work, "fork.state")
		must(t, "verify", "consistency", "--log", filepath.Join(views[0], "log"), "--vkey", vkey, "--state", forkState)
		saved, _ := os.ReadFile(forkState)
		mustFail(t, 1, "FORK", "verify", "consistency", "--log", filepath.Join(views[1], "log"), "--vkey", vkey, "--state", forkState, "--evidence", filepath.Join(work, "fork-evidence"))
		if now, _ := os.ReadFile(forkState); !bytes.Equal(now, saved) {
			t.Fatal("state file changed although the check failed")
		}
		ev, _ := filepath.Glob(filepath.Join(work, "fork-evidence", "fork-*.json"))
		if len(ev) != 1 {
			t.Fatalf("fork evidence: %v", ev)
		}
		// The package proves the fork to anyone with the log's key.
		if out := must(t, "verify", "evidence", "--vkey", vkey, ev[0]); !strings.Contains(out, "PROVEN") || !strings.Contains(out, "fork") {
			t.Errorf("verify evidence: %s", out)
		}
	})

	t.Run("tampering", func(t *testing.T) {
		for _, tc := range []struct {
			name, file, want string
			at               int
			cmd              string
		}{
			{"entry bundle", "tile/entries/000", "root", 200, "audit"},
			{"hash tile", "tile/0/000", "tile/0/000", 100, "audit"},
			{"checkpoint", "checkpoint", "signature", sigByte, "audit"},
			{"checkpoint", "checkpoint", "signature", sigByte, "consistency"},
		} {
			t.Run(tc.name+" "+tc.cmd, func(t *testing.T) {
				dir := filepath.Join(t.TempDir(), "copy")
				copyDir(t, led, dir)
				if tc.at == sigByte {
					flipSignatureBit(t, filepath.Join(dir, "log", tc.file))
				} else {
					flipByte(t, filepath.Join(dir, "log", tc.file), tc.at)
				}
				if tc.cmd == "audit" {
					mustFail(t, 1, tc.want, "audit", "--log", filepath.Join(dir, "log"), "--vkey", vkey, "--registry", reg)
				} else {
					mustFail(t, 1, tc.want, "verify", "consistency", "--log", filepath.Join(dir, "log"), "--vkey", vkey, "--state", filepath.Join(t.TempDir(), "s"))
				}
			})
		}
	})

	t.Run("usage errors exit 2", func(t *testing.T) {
		mustFail(t, 2, "required", "audit", "--log", logDir) // no log key nor registry/root key
		mustFail(t, 2, "no such file", "verify", "receipt", "--vkey", vkey, "--registry", reg, filepath.Join(work, "missing.tlog-proof"))
		mustFail(t, 2, "tlog-proof", "verify", "receipt", "--vkey", vkey, "--registry", reg, reg)
		// A receipt saved with one newline too many (jq -r): the cause is named.
		rcs, _ := filepath.Glob(filepath.Join(work, "receipts", "*.tlog-proof"))
		rc, err := os.ReadFile(rcs[0])
		if err != nil {
			t.Fatal(err)
		}
		nl := filepath.Join(work, "newline.tlog-proof")
		os.WriteFile(nl, append(rc, '\n'), 0o644)
		mustFail(t, 2, "1 newline(s) after the checkpoint's last signature line", "verify", "receipt", "--vkey", vkey, "--registry", reg, nl)
		mustFail(t, 2, "not a ledger directory", "append", "--ledger", work, filepath.Join(ag, "part-1.dsse.jsonl"))
	})
}

// keygen (Ed25519 and ECDSA P-256), registry building, init, sign, and
// append --key, through the CLI only.
func TestKeygenSignAppend(t *testing.T) {
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	must(t, "keygen", "--agency", "nco", "--out", filepath.Join(work, "nco"), "--registry", reg, "--name", "National Cybersecurity Office")
	must(t, "keygen", "--agency", "commission", "--role", "commission", "--algorithm", "ecdsa-p256", "--out", filepath.Join(work, "commission"), "--registry", reg)
	if fi, err := os.Stat(filepath.Join(work, "nco.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode: %v %v", fi.Mode(), err)
	}
	if key, _ := os.ReadFile(filepath.Join(work, "nco.key")); !bytes.Contains(key, []byte("ENCRYPTED")) {
		t.Fatal("private key is not encrypted")
	}
	mustFail(t, 2, "exists", "keygen", "--agency", "nco", "--out", filepath.Join(work, "nco"))
	led := filepath.Join(work, "ledger")
	must(t, "init", "--dir", led, "--origin", "keys.acdledger.example/log", "--registry", reg)

	req := filepath.Join(work, "request.json")
	os.WriteFile(req, []byte(`{"id":"REQ-1","kind":"approval.requested","schema":2,"agency":"nco","seq":1,"occurred_at":"2026-07-01T09:00:00+09:00","case":"NCO-2026-0001","legal_basis":{"law":"acd-act","article":"17","paragraph":"1"},"refs":[],"body":{"measure":"transit_sending","direction":"GAIGAI","requested_from":"2026-07-02T00:00:00+09:00","requested_until":"2026-09-30T00:00:00+09:00","grounds":{"suspicion":true,"facts_unclear":true,"no_other_means":true}}}`), 0o644)
	signed := filepath.Join(work, "request.dsse.json")
	os.WriteFile(signed, []byte(must(t, "sign", "--key", filepath.Join(work, "nco.key"), req)), 0o644)
	must(t, "append", "--ledger", led, "--receipts", filepath.Join(work, "receipts"), signed)

	dec := filepath.Join(work, "decision.json")
	os.WriteFile(dec, []byte(`{"id":"DEC-1","kind":"approval.decided","schema":2,"agency":"commission","seq":1,"occurred_at":"2026-07-01T15:00:00+09:00","case":"NCO-2026-0001","legal_basis":{"law":"acd-act","article":"17","paragraph":"1"},"refs":["REQ-1"],"body":{"request":"REQ-1","decision":"approved","decided_at":"2026-07-01T15:00:00+09:00","approved_from":"2026-07-02T00:00:00+09:00","approved_until":"2026-09-30T00:00:00+09:00"}}`), 0o644)
	// The wrong agency's key: refused, and the log is unchanged.
	before := hashDir(t, filepath.Join(led, "log"))
	mustFail(t, 1, "rule key.unknown", "append", "--ledger", led, "--key", filepath.Join(work, "nco.key"), dec)
	// One reading of every byte (specs/strict.md): a draft two JSON readers
	// would read differently is refused before it is signed, naming the
	// field; so is a signed envelope whose payload is not canonical.
	dup := filepath.Join(work, "duplicate.json")
	os.WriteFile(dup, []byte(strings.Replace(string(readFile(t, req)), `"agency":"nco"`, `"agency":"nco","agency":"npa"`, 1)), 0o644)
	mustFail(t, 1, "field agency: rule payload.json", "sign", "--key", filepath.Join(work, "nco.key"), dup)
	mustFail(t, 1, "field agency: rule payload.json", "append", "--ledger", led, "--key", filepath.Join(work, "nco.key"), dup)
	v, err := specs.LoadVectors("../../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range v.Cases {
		if c.Rule == specs.RulePayloadJSON || c.Rule == specs.RulePayloadCanonical || c.Rule == specs.RuleEnvelope {
			f := filepath.Join(work, "vector.dsse.json")
			os.WriteFile(f, c.Bytes(), 0o644)
			mustFail(t, 1, "rule "+c.Rule, "append", "--ledger", led, f)
		}
	}
	if hashDir(t, filepath.Join(led, "log")) != before {
		t.Fatal("log changed")
	}
	out := must(t, "append", "--ledger", led, "--receipts", filepath.Join(work, "receipts"), "--key", filepath.Join(work, "commission.key"), "--json", dec)
	var res []struct {
		Index   uint64
		Receipt string
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 1 || res[0].Index != 1 {
		t.Fatalf("append --json: %s %v", out, err)
	}
	must(t, "verify", "receipt", "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg, res[0].Receipt, filepath.Join(work, "receipts", "REQ-1.tlog-proof"))
	// A wrong passphrase is an input error.
	cmd := exec.Command(bin, "sign", "--key", filepath.Join(work, "nco.key"), req)
	cmd.Env = append(os.Environ(), "ACDLEDGER_KEY_PASSPHRASE=wrong")
	if err := cmd.Run(); err == nil || err.(*exec.ExitError).ExitCode() != 2 {
		t.Fatalf("wrong passphrase: %v", err)
	}
}
