package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/verifier/witness"
	"golang.org/x/mod/sumdb/note"
)

// Issue 11, witness time: a log served with three witnesses (2 of 3)
// gets a timely entry, a back-dated one (occurred_at 30 days before it
// was logged, far beyond max_record_lag's 72h) and another timely one.
// An auditor who never watched the log runs audit on it afterwards, over
// HTTP and on the directory: the back-dated entry, and only it, is
// flagged by R15, naming the archived checkpoint whose witness time
// bounds it; the report names the bound used. Pinned by the log key
// alone, audit says there is no witness time and names its fallback.
//
// The witnesses are real (verifier/witness over loopback HTTP) and stamp
// their cosignatures with the real clock (formats/note offers no clock to
// inject); the entries' occurred_at are set relative to it, 1 minute or
// 30 days before, so nothing depends on how long the test takes.
func TestWitnessTimeBackdating(t *testing.T) {
	ctx := context.Background()
	work := t.TempDir()
	kit := testkit.New(t)
	reg := filepath.Join(work, "registry.json")
	os.WriteFile(reg, kit.RegJSON, 0o644)
	led := filepath.Join(work, "ledger")
	must(t, "init", "--dir", led, "--origin", "wtime.acdledger.example/log", "--registry", reg)
	vkeyFile := filepath.Join(led, "log.vkey")
	vkey, _ := os.ReadFile(vkeyFile)
	logV, err := note.NewVerifier(strings.TrimSpace(string(vkey)))
	if err != nil {
		t.Fatal(err)
	}
	policy := "log " + strings.TrimSpace(string(vkey)) + "\n"
	for i := 1; i <= 3; i++ {
		skey, wvkey, err := witness.GenerateKey(fmt.Sprintf("member%d.commission.example", i))
		if err != nil {
			t.Fatal(err)
		}
		w, err := witness.New(witness.Config{Key: skey, StateDir: t.TempDir(), Logs: map[string][]note.Verifier{logV.Name(): {logV}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(w)
		t.Cleanup(func() { srv.Close(); w.Close() })
		policy += fmt.Sprintf("witness member%d %s %s\n", i, wvkey, srv.URL)
	}
	policy += "group members 2 member1 member2 member3\nquorum members\n"
	policyFile := filepath.Join(work, "policy")
	os.WriteFile(policyFile, []byte(policy), 0o644)

	srv, url := child(t, "serve", "--ledger", led, "--listen", "127.0.0.1:0", "--policy", policyFile)
	c, err := submit.New(url)
	if err != nil {
		t.Fatal(err)
	}
	jst := time.FixedZone("JST", 9*3600)
	add := func(occurred time.Time) uint64 {
		e := kit.Entry("nco")
		e["occurred_at"] = occurred.In(jst).Format(time.RFC3339)
		// Each waits for its receipt: the next lands in a later checkpoint.
		res, err := c.Add(ctx, kit.Sign(t, "nco", e), true)
		if err != nil {
			t.Fatal(err)
		}
		return res.Index
	}
	timely := add(time.Now().Add(-time.Minute))
	backdated := add(time.Now().Add(-30 * 24 * time.Hour))
	timely2 := add(time.Now().Add(-time.Minute))

	type report struct {
		Rules struct {
			LogTime struct {
				Source   string `json:"source"`
				Fallback string `json:"fallback"`
				Archived int    `json:"archived_checkpoints"`
				Cosigned int    `json:"quorum_cosigned"`
			} `json:"log_time"`
			Violations []struct {
				Rule   string `json:"rule"`
				Index  uint64 `json:"index"`
				Reason string `json:"reason"`
			} `json:"violations"`
		} `json:"rules"`
	}
	r15 := func(r report) map[uint64]string {
		out := map[uint64]string{}
		for _, v := range r.Rules.Violations {
			if v.Rule == "R15" {
				out[v.Index] = v.Reason
			}
		}
		return out
	}
	audit := func(log string, pin ...string) (report, result) {
		res := run(t, append([]string{"audit", "--log", log, "--registry", reg, "--json"}, pin...)...)
		var r report
		if err := json.Unmarshal([]byte(res.stdout), &r); err != nil {
			t.Fatalf("audit --json: %v\n%s%s", err, res.stdout, res.stderr)
		}
		return r, res
	}

	// Over HTTP, while serve runs: the archive as served.
	r, res := audit(url, "--policy", policyFile)
	if res.code != 1 {
		t.Fatalf("audit of a back-dated entry exited %d\n%s", res.code, res.stderr)
	}
	lt := r.Rules.LogTime
	if lt.Source != "witness-archive" || lt.Archived < 4 || lt.Cosigned != lt.Archived {
		t.Fatalf("log_time %+v: want the witness archive with every checkpoint cosigned", lt)
	}
	got := r15(r)
	reason, ok := got[backdated]
	if !ok || !strings.Contains(reason, "back-dated") || !strings.Contains(reason, "witness time: checkpoints/") {
		t.Fatalf("back-dated entry %d: R15 %q (all R15: %v)", backdated, reason, got)
	}
	t.Logf("R15 on entry %d: %s", backdated, reason)
	if _, bad := got[timely]; bad {
		t.Fatalf("timely entry %d flagged: %s", timely, got[timely])
	}
	if _, bad := got[timely2]; bad {
		t.Fatalf("timely entry %d flagged: %s", timely2, got[timely2])
	}
	if len(got) != 1 {
		t.Fatalf("R15 findings %v: want only entry %d", got, backdated)
	}

	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}

	// On the directory, text output: the bound named, the row there.
	logDir := filepath.Join(led, "log")
	res = run(t, "audit", "--log", logDir, "--policy", policyFile, "--registry", reg)
	if res.code != 1 || !strings.Contains(res.stdout, "log time: witness time from the checkpoint archive") ||
		!strings.Contains(res.stdout, "back-dated") {
		t.Fatalf("text audit, exit %d:\n%s%s", res.code, res.stdout, res.stderr)
	}

	// Pinned by the log key alone: no witness time, the fallback named,
	// and back-dating is not judged.
	r, _ = audit(logDir, "--vkey", vkeyFile)
	if r.Rules.LogTime.Source != "audit-clock" || !strings.Contains(r.Rules.LogTime.Fallback, "without a witness policy") || len(r15(r)) != 0 {
		t.Fatalf("--vkey: log_time %+v, R15 %v", r.Rules.LogTime, r15(r))
	}

	// A copy of the log without its archive (an old log): the fallback is
	// the checkpoint's cosignature, said so.
	bare := filepath.Join(work, "bare")
	copyDir(t, logDir, bare)
	os.RemoveAll(filepath.Join(bare, "checkpoints"))
	r, _ = audit(bare, "--policy", policyFile)
	if r.Rules.LogTime.Source != "checkpoint-cosignature" || !strings.Contains(r.Rules.LogTime.Fallback, "no checkpoints/index") || len(r15(r)) != 0 {
		t.Fatalf("no archive: log_time %+v, R15 %v", r.Rules.LogTime, r15(r))
	}

	// An archive that lies (a checkpoint file swapped) fails the audit,
	// naming the file and the rule.
	os.WriteFile(filepath.Join(logDir, "checkpoints", "1"), mustRead(t, filepath.Join(logDir, "checkpoints", "0")), 0o644)
	mustFail(t, 1, "checkpoints/1: holds a checkpoint of tree size 0, not 1 (rule file-size)", "audit", "--log", logDir, "--policy", policyFile, "--registry", reg)
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
