package main_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
)

type watchEvent struct {
	Type     string  `json:"type"`
	Alarm    string  `json:"alarm"`
	Index    *uint64 `json:"index"`
	EntryID  string  `json:"entry_id"`
	Rule     string  `json:"rule"`
	Size     *uint64 `json:"tree_size"`
	FirstUse bool    `json:"first_use"`
	Reason   string  `json:"reason"`
}

func events(t *testing.T, out string) []watchEvent {
	t.Helper()
	var evs []watchEvent
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var ev watchEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		evs = append(evs, ev)
	}
	return evs
}

// summary renders events compactly: "entry@3", "violation:R13@4",
// "checkpoint:5", "alarm:fork".
func summary(evs []watchEvent) string {
	var s []string
	for _, e := range evs {
		switch e.Type {
		case "entry":
			s = append(s, fmt.Sprintf("entry@%d", *e.Index))
		case "violation":
			s = append(s, fmt.Sprintf("violation:%s@%d", e.Rule, *e.Index))
		case "checkpoint":
			s = append(s, fmt.Sprintf("checkpoint:%d", *e.Size))
		case "alarm":
			s = append(s, "alarm:"+e.Alarm)
		}
	}
	return strings.Join(s, " ")
}

// A real ledger served over loopback HTTP, appended to in steps, with
// `watch --once` between the steps: each run reports only what is new,
// a restart from the state file repeats nothing, and a back-dated entry
// and a missed deadline show up as violations, charged by index. Then the
// integrity alarms: a rollback, a fork, a checkpoint without its quorum.
func TestWatch(t *testing.T) {
	work := t.TempDir()
	kit := testkit.New(t)
	reg := filepath.Join(work, "registry.json")
	os.WriteFile(reg, kit.RegJSON, 0o644)
	led := filepath.Join(work, "ledger")
	must(t, "init", "--dir", led, "--origin", "watch.acdledger.example/log", "--registry", reg)
	vkey := filepath.Join(led, "log.vkey")
	srv := httptest.NewServer(http.FileServer(http.Dir(filepath.Join(led, "log"))))
	defer srv.Close()

	now := time.Now()
	at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339) }
	n := 0
	appendEntries := func(dir string, es ...map[string]any) {
		t.Helper()
		var b bytes.Buffer
		for _, e := range es {
			b.Write(kit.Sign(t, e["agency"].(string), e))
			b.WriteByte('\n')
		}
		n++
		f := filepath.Join(work, fmt.Sprintf("step-%d.dsse.jsonl", n))
		os.WriteFile(f, b.Bytes(), 0o644)
		must(t, "append", "--ledger", dir, f)
	}
	recent := func(agency string) map[string]any {
		e := kit.Entry(agency)
		e["occurred_at"] = at(-time.Minute)
		return e
	}
	state := filepath.Join(work, "watch.state")
	watchOnce := func(log, state string, extra ...string) result {
		return run(t, append([]string{"watch", "--log", log, "--vkey", vkey, "--registry", reg, "--state", state, "--once"}, extra...)...)
	}
	step := func(want string) {
		t.Helper()
		r := watchOnce(srv.URL, state)
		if r.code != 0 {
			t.Fatalf("watch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if got := summary(events(t, r.stdout)); got != want {
			t.Fatalf("watch reported\n  %s\nwant\n  %s\n%s", got, want, r.stdout)
		}
	}

	// Step 1: first use.
	appendEntries(led, recent("nco"), recent("npa"), recent("commission"))
	step("entry@0 entry@1 entry@2 checkpoint:3")
	atStep1 := filepath.Join(work, "at-step-1")
	copyDir(t, led, atStep1)
	stateAtStep1 := readWatchState(t, state)

	// Step 2: a back-dated entry (R15, now that the previous checkpoint was
	// seen) and a demand already overdue (R13, charged to the demand).
	old := recent("npa")
	old["occurred_at"] = at(-30 * 24 * time.Hour)
	demand := recent("commission")
	demand["kind"], demand["legal_basis"] = "demand", map[string]any{"law": "acd-act", "article": "67", "paragraph": "1"}
	demand["body"] = map[string]any{"target_agency": "nco", "subject": "handling_records", "issued_at": at(-time.Minute), "due": at(-5 * 24 * time.Hour)}
	appendEntries(led, old, demand)
	step("entry@3 violation:R15@3 entry@4 violation:R13@4 checkpoint:5")

	// Nothing new: nothing reported, from a fresh process on the saved state.
	step("")

	// Step 3: the late response closes the demand without a second report.
	resp := recent("nco")
	resp["kind"], resp["legal_basis"], resp["refs"] = "response", demand["legal_basis"], []string{demand["id"].(string)}
	resp["body"] = map[string]any{"to": demand["id"], "responded_at": at(-time.Minute), "status": "accepted"}
	appendEntries(led, resp)
	step("entry@5 checkpoint:6")

	t.Run("rollback", func(t *testing.T) {
		saved, _ := os.ReadFile(state)
		r := watchOnce(filepath.Join(atStep1, "log"), state, "--evidence", filepath.Join(work, "evidence"))
		if r.code != 1 || summary(events(t, r.stdout)) != "alarm:rollback" {
			t.Fatalf("rollback: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		if now, _ := os.ReadFile(state); !bytes.Equal(now, saved) {
			t.Fatal("state changed after an alarm")
		}
		if ev, _ := filepath.Glob(filepath.Join(work, "evidence", "rollback-*", "rollback-*.json")); len(ev) != 1 {
			t.Fatalf("evidence: %v", ev)
		}
	})

	t.Run("fork", func(t *testing.T) {
		// Two copies of the ledger at step 1, each given a different next
		// entry: the same size, the same key, different roots.
		views := []string{filepath.Join(work, "view-a"), filepath.Join(work, "view-b")}
		for i, v := range views {
			copyDir(t, atStep1, v)
			e := kit.Entry("npa")
			kit.Unseq("npa")
			e["seq"], e["occurred_at"] = 2, at(-time.Minute)
			e["id"] = fmt.Sprintf("FORK-%d", i)
			appendEntries(v, e)
		}
		forkState := filepath.Join(work, "fork.state")
		writeWatchState(t, forkState, stateAtStep1)
		if r := watchOnce(filepath.Join(views[0], "log"), forkState); r.code != 0 || summary(events(t, r.stdout)) != "entry@3 checkpoint:4" {
			t.Fatalf("view a: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		r := watchOnce(filepath.Join(views[1], "log"), forkState)
		if r.code != 1 || summary(events(t, r.stdout)) != "alarm:fork" {
			t.Fatalf("fork: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("quorum", func(t *testing.T) {
		// A policy whose witness never cosigned this log.
		must(t, "witness", "keygen", "--name", "member1.commission.example", "--out", filepath.Join(work, "w1"))
		wv, _ := os.ReadFile(filepath.Join(work, "w1.vkey"))
		lv, _ := os.ReadFile(vkey)
		policy := filepath.Join(work, "policy")
		os.WriteFile(policy, []byte("log "+strings.TrimSpace(string(lv))+"\nwitness member1 "+strings.TrimSpace(string(wv))+" http://127.0.0.1:1/\nquorum member1\n"), 0o644)
		r := run(t, "watch", "--log", srv.URL, "--policy", policy, "--registry", reg, "--state", filepath.Join(work, "q.state"), "--once")
		if r.code != 1 || summary(events(t, r.stdout)) != "alarm:quorum" {
			t.Fatalf("quorum: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	})

	t.Run("bad input", func(t *testing.T) {
		mustFail(t, 2, "required flag", "watch", "--log", srv.URL, "--vkey", vkey, "--registry", reg)
		os.WriteFile(filepath.Join(work, "garbage.state"), []byte("{"), 0o600)
		mustFail(t, 2, "garbage.state", "watch", "--log", srv.URL, "--vkey", vkey, "--registry", reg, "--state", filepath.Join(work, "garbage.state"), "--once")
		mustFail(t, 2, "unknown key", "watch", "--log", srv.URL, "--vkey", vkey, "--registry", reg, "--state", state, "--rules-config", reg, "--once")
		// A state file from another log's key is refused, not trusted.
		other := filepath.Join(work, "other")
		must(t, "init", "--dir", other, "--origin", "watch.acdledger.example/log", "--registry", reg)
		mustFail(t, 2, "signature", "watch", "--log", srv.URL, "--vkey", filepath.Join(other, "log.vkey"), "--registry", reg, "--state", state, "--once")
	})

	// The state file was never rewritten by the failures above: the watcher
	// carries on where it was.
	step("")
}

// readWatchState reads a watcher's state: its head file and the bulk file
// beside it (specs/watch-state.md), by the suffix of each name.
func readWatchState(t *testing.T, state string) map[string][]byte {
	t.Helper()
	files, _ := filepath.Glob(state + ".bulk-*")
	out := map[string][]byte{}
	for _, f := range append(files, state) {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(f, state)] = raw
	}
	if len(out) != 2 {
		t.Fatalf("state %s: files %v, want the head and one bulk", state, files)
	}
	return out
}

// writeWatchState writes what readWatchState read as the state at path.
func writeWatchState(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	for suffix, raw := range files {
		if err := os.WriteFile(path+suffix, raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}
