package main_test

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A ledger on a real, small tmpfs that fills up: appends fail with 503 and
// a message that names no server path, /healthz and the metrics say why,
// Tessera's partial temp files do not stay in the published log directory,
// and once space is freed `serve` admits again by itself, without a restart;
// every acknowledged entry is in the log and the log audits clean.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs")
	}
	work := t.TempDir()
	mnt := filepath.Join(work, "small")
	os.Mkdir(mnt, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here (%v: %s): the full-disk test needs mount permission", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })

	ag := filepath.Join(work, "agencies")
	led := filepath.Join(mnt, "ledger")
	reg := filepath.Join(ag, "registry.json")
	must(t, "demo", "generate", "--out", ag, "--seed", "9", "--entries", "3000", "--parts", "1")
	must(t, "init", "--dir", led, "--origin", "full.acdledger.example/log", "--registry", reg)
	data, _ := os.ReadFile(filepath.Join(ag, "part-1.dsse.jsonl"))
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")

	// Leave about 200 KiB: a few dozen entries fit, then writes fail.
	filler := filepath.Join(mnt, "filler")
	var st syscall.Statfs_t
	syscall.Statfs(mnt, &st)
	free := int64(st.Bavail) * int64(st.Bsize)
	if err := os.WriteFile(filler, make([]byte, free-200<<10), 0o644); err != nil {
		t.Fatal(err)
	}

	srv, url := child(t, "serve", "--ledger", led, "--listen", "127.0.0.1:0", "--wait-timeout", "5s")
	post := func(line string) (int, string) {
		resp, err := http.Post(url+"/add?wait=false", "application/json", strings.NewReader(line))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(raw)
	}
	acked := 0
	var failure string
	for acked < len(lines) {
		code, body := post(lines[acked])
		if code == http.StatusAccepted {
			acked++
			continue
		}
		if code != http.StatusServiceUnavailable {
			t.Fatalf("append %d on a full disk: %d %s", acked, code, body)
		}
		failure = body
		break
	}
	if failure == "" {
		t.Fatal("the disk never filled")
	}
	t.Logf("%d entries acknowledged, then: %s", acked, failure)
	noPath := func(what, s string) {
		t.Helper()
		if strings.Contains(s, mnt) || strings.Contains(s, work) || regexp.MustCompile(`(^|[\s"'(=])/[a-z]`).MatchString(s) {
			t.Fatalf("%s shows a server path: %s", what, s)
		}
	}
	noPath("the 503 body", failure)
	if !strings.Contains(failure, "no space left on device") && !strings.Contains(failure, "storage failure") {
		t.Fatalf("the 503 does not say why: %s", failure)
	}
	// Later appends are refused while the disk is full; health says why.
	code, body := waitHealth(t, url, func(code int, body string) bool {
		return code == http.StatusServiceUnavailable && strings.Contains(body, "not admitting")
	})
	noPath("/healthz", body)
	if m := get(t, url+"/metrics"); !strings.Contains(m, `acdledger_degraded{reason="storage"} 1`) {
		t.Fatalf("metrics do not say the storage failed (healthz %d %q)", code, body)
	}
	if c, b := post(lines[acked]); c != http.StatusServiceUnavailable {
		t.Fatalf("append while the disk is full: %d %s", c, b)
	} else {
		noPath("a later 503 body", b)
	}

	// No temp file stays in the published tree, even before space returns
	// (the recovery loop sweeps them while it waits).
	logDir := filepath.Join(led, "log")
	tempLeft := func() []string {
		var left []string
		filepath.WalkDir(logDir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && isTemp(strings.TrimPrefix(p, logDir+"/")) {
				left = append(left, p)
			}
			return nil
		})
		return left
	}
	for deadline := time.Now().Add(30 * time.Second); len(tempLeft()) > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("temp files stay in the log directory: %v", tempLeft())
		}
	}

	// Space returns: serve admits again by itself.
	os.Remove(filler)
	waitHealth(t, url, func(code int, body string) bool { return code == http.StatusOK && body == "ok\n" })
	for _, l := range lines[acked : acked+20] {
		if c, b := post(l); c != http.StatusAccepted {
			t.Fatalf("append after space returned: %d %s", c, b)
		}
	}
	if m := get(t, url+"/metrics"); !strings.Contains(m, "acdledger_storage_recoveries_total 1") {
		t.Fatal("metrics do not count the recovery")
	}
	srv.Process.Signal(syscall.SIGTERM)
	if err := srv.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
	if left := tempLeft(); len(left) > 0 {
		t.Fatalf("temp files left after stop: %v", left)
	}
	// Every acknowledged entry is in the log, once, and the log verifies
	// (the demo data's compliance findings make audit exit 1; they are not
	// this test's business).
	r := run(t, "audit", "--log", logDir, "--vkey", filepath.Join(led, "log.vkey"), "--registry", reg)
	if want := fmt.Sprintf("all %d entries pass signature and admission checks", acked+20); !strings.Contains(r.stdout, want) {
		t.Fatalf("audit after recovery, want %q:\n%s\n%s", want, r.stdout, r.stderr)
	}
}

// isTemp: a file of the log directory that is not a tlog-tiles resource,
// the checkpoint or Tessera's state (which has no name ending in a digit).
func isTemp(rel string) bool {
	tile := regexp.MustCompile(`^tile/(entries|[0-9]+)/(x[0-9]{3}/)*[0-9]{3}(\.p/[0-9]{1,3})?$`)
	if strings.HasPrefix(rel, "tile/") {
		return !tile.MatchString(rel)
	}
	if name, ok := strings.CutPrefix(rel, "checkpoints/"); ok {
		return strings.HasPrefix(name, ".") // the archive's own temp files (specs/checkpoints.md)
	}
	return rel != "checkpoint" && !strings.HasPrefix(rel, ".state/")
}
