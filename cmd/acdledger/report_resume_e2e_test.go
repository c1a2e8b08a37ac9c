package main_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// report annual --resume: the members sign a statement at the start of
// fiscal year 2026 with the state saved; the year's entries are appended;
// the report that starts from the state is byte for byte the report over
// the whole log (the year's entries that refer to earlier ones — batches of
// acquisitions started in the previous year, decisions on its requests —
// read back from the log), and report verify accepts it both ways.
func TestReportResume(t *testing.T) {
	work := t.TempDir()
	ag, led := filepath.Join(work, "agencies"), filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "7", "--entries", "200", "--parts", "1",
		"--start", "2026-01-05T00:00:00+09:00", "--end", "2026-06-30T00:00:00+09:00")
	// Split the entries (in log order, occurred_at rising) at the year's start.
	before, during := splitAt(t, filepath.Join(ag, "part-1.dsse.jsonl"), "2026-04-01T00:00:00+09:00")
	if before == "" || during == "" {
		t.Fatal("the generated entries do not straddle 2026-04-01")
	}
	prev, year := filepath.Join(work, "fy2025.dsse.jsonl"), filepath.Join(work, "fy2026.dsse.jsonl")
	os.WriteFile(prev, []byte(before), 0o644)
	os.WriteFile(year, []byte(during), 0o644)
	must(t, "init", "--dir", led, "--origin", "report-resume.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, prev)
	logDir, vkey := filepath.Join(led, "log"), filepath.Join(led, "log.vkey")
	pins := []string{"--vkey", vkey, "--registry", reg}
	state, note := filepath.Join(work, "fy2025.state"), filepath.Join(work, "fy2025.note")
	var members []string
	for _, m := range []string{"m1", "m2"} {
		must(t, "compliance", "keygen", "--name", "commission.example/"+m, "--out", filepath.Join(work, m))
		b, _ := os.ReadFile(filepath.Join(work, m+".vkey"))
		members = append(members, "member "+strings.TrimSpace(string(b)))
		must(t, append([]string{"compliance", "sign", "--log", logDir, "--key", filepath.Join(work, m+".skey"),
			"--as-of", "2026-03-31T15:00:00Z", "--out", note, "--save-state", state}, pins...)...)
	}
	policy := filepath.Join(work, "members.txt")
	os.WriteFile(policy, []byte(strings.Join(members, "\n")+"\nquorum 2\n"), 0o644)
	must(t, "compliance", "publish", note, "--ledger", led, "--policy", policy)
	must(t, "append", "--ledger", led, year)

	annual := func(out string, extra ...string) []byte {
		t.Helper()
		must(t, append(append([]string{"report", "annual", "--log", logDir, "--year", "2026", "--out", out}, pins...), extra...)...)
		raw, err := os.ReadFile(filepath.Join(out, "report.json"))
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	full := annual(filepath.Join(work, "full"))
	resumed := annual(filepath.Join(work, "resumed"), "--resume", state, "--members", policy)
	if !bytes.Equal(full, resumed) {
		t.Fatalf("the resumed report differs from the full one:\nfull    %s\nresumed %s", full, resumed)
	}
	if !strings.Contains(string(full), `"violations":[{`) {
		t.Log("note: no violation in the period")
	}
	rep := filepath.Join(work, "resumed", "report.json")
	must(t, append([]string{"report", "verify", "--log", logDir, rep}, pins...)...)
	must(t, append([]string{"report", "verify", "--log", logDir, "--resume", state, "--members", policy, rep}, pins...)...)

	// A statement judged after the year began may hold entries of the
	// year: refused, as is --resume without the members.
	mustFail(t, 2, "after the period's start", append([]string{"report", "annual", "--log", logDir, "--year", "2025", "--out", filepath.Join(work, "x"),
		"--resume", state, "--members", policy}, pins...)...)
	mustFail(t, 2, "--members", append([]string{"report", "annual", "--log", logDir, "--year", "2026", "--out", filepath.Join(work, "x"),
		"--resume", state}, pins...)...)
}

// splitAt splits a file of DSSE envelopes (one a line, in log order) at the
// first whose entry's occurred_at is at or after at (same offset).
func splitAt(t *testing.T, file, at string) (before, after string) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b, a strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var env struct {
			Payload string `json:"payload"`
		}
		var e struct {
			OccurredAt string `json:"occurred_at"`
		}
		if err := json.Unmarshal(sc.Bytes(), &env); err != nil {
			t.Fatal(err)
		}
		p, _ := base64.StdEncoding.DecodeString(env.Payload)
		json.Unmarshal(p, &e)
		if a.Len() > 0 || e.OccurredAt >= at {
			a.WriteString(sc.Text() + "\n")
		} else {
			b.WriteString(sc.Text() + "\n")
		}
	}
	return b.String(), a.String()
}
