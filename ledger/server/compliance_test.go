package server_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
)

// GET /compliance/<N>.note serves exactly the published statements, as
// stored, not for long in caches (members may add signatures), and nothing
// else under that prefix.
func TestComplianceRoute(t *testing.T) {
	kit := testkit.New(t)
	f := start(t, kit, ledger.Options{}, ledger.DriverPOSIX)
	dir := filepath.Join(f.dir, ledger.LogDir, "compliance")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := []byte("acdledger-compliance/v1\n(stand-in: the server does not read it)\n")
	if err := os.WriteFile(filepath.Join(dir, "12.note"), body, 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "012.note"), body, 0o644)
	os.WriteFile(filepath.Join(dir, "12.skey"), body, 0o644)
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/compliance/12.note", 200},
		{"/compliance/13.note", 404},
		{"/compliance/012.note", 404}, // a leading zero: not a published name
		{"/compliance/12.skey", 404},
		{"/compliance/", 404},
		{"/compliance/x/../../log.key", 307}, // cleaned by ServeMux, then a 404
	} {
		resp, err := http.DefaultTransport.RoundTrip(mustReq(t, f.srv.URL+tc.path))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if string(got) != string(body) || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-cache, max-age=0" {
			t.Errorf("%s: %q, content type %q, cache %q", tc.path, got, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
	}
}

func mustReq(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
