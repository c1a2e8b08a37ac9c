package main_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The annual report through the CLI, as the commission and any reader of
// the published log would use it: annual writes the three files, verify
// recomputes them; one edited number is named by table, row and column;
// a second history of the log under the same name and key is caught.
func TestReportCLI(t *testing.T) {
	work := t.TempDir()
	ag, led, ledB := filepath.Join(work, "agencies"), filepath.Join(work, "ledger"), filepath.Join(work, "ledger-b")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "9", "--entries", "600", "--parts", "2")
	must(t, "init", "--dir", led, "--origin", "report.acdledger.example/log", "--registry", reg)
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-1.dsse.jsonl"))
	copyDir(t, led, ledB) // the same log key and origin, for a second history below
	must(t, "append", "--ledger", led, filepath.Join(ag, "part-2.dsse.jsonl"))
	pins := []string{"--log", filepath.Join(led, "log"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg}

	out := filepath.Join(work, "report")
	stdout := must(t, append([]string{"report", "annual", "--year", "2026", "--out", out}, pins...)...)
	if !strings.Contains(stdout, "fiscal year 2026") || !strings.Contains(stdout, "bound to report.acdledger.example/log at tree size") {
		t.Fatalf("annual output:\n%s", stdout)
	}
	for _, f := range []string{"report.json", "report.md", "report.html"} {
		if fi, err := os.Stat(filepath.Join(out, f)); err != nil || fi.Size() == 0 {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	reportJSON := filepath.Join(out, "report.json")
	stdout = must(t, append([]string{"report", "verify", reportJSON}, pins...)...)
	if !strings.HasPrefix(stdout, "OK ") {
		t.Fatalf("verify output:\n%s", stdout)
	}
	var res struct {
		Mismatches []any `json:"mismatches"`
	}
	if err := json.Unmarshal([]byte(must(t, append([]string{"report", "verify", "--json", reportJSON}, pins...)...)), &res); err != nil || res.Mismatches == nil || len(res.Mismatches) != 0 {
		t.Fatalf("verify --json: %v %+v", err, res)
	}

	t.Run("one edited number", func(t *testing.T) {
		edited := editReport(t, reportJSON, func(doc map[string]any) {
			for _, tb := range doc["tables"].([]any) {
				tb := tb.(map[string]any)
				if tb["id"] != "approvals" {
					continue
				}
				for _, row := range tb["rows"].([]any) {
					row := row.(map[string]any)
					if row["key"] == "transit_sending" {
						v := row["values"].(map[string]any)
						v["approved"] = v["approved"].(float64) + 1
					}
				}
			}
		})
		r := mustFail(t, 1, "1 figures differ", append([]string{"report", "verify", edited}, pins...)...)
		if !strings.Contains(r.stdout, "approvals/transit_sending/approved: report says") {
			t.Fatalf("the edited figure is not named:\n%s", r.stdout)
		}
	})

	t.Run("second history under the same name", func(t *testing.T) {
		// B is the log after part 1 plus one entry of part 2 that is not
		// part 2's first: admissible, signed by the same log key, so the
		// same checkpoint name, but not a prefix of the log A.
		must(t, "append", "--ledger", ledB, secondHistoryEntry(t, filepath.Join(ag, "part-2.dsse.jsonl"), work))
		outB := filepath.Join(work, "report-b")
		pinsB := []string{"--log", filepath.Join(ledB, "log"), "--vkey", filepath.Join(ledB, "log.vkey"), "--registry", reg}
		must(t, append([]string{"report", "annual", "--year", "2026", "--out", outB}, pinsB...)...)
		must(t, append([]string{"report", "verify", filepath.Join(outB, "report.json")}, pinsB...)...)
		mustFail(t, 1, "INCONSISTENT", append([]string{"report", "verify", filepath.Join(outB, "report.json")}, pins...)...)
	})

	t.Run("renderings and other years", func(t *testing.T) {
		en := filepath.Join(work, "en")
		must(t, "report", "render", "--lang", "en", "--band", "10", "--out", en, reportJSON)
		md, err := os.ReadFile(filepath.Join(en, "report.md"))
		if err != nil || !strings.Contains(string(md), "annual report, fiscal year 2026") || !strings.Contains(string(md), "<10") {
			t.Fatalf("English rendering: %v\n%.600s", err, md)
		}
		cal := filepath.Join(work, "calendar")
		must(t, append([]string{"report", "annual", "--year", "2026", "--calendar", "--lang", "en", "--out", cal}, pins...)...)
		raw, _ := os.ReadFile(filepath.Join(cal, "report.json"))
		if !strings.Contains(string(raw), `"basis": "calendar"`) || !strings.Contains(string(raw), `"from": "2026-01-01T00:00:00+09:00"`) {
			t.Fatalf("calendar report:\n%.600s", raw)
		}
		// A year with no entries is a report of zeros, still bound.
		empty := filepath.Join(work, "fy2030")
		must(t, append([]string{"report", "annual", "--year", "2030", "--out", empty}, pins...)...)
		raw, _ = os.ReadFile(filepath.Join(empty, "report.json"))
		if !strings.Contains(string(raw), `"entries_in_period": 0`) || !strings.Contains(string(raw), `"first_index": null`) {
			t.Fatalf("empty year:\n%.800s", raw)
		}
		must(t, append([]string{"report", "verify", filepath.Join(empty, "report.json")}, pins...)...)
	})

	t.Run("bad input", func(t *testing.T) {
		mustFail(t, 2, "--lang", append([]string{"report", "annual", "--year", "2026", "--lang", "fr", "--out", work}, pins...)...)
		mustFail(t, 2, "--year", append([]string{"report", "annual", "--year", "0", "--out", work}, pins...)...)
		mustFail(t, 2, "rules config", append([]string{"report", "annual", "--year", "2026", "--rules-config", reg, "--out", work}, pins...)...)
		junk := filepath.Join(work, "junk.json")
		os.WriteFile(junk, []byte(`{"format":"acdledger-annual-report","schema":3}`), 0o644)
		mustFail(t, 2, "malformed report: schema 3", append([]string{"report", "verify", junk}, pins...)...)
		unknown := editReport(t, reportJSON, func(doc map[string]any) { doc["tables"].([]any)[0].(map[string]any)["extra"] = 1 })
		mustFail(t, 2, `unknown field "extra"`, append([]string{"report", "verify", unknown}, pins...)...)
		// A checkpoint note the pinned key did not sign.
		forged := editReport(t, reportJSON, func(doc map[string]any) {
			log := doc["log"].(map[string]any)
			cp := log["checkpoint"].(string)
			i := strings.LastIndex(cp, " ")
			sig, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(cp[i+1:]))
			sig[len(sig)-1] ^= 1
			log["checkpoint"] = cp[:i+1] + base64.StdEncoding.EncodeToString(sig) + "\n"
		})
		mustFail(t, 1, "bad checkpoint signature", append([]string{"report", "verify", forged}, pins...)...)
	})
}

// editReport rewrites a copy of report.json through edit.
func editReport(t *testing.T, file string, edit func(map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc)
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "report.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// secondHistoryEntry picks from part 2 the first envelope that could come
// first instead: from an agency that has no earlier envelope in part 2, and
// naming none of them. It writes it to a file and returns the path.
func secondHistoryEntry(t *testing.T, part, dir string) string {
	t.Helper()
	raw, err := os.ReadFile(part)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var agencies, ids []string
	for i, line := range lines {
		var env struct{ Payload string }
		if err := json.Unmarshal([]byte(line), &env); err != nil {
			t.Fatal(err)
		}
		payload, _ := base64.StdEncoding.DecodeString(env.Payload)
		var e struct {
			ID, Agency string
			Refs       []string
		}
		json.Unmarshal(payload, &e)
		independent := i > 0 && !slices.Contains(agencies, e.Agency) && !slices.ContainsFunc(e.Refs, func(r string) bool { return slices.Contains(ids, r) })
		if independent {
			p := filepath.Join(dir, "second-history.dsse.json")
			if err := os.WriteFile(p, []byte(line), 0o644); err != nil {
				t.Fatal(err)
			}
			return p
		}
		agencies, ids = append(agencies, e.Agency), append(ids, e.ID)
	}
	t.Fatal("no entry of part 2 can come first")
	return ""
}
