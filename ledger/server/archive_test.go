package server_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/verifier/ckptarchive"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// The archive is served at its relative paths: each checkpoint cacheable
// for ever, the index never from a cache without asking, a corrupt
// checkpoint never; and the verifier reads it over HTTP as from disk.
func TestArchiveServed(t *testing.T) {
	ctx := context.Background()
	kit := testkit.New(t)
	f := start(t, kit, ledger.Options{}, ledger.DriverPOSIX)
	ps, err := f.l.Append(ctx, kit.Signed(t, "nco"), kit.Signed(t, "npa"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Receipt(ctx, ps[1]); err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(f.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	// The archiver runs on its own tick: wait for it to have seen size 2
	// (bounded by the test's timeout, not by a clock).
	for {
		if _, body := get("/checkpoints/index"); strings.HasSuffix(body, "\n2\n") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, body := get("/checkpoints/index")
	if resp.Header.Get("Cache-Control") != "no-cache, max-age=0" || !strings.HasPrefix(body, "0\n") {
		t.Fatalf("index: %q cache %q", body, resp.Header.Get("Cache-Control"))
	}
	resp, body = get("/checkpoints/2")
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") || !strings.Contains(body, "\n2\n") {
		t.Fatalf("checkpoints/2: %d %q %q", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
	}
	for _, p := range []string{"/checkpoints/02", "/checkpoints/7", "/checkpoints/", "/checkpoints/.2.tmp-1"} {
		if resp, _ := get(p); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", p, resp.StatusCode)
		}
	}
	src, err := tlog.Open(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	trust := f.pins(t).Trust
	a, err := ckptarchive.Read(ctx, src, trust, ckptarchive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(a.Checkpoints); n < 2 || a.Checkpoints[n-1].Size != 2 {
		t.Fatalf("read %d checkpoints over HTTP", n)
	}
	// A checkpoint file corrupted on disk is refused with a 500, not
	// cached for a year.
	cd := filepath.Join(f.dir, ledger.LogDir, "checkpoints")
	zero, _ := os.ReadFile(filepath.Join(cd, "0"))
	os.WriteFile(filepath.Join(cd, "2"), zero, 0o644)
	if resp, body := get("/checkpoints/2"); resp.StatusCode != 500 || resp.Header.Get("Cache-Control") != "no-store" || !strings.Contains(body, "checkpoints/2") {
		t.Fatalf("corrupt checkpoints/2: %d %q", resp.StatusCode, body)
	}
}
