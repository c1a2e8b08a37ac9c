package main_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock is one ```sh block of README.md.
type readmeBlock struct {
	line int // of the opening fence
	code string
}

// readmeSkip, on the line before a block's fence, leaves the block out:
// for commands that are this test's own runners (make test, make demo).
const readmeSkip = "<!-- readme-test: skip"

// readmeBlocks extracts README.md's shell blocks, in order.
func readmeBlocks(t *testing.T, path string) []readmeBlock {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	var prev string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.TrimSpace(line) == "```sh":
			cur = &readmeBlock{line: n}
			if strings.HasPrefix(strings.TrimSpace(prev), readmeSkip) {
				cur.line = -n
			}
		case cur != nil && strings.TrimSpace(line) == "```":
			if cur.line > 0 {
				blocks = append(blocks, *cur)
			}
			cur = nil
		case cur != nil:
			cur.code += line + "\n"
		}
		if strings.TrimSpace(line) != "" {
			prev = line
		}
	}
	if cur != nil {
		t.Fatalf("README.md: the block at line %d is not closed", cur.line)
	}
	return blocks
}

// freePort returns a loopback address nothing listens on now.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Every command in README.md runs as written, in order, from an empty
// directory with the acdledger binary on the PATH. Only the placeholders
// the README declares are substituted: <passphrase>, and the example ports
// 127.0.0.1:8080…8083 (by free ones, so the test does not depend on what
// else runs on the machine). Any other <…> in a block is an undeclared
// placeholder and fails the test.
func TestReadmeCommandsRunAsWritten(t *testing.T) {
	blocks := readmeBlocks(t, filepath.Join("..", "..", "README.md"))
	if len(blocks) < 5 {
		t.Fatalf("found %d shell blocks in README.md", len(blocks))
	}
	subst := []string{"<passphrase>", "readme-test-passphrase"}
	for _, p := range []string{"127.0.0.1:8080", "127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"} {
		subst = append(subst, p, freePort(t))
	}
	repl := strings.NewReplacer(subst...)
	undeclared := regexp.MustCompile(`<[a-z][a-z0-9-]*>`)
	var script strings.Builder
	// -e: the first failing command fails the test; background servers are
	// stopped at the end whatever happens.
	script.WriteString("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true; wait || true' EXIT\n")
	for _, b := range blocks {
		code := repl.Replace(b.code)
		if m := undeclared.FindString(code); m != "" {
			t.Errorf("README.md line %d: placeholder %s is not declared (README's walk-through names the placeholders)", b.line, m)
		}
		script.WriteString("# README.md line " + strconv.Itoa(b.line) + "\n" + code)
	}
	if t.Failed() {
		return
	}
	work := t.TempDir()
	scriptFile := filepath.Join(t.TempDir(), "readme.sh")
	if err := os.WriteFile(scriptFile, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// A guard against a hung server, not a timing assertion.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-x", scriptFile)
	cmd.Dir = work
	env := []string{"PATH=" + filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + work, "TMPDIR=" + os.TempDir()}
	cmd.Env = env // nothing else: no passphrase unless the README exports it
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's commands failed (%v); the trace, with the README line of each block:\n%s", err, out)
	}
}
