package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// witnessed is a ledger whose checkpoints three committee witnesses cosign
// (2 of 3), filled over HTTP and stopped, so its last checkpoint is on disk.
type witnessed struct {
	ledger, policy, registry string
}

func newWitnessed(t *testing.T, work string, seed string) witnessed {
	t.Helper()
	ag := filepath.Join(work, "agencies")
	w := witnessed{ledger: filepath.Join(work, "ledger"), policy: filepath.Join(work, "policy"), registry: filepath.Join(ag, "registry.json")}
	must(t, "demo", "generate", "--out", ag, "--seed", seed, "--entries", "300", "--parts", "1")
	must(t, "init", "--dir", w.ledger, "--origin", "pinned.acdledger.example/log", "--registry", w.registry)
	logVkey, _ := os.ReadFile(filepath.Join(w.ledger, "log.vkey"))
	policy := "log " + strings.TrimSpace(string(logVkey)) + "\n"
	for i := 1; i <= 3; i++ {
		base := filepath.Join(work, "witnesses", fmt.Sprintf("w%d", i))
		must(t, "witness", "keygen", "--name", fmt.Sprintf("w%d.commission.example", i), "--out", base)
		vkey, _ := os.ReadFile(base + ".vkey")
		_, url := child(t, "witness", "serve", "--key", base+".key", "--state", base+"-state",
			"--log-vkey", filepath.Join(w.ledger, "log.vkey"), "--listen", "127.0.0.1:0")
		policy += fmt.Sprintf("witness w%d %s %s\n", i, strings.TrimSpace(string(vkey)), url)
	}
	policy += "group members 2 w1 w2 w3\nquorum members\n"
	if err := os.WriteFile(w.policy, []byte(policy), 0o644); err != nil {
		t.Fatal(err)
	}
	srv, url := child(t, "serve", "--ledger", w.ledger, "--listen", "127.0.0.1:0", "--policy", w.policy)
	must(t, "append", "--server", url, filepath.Join(ag, "part-1.dsse.jsonl"))
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	return w
}

// One pinning model: the cosigners a report names are those of its
// checkpoint note, so a report made with the log key alone verifies with
// the policy, and one made with the policy verifies with the log key; the
// HTML names the witnesses that cosigned the checkpoint it prints.
func TestReportPinsEitherWay(t *testing.T) {
	work := t.TempDir()
	w := newWitnessed(t, work, "21")
	logDir, vkey := filepath.Join(w.ledger, "log"), filepath.Join(w.ledger, "log.vkey")
	byKey := []string{"--log", logDir, "--vkey", vkey, "--registry", w.registry}
	byPolicy := []string{"--log", logDir, "--policy", w.policy, "--registry", w.registry}

	for _, c := range []struct {
		name         string
		build, check []string
		wantNote     string
	}{
		{"built with --vkey, verified with --policy", byKey, byPolicy, "cosignatures checked against the policy: "},
		{"built with --policy, verified with --vkey", byPolicy, byKey, "were not checked (pin --policy to check them)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report")
			must(t, append([]string{"report", "annual", "--year", "2026", "--lang", "en", "--out", out}, c.build...)...)
			raw, _ := os.ReadFile(filepath.Join(out, "report.json"))
			var rep struct {
				Log struct {
					Cosigners []string `json:"cosigners"`
				} `json:"log"`
			}
			json.Unmarshal(raw, &rep)
			names := cosignersOf(t, filepath.Join(w.ledger, "log", "checkpoint"))
			slices.Sort(names)
			if got, want := strings.Join(rep.Log.Cosigners, ","), strings.Join(names, ","); got != want {
				t.Fatalf("report.json names cosigners [%s], the checkpoint [%s]", got, want)
			}
			html, _ := os.ReadFile(filepath.Join(out, "report.html"))
			for _, name := range names {
				if !strings.Contains(string(html), name) {
					t.Errorf("report.html does not name cosigner %s of its checkpoint", name)
				}
			}
			stdout := must(t, append([]string{"report", "verify", filepath.Join(out, "report.json")}, c.check...)...)
			if !strings.HasPrefix(stdout, "OK ") || !strings.Contains(stdout, c.wantNote) {
				t.Fatalf("report verify:\n%s", stdout)
			}
		})
	}
}

// cosignersOf reads the key names of a checkpoint's signature lines other
// than the first (the log's).
func cosignersOf(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, sigs, _ := strings.Cut(string(raw), "\n\n")
	var names []string
	for i, line := range strings.Split(strings.TrimSpace(sigs), "\n") {
		if f := strings.Fields(line); i > 0 && len(f) == 3 {
			names = append(names, f[1])
		}
	}
	if len(names) < 2 {
		t.Fatalf("checkpoint carries %d cosignatures, want at least 2:\n%s", len(names), raw)
	}
	return names
}
