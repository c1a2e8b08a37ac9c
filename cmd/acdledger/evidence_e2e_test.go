package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/internal/testsign"
)

const evidenceVectors = "../../specs/vectors/evidence"

// audit --evidence on a log with a measure without approval and an
// emergency measure never notified, as a user runs it: a package per
// provable finding, each accepted by verify evidence; the deadline is not
// provable from a checkpoint no witness dated, and audit says so.
func TestAuditEvidenceCLI(t *testing.T) {
	kit := testsign.New(t, testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}})
	police := map[string]any{"law": "police-duties-act", "article": "6-2"}
	measure := func(id string, emergency bool) []byte {
		body := map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-06-05T00:00:00+09:00", "ended_at": "2026-06-05T01:00:00+09:00", "outcome": "neutralized"}
		if emergency {
			body["emergency"] = true
		}
		return kit.Entry(t, "npa", id, "measure.executed", police, body, nil, nil)
	}
	l := testlog.New(t, "test.example/evidence-cli")
	l.Add(t, measure("MEAS", false), measure("EMG", true))
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	os.WriteFile(reg, kit.RegJSON, 0o644)
	dir := filepath.Join(work, "evidence")

	r := run(t, "audit", "--log", l.Dir, "--vkey", l.VkeyFile, "--registry", reg, "--evidence", dir, "--json")
	if r.code != 1 {
		t.Fatalf("audit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	checkSnake(t, "audit --evidence", oneJSON(t, "audit --evidence", r.stdout))
	var out struct {
		Evidence struct {
			Paths      []string `json:"paths"`
			Unprovable []string `json:"unprovable"`
		} `json:"evidence"`
	}
	json.Unmarshal([]byte(r.stdout), &out)
	if len(out.Evidence.Paths) != 1 || !strings.HasSuffix(out.Evidence.Paths[0], "violation-R3-0-MEAS.json") ||
		len(out.Evidence.Unprovable) != 1 || !strings.Contains(out.Evidence.Unprovable[0], "no witness cosignature") {
		t.Fatalf("evidence %+v", out.Evidence)
	}
	got := must(t, "verify", "evidence", "--vkey", l.VkeyFile, "--registry", reg, out.Evidence.Paths[0])
	if !strings.Contains(got, "PROVEN") || !strings.Contains(got, "R3 measure.authorised version 1") {
		t.Errorf("verify evidence: %s", got)
	}
	// A second audit into the same directory keeps the first package.
	run(t, "audit", "--log", l.Dir, "--vkey", l.VkeyFile, "--registry", reg, "--evidence", dir)
	if names, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(names) != 2 {
		t.Errorf("after a second audit: %v", names)
	}
	// watch --evidence writes the packages of what it has just found, in a
	// line of its own.
	wdir := filepath.Join(work, "watch-evidence")
	r = run(t, "watch", "--once", "--log", l.Dir, "--vkey", l.VkeyFile, "--registry", reg, "--state", filepath.Join(work, "watch.state"), "--evidence", wdir)
	if r.code != 0 || !strings.Contains(r.stdout, `"type":"evidence"`) || !strings.Contains(r.stdout, "violation-R3-0-MEAS.json") {
		t.Fatalf("watch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if names, _ := filepath.Glob(filepath.Join(wdir, "*.json")); len(names) != 1 {
		t.Errorf("watch evidence: %v", names)
	}
	// Another log's key proves nothing.
	other := testlog.New(t, "test.example/evidence-cli")
	mustFail(t, 1, "do not prove their finding", "verify", "evidence", "--vkey", other.VkeyFile, "--registry", reg, out.Evidence.Paths[0])
}

// verify evidence on the spec's vectors: proven with the pins there, an
// edited package exits 1 with --json naming why; a missing file exits 2.
func TestVerifyEvidenceVectors(t *testing.T) {
	pins := []string{"--policy", filepath.Join(evidenceVectors, "policy"), "--registry", filepath.Join(evidenceVectors, "registry.json")}
	files, _ := filepath.Glob(filepath.Join(evidenceVectors, "*-*.json"))
	r := run(t, append(append([]string{"verify", "evidence", "--json"}, pins...), files...)...)
	if r.code != 0 {
		t.Fatalf("vectors: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	v := oneJSON(t, "verify evidence", r.stdout)
	checkSnake(t, "verify evidence", v)
	if len(v.([]any)) != len(files) {
		t.Fatalf("results %v", v)
	}
	raw, _ := os.ReadFile(filepath.Join(evidenceVectors, "violation-R4-5-EMG.json"))
	edited := filepath.Join(t.TempDir(), "edited.json")
	os.WriteFile(edited, []byte(strings.Replace(string(raw), `"version": 1`, `"version": 7`, 1)), 0o644)
	r = run(t, append(append([]string{"verify", "evidence", "--json"}, pins...), edited)...)
	if r.code != 1 || !strings.Contains(r.stdout, `"proven": false`) || !strings.Contains(r.stdout, "rule.version") {
		t.Fatalf("edited: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	mustFail(t, 2, "no such file", append(append([]string{"verify", "evidence"}, pins...), filepath.Join(t.TempDir(), "none.json"))...)
}

// bundle export month by month, then audit --bundle with no log: the
// verdict of audit --log; a missing month exits 1.
func TestBundleCLI(t *testing.T) {
	kit := testsign.New(t, testsign.Agency{ID: "npa", Role: "agency", Kinds: []string{"measure.executed"}})
	police := map[string]any{"law": "police-duties-act", "article": "6-2"}
	measure := func(id string, emergency bool) []byte {
		body := map[string]any{"executor": "police", "measure": "police_measure", "target_location": "domestic", "mode": "direct",
			"started_at": "2026-06-05T00:00:00+09:00", "ended_at": "2026-06-05T01:00:00+09:00", "outcome": "neutralized"}
		if emergency {
			body["emergency"] = true
		}
		return kit.Entry(t, "npa", id, "measure.executed", police, body, nil, nil)
	}
	l := testlog.New(t, "test.example/bundle-cli")
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	os.WriteFile(reg, kit.RegJSON, 0o644)
	pins := []string{"--vkey", l.VkeyFile, "--registry", reg}
	l.Add(t, measure("M1", false), measure("M2", true))
	june, july := filepath.Join(work, "2026-06.bundle"), filepath.Join(work, "2026-07.bundle")
	exported := must(t, append([]string{"bundle", "export", "--log", l.Dir, "--from", "0", "--out", june, "--json"}, pins...)...)
	checkSnake(t, "bundle export --json", oneJSON(t, "bundle export --json", exported))
	l.Add(t, measure("M3", false))
	must(t, append([]string{"bundle", "export", "--log", l.Dir, "--from", "2", "--out", july}, pins...)...)
	mustFail(t, 2, "exists", append([]string{"bundle", "export", "--log", l.Dir, "--from", "2", "--out", july}, pins...)...)

	asOf := []string{"--as-of", "2027-01-01T00:00:00Z", "--json"}
	full := run(t, append(append([]string{"audit", "--log", l.Dir}, pins...), asOf...)...)
	chain := run(t, append(append([]string{"audit", "--bundle", june, "--bundle", july}, pins...), asOf...)...)
	if full.code != 1 || chain.code != 1 {
		t.Fatalf("exit %d and %d\n%s\n%s", full.code, chain.code, full.stderr, chain.stderr)
	}
	verdict := func(stdout string) string {
		var r struct {
			Rules struct {
				ViolationCount int `json:"violation_count"`
				Violations     any `json:"violations"`
			} `json:"rules"`
			Size uint64 `json:"tree_size"`
		}
		json.Unmarshal([]byte(stdout), &r)
		b, _ := json.Marshal(r)
		return string(b)
	}
	if a, b := verdict(full.stdout), verdict(chain.stdout); a != b || !strings.Contains(a, `"violation_count":3`) {
		t.Fatalf("full %s\nchain %s", a, b)
	}
	mustFail(t, 1, "bundle 1 starts at 2", append([]string{"audit", "--bundle", july}, pins...)...)
	mustFail(t, 2, "not both", append([]string{"audit", "--bundle", july, "--log", l.Dir}, pins...)...)
	// Version 2 is written (no archive here: no checkpoints or statements).
	if raw, _ := os.ReadFile(june); !strings.HasPrefix(string(raw), `{"format":"acdledger-bundle/v2"`) {
		t.Fatalf("bundle export wrote %.40s…", raw)
	}
	// --month is reckoned by witness time: it needs a policy and a month.
	mustFail(t, 2, "--month needs --policy", append([]string{"bundle", "export", "--log", l.Dir, "--month", "2026-06", "--out", filepath.Join(work, "m.bundle")}, pins...)...)
	mustFail(t, 2, "not both", append([]string{"bundle", "export", "--log", l.Dir, "--month", "2026-06", "--from", "2", "--out", filepath.Join(work, "m.bundle")}, pins...)...)
	mustFail(t, 2, "--bundle goes without --resume", append([]string{"audit", "--bundle", june, "--resume", june}, pins...)...)
}
