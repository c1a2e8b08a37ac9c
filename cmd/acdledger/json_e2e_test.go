package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/specs"
)

// goWords are Go's internals that must not reach a message.
var goWords = regexp.MustCompile(`Go struct|Go value|(^|[^.\w])json: |uint64|2562047h|verifier id`)

var snake = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// dataKeys hold maps keyed by data (kinds, agency and rule ids, field
// names), not by names the CLI defines (specs/cli-json.md).
var dataKeys = map[string]bool{"by_kind": true, "by_agency": true, "by_rule": true, "fields": true, "values": true}

// oneJSON decodes stdout, which must be exactly one JSON value.
func oneJSON(t *testing.T, what, stdout string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("%s: stdout is not JSON: %v\n%s", what, err, stdout)
	}
	if dec.More() {
		t.Fatalf("%s: stdout holds more than one JSON value:\n%s", what, stdout)
	}
	return v
}

// checkSnake fails on every key of v, outside data maps, that is not
// snake_case.
func checkSnake(t *testing.T, what string, v any) {
	t.Helper()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s: key %q at %s is not snake_case", what, k, path)
				}
				if !dataKeys[k] {
					walk(path+"."+k, x)
				}
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), x)
			}
		}
	}
	walk("$", v)
}

type errorDoc struct {
	Error struct {
		ExitCode int    `json:"exit_code"`
		Kind     string `json:"kind"`
		Message  string `json:"message"`
		Problems []struct {
			Source  string `json:"source"`
			EntryID string `json:"entry_id"`
			Field   string `json:"field"`
			Rule    string `json:"rule"`
			Message string `json:"message"`
		} `json:"problems"`
	} `json:"error"`
}

// errDoc checks a failed --json command: its exit code, one error
// document on stdout (snake_case, the same code), a message in words.
func errDoc(t *testing.T, what string, r result, code int) errorDoc {
	t.Helper()
	if r.code != code {
		t.Fatalf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", what, r.code, code, r.stdout, r.stderr)
	}
	checkSnake(t, what, oneJSON(t, what, r.stdout))
	var d errorDoc
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	if err := dec.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Error.ExitCode != code || d.Error.Message == "" || (code == 1) != (d.Error.Kind == "failed") {
		t.Errorf("%s: error document %+v", what, d.Error)
	}
	if !strings.Contains(r.stderr, d.Error.Message) {
		t.Errorf("%s: stderr %q does not carry the message %q", what, r.stderr, d.Error.Message)
	}
	if m := goWords.FindString(d.Error.Message); m != "" {
		t.Errorf("%s: message leaks %q: %s", what, m, d.Error.Message)
	}
	return d
}

// Every --json command answers in JSON with snake_case keys, on success
// and on failure; a refusal names the entry, field and rule.
func TestJSONOutputs(t *testing.T) {
	work := t.TempDir()
	ag, led := filepath.Join(work, "agencies"), filepath.Join(work, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "5", "--entries", "120", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "json.acdledger.example/log", "--registry", reg)
	receipts := filepath.Join(work, "receipts")
	r := run(t, "append", "--ledger", led, "--receipts", receipts, "--json", filepath.Join(ag, "part-1.dsse.jsonl"))
	checkSnake(t, "append", oneJSON(t, "append", r.stdout))
	// Off a terminal (here: a pipe) no progress bar is drawn.
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("append: exit %d, stderr %q (a pipe gets no progress bar)", r.code, r.stderr)
	}
	pins := []string{"--log", filepath.Join(led, "log"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg}

	r = run(t, append([]string{"audit", "--json"}, pins...)...)
	audit := oneJSON(t, "audit", r.stdout)
	checkSnake(t, "audit", audit)
	rules := audit.(map[string]any)["rules"].(map[string]any)["rules"].([]any)
	if first := rules[0].(map[string]any); first["id"] != "R1" || first["name"] == nil || first["title"] == nil {
		t.Errorf("audit --json rules[0] = %v, want keys id, name, title", first)
	}

	rcs, _ := filepath.Glob(filepath.Join(receipts, "*.tlog-proof"))
	if len(rcs) == 0 {
		t.Fatal("no receipts written")
	}
	out := must(t, "verify", "receipt", "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg, "--json", rcs[0])
	checkSnake(t, "verify receipt", oneJSON(t, "verify receipt", out))

	rep := filepath.Join(work, "report")
	r = run(t, append([]string{"report", "annual", "--year", "2026", "--out", rep, "--json"}, pins...)...)
	annual := oneJSON(t, "report annual", r.stdout)
	checkSnake(t, "report annual", annual)
	if files := annual.(map[string]any)["files"].([]any); len(files) != 3 {
		t.Errorf("report annual --json files %v", files)
	}
	r = run(t, append([]string{"report", "verify", "--json", filepath.Join(rep, "report.json")}, pins...)...)
	checkSnake(t, "report verify", oneJSON(t, "report verify", r.stdout))

	t.Run("refused entry", func(t *testing.T) {
		r := run(t, "append", "--ledger", led, "--json", filepath.Join(ag, "rejected", "nainai.dsse.json"))
		d := errDoc(t, "append refused", r, 1)
		if len(d.Error.Problems) != 1 {
			t.Fatalf("problems %+v", d.Error.Problems)
		}
		p := d.Error.Problems[0]
		if p.Rule != "direction.nainai" || p.Field != "body.direction" || p.EntryID == "" || !strings.HasSuffix(p.Source, "nainai.dsse.json") {
			t.Errorf("problem %+v", p)
		}
	})
	t.Run("missing log", func(t *testing.T) {
		d := errDoc(t, "audit missing log", run(t, "audit", "--json", "--log", filepath.Join(work, "nowhere"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg), 2)
		if d.Error.Kind != "usage" {
			t.Errorf("kind %q", d.Error.Kind)
		}
	})
	t.Run("unknown flag", func(t *testing.T) {
		errDoc(t, "unknown flag", run(t, "audit", "--json", "--bogus"), 2)
	})
	t.Run("private key as vkey", func(t *testing.T) {
		d := errDoc(t, "vkey", run(t, "audit", "--json", "--log", filepath.Join(led, "log"), "--vkey", filepath.Join(led, "log.key"), "--registry", reg), 2)
		key, _ := os.ReadFile(filepath.Join(led, "log.key"))
		if k := strings.TrimSpace(string(key)); strings.Contains(d.Error.Message, k[len(k)-20:]) || !strings.Contains(d.Error.Message, "private signing key") {
			t.Errorf("message %q", d.Error.Message)
		}
	})
	t.Run("malformed report.json", func(t *testing.T) {
		bad := filepath.Join(work, "bad-report.json")
		raw, _ := os.ReadFile(filepath.Join(rep, "report.json"))
		raw = bytes.Replace(raw, []byte(`"schema": 2`), []byte(`"schema": 2.5`), 1)
		os.WriteFile(bad, raw, 0o644)
		d := errDoc(t, "report verify malformed", run(t, append([]string{"report", "verify", "--json", bad}, pins...)...), 2)
		if !strings.Contains(d.Error.Message, "field schema: number 2.5 is not an integer") {
			t.Errorf("message %q", d.Error.Message)
		}
	})
	t.Run("bad rules config", func(t *testing.T) {
		cfg := filepath.Join(work, "rules.json")
		os.WriteFile(cfg, []byte(`{"foreign_provision_needs_approval": "yes"}`), 0o644)
		d := errDoc(t, "rules config", run(t, append([]string{"audit", "--json", "--rules-config", cfg}, pins...)...), 2)
		if !strings.Contains(d.Error.Message, `key "foreign_provision_needs_approval": string is not true or false`) {
			t.Errorf("message %q", d.Error.Message)
		}
	})
	t.Run("watch fatal error is a JSON line", func(t *testing.T) {
		r := run(t, "watch", "--once", "--log", filepath.Join(work, "nowhere"), "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg, "--state", filepath.Join(work, "w.state"))
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		last := lines[len(lines)-1]
		if strings.Contains(last, "\n") || r.code == 0 {
			t.Fatalf("watch: exit %d, stdout %q", r.code, r.stdout)
		}
		errDoc(t, "watch", result{r.code, last + "\n", r.stderr}, r.code)
	})
}

// The commands that set things up speak JSON too: their result, and their
// refusals and errors (specs/cli-json.md).
func TestJSONSetupCommands(t *testing.T) {
	work := t.TempDir()
	reg := filepath.Join(work, "registry.json")
	r := run(t, "keygen", "--json", "--agency", "nco", "--out", filepath.Join(work, "keys", "nco"), "--registry", reg)
	doc := oneJSON(t, "keygen", r.stdout)
	checkSnake(t, "keygen", doc)
	if m := doc.(map[string]any); r.code != 0 || m["key_id"] == "" || m["agency"] != "nco" || len(m["files"].([]any)) != 3 {
		t.Fatalf("keygen --json: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, "keygen", "--json", "--member", "member-1", "--out", filepath.Join(work, "keys", "member-1"), "--registry", reg, "--valid-from", "2026-01-01T00:00:00Z")
	if m := oneJSON(t, "keygen member", r.stdout).(map[string]any); r.code != 0 || m["member"] != "member-1" || m["valid_from"] != "2026-01-01T00:00:00Z" {
		t.Fatalf("keygen --member --json: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	errDoc(t, "keygen over an existing key", run(t, "keygen", "--json", "--agency", "nco", "--out", filepath.Join(work, "keys", "nco")), 2)

	led := filepath.Join(work, "ledger")
	r = run(t, "init", "--json", "--dir", led, "--origin", "json.acdledger.example/setup", "--registry", reg)
	if m := oneJSON(t, "init", r.stdout).(map[string]any); r.code != 0 || m["dir"] != led || !strings.HasPrefix(m["verifier_key"].(string), "json.acdledger.example/setup+") {
		t.Fatalf("init --json: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	errDoc(t, "init over an existing ledger", run(t, "init", "--json", "--dir", led, "--origin", "json.acdledger.example/setup", "--registry", reg), 2)

	// A draft two JSON readers would read differently: refused before
	// signing, as one error document naming the field and the rule.
	draft := filepath.Join(work, "draft.json")
	os.WriteFile(draft, []byte(`{"id":"D-1","kind":"pm.ordered","kind":"notice","schema":2,"agency":"nco","seq":1,"occurred_at":"2026-06-01T00:00:00Z","case":"C","legal_basis":{"law":"sdf-act","article":"81"},"refs":[],"body":{"order_id":"PM-1","ordered_at":"2026-06-01T00:00:00Z"}}`), 0o644)
	d := errDoc(t, "sign a duplicate name", run(t, "sign", "--json", "--key", filepath.Join(work, "keys", "nco.key"), draft), 1)
	if len(d.Error.Problems) == 0 || d.Error.Problems[0].Rule != specs.RulePayloadJSON || d.Error.Problems[0].Field != "kind" {
		t.Fatalf("sign --json refusal: %+v", d.Error)
	}
}
