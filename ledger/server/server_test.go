package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/storagetest"
	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
	"github.com/acdledger/acdledger/specs/tlogproof"
	"github.com/acdledger/acdledger/verifier"
	"github.com/acdledger/acdledger/verifier/tlog"
)

// fixture is a real ledger on disk behind a real HTTP server on loopback.
type fixture struct {
	kit     *testkit.Kit
	dir     string
	l       *ledger.Ledger
	srv     *httptest.Server
	regFile string
}

func start(t testing.TB, kit *testkit.Kit, opts ledger.Options, driver string) *fixture {
	t.Helper()
	return startWith(t, kit, opts, driver, server.Config{})
}

func startWith(t testing.TB, kit *testkit.Kit, opts ledger.Options, driver string, cfg server.Config) *fixture {
	t.Helper()
	ctx := context.Background()
	dir := storagetest.NewLedger(t, driver, "server.test.example/log", kit.RegJSON)
	l, err := ledger.Open(ctx, dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{kit: kit, dir: dir, l: l, regFile: filepath.Join(dir, ledger.RegistryFile)}
	f.srv = httptest.NewServer(server.New(l, cfg))
	t.Cleanup(func() {
		f.srv.Close()
		l.Close(ctx)
	})
	return f
}

func (f *fixture) pins(t testing.TB) *verifier.Pins {
	t.Helper()
	p, err := verifier.LoadPins(filepath.Join(f.dir, ledger.VerifierFile), "", f.regFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *fixture) post(t testing.TB, contentType string, body io.Reader, query string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(f.srv.URL+"/add"+query, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// logHash fingerprints the log: every file of a POSIX log; the published
// checkpoint and every tile and bundle it implies, read through the
// server, for a log in a bucket.
func (f *fixture) logHash(t testing.TB) [32]byte {
	t.Helper()
	if f.l.Storage().Driver == ledger.DriverPOSIX {
		return treeHash(t, filepath.Join(f.dir, ledger.LogDir))
	}
	var all bytes.Buffer
	src, err := tlog.Open(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := src.ReadCheckpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all.Write(cp)
	fmt.Fprintf(&all, "entries %d\n", f.l.Len())
	return sha256.Sum256(all.Bytes())
}

func treeHash(t testing.TB, dir string) [32]byte {
	t.Helper()
	var all bytes.Buffer
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".lock") {
			b, _ := os.ReadFile(p)
			fmt.Fprintf(&all, "%s %x\n", p, sha256.Sum256(b))
		}
		return err
	})
	return sha256.Sum256(all.Bytes())
}

// 64 agency clients append 20,000 entries at once over loopback, each
// pipelining its own entries. Every receipt verifies, no id is there twice,
// and the audit over the server's URL passes. On the AWS driver, whose
// checkpoints come at most once a second, 2,000 entries.
func TestConcurrentAgencies(t *testing.T) { storagetest.Run(t, testConcurrentAgencies) }

func testConcurrentAgencies(t *testing.T, driver string) {
	agencies, total := 64, 20_000
	if raceEnabled || driver == ledger.DriverAWS {
		total = 2_000
	}
	// With shared admission state an agency's entry is admitted only once
	// the one before it is sequenced (so frontends cannot reorder them),
	// which costs a database round trip per entry: a deep window would
	// only queue entries past the reorder wait.
	depth := 16
	if driver == ledger.DriverAWS {
		depth = 4
	}
	kit := testkit.Many(t, agencies)
	// These clients send raw requests, without the submit package's resend
	// of an entry refused as early (ledger/submit/order.go): with 1,024
	// requests in flight under the race detector on a busy machine, an
	// agency's first entry can sit unread for longer than the default 10 s
	// reorder wait while its later ones are read. The test is about order,
	// uniqueness and receipts, not the wait's length, so it waits longer.
	f := startWith(t, kit, ledger.Options{}, driver, server.Config{ReorderWait: 2 * time.Minute})
	envs := make([][][]byte, agencies)
	for i := 0; i < total; i++ {
		a := i % agencies
		envs[a] = append(envs[a], kit.Signed(t, fmt.Sprintf("a%02d", a)))
	}
	c, err := submit.New(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	receipts := make(chan []byte, total)
	errs := make(chan error, total)
	var wg sync.WaitGroup
	for a := 0; a < agencies; a++ {
		wg.Add(1)
		go func() { // one client per agency, keeping 16 of its own entries in flight (4 on AWS, see below)
			defer wg.Done()
			var inner sync.WaitGroup
			window := make(chan struct{}, depth)
			for _, env := range envs[a] {
				inner.Add(1)
				window <- struct{}{}
				go func() {
					defer func() { <-window; inner.Done() }()
					res, err := c.Add(context.Background(), env, true)
					if err != nil {
						errs <- err
						return
					}
					receipts <- []byte(res.Receipt)
				}()
			}
			inner.Wait()
		}()
	}
	wg.Wait()
	close(errs)
	close(receipts)
	for err := range errs {
		t.Fatal(err)
	}
	pins := f.pins(t)
	ids := map[string]bool{}
	for r := range receipts {
		res, err := pins.VerifyReceipt(r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ids[res.EntryID] {
			t.Fatalf("entry %s received twice", res.EntryID)
		}
		ids[res.EntryID] = true
	}
	if len(ids) != total {
		t.Fatalf("%d receipts for %d entries", len(ids), total)
	}
	src, err := tlog.Open(f.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	report, err := pins.Audit(context.Background(), src, verifier.AuditOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !report.OK() || report.Entries != uint64(total) || len(report.ByAgency) != agencies {
		t.Fatalf("audit over HTTP: ok %v, %d entries, %d agencies, failures %v", report.OK(), report.Entries, len(report.ByAgency), report.Failures)
	}
}

// Bad requests get the right 4xx and a JSON error, never a 5xx, and leave
// the log unchanged.
func TestBadInput(t *testing.T) { storagetest.Run(t, testBadInput) }

func testBadInput(t *testing.T, driver string) {
	kit := testkit.New(t)
	f := start(t, kit, ledger.Options{}, driver)
	good := kit.Signed(t, "nco")
	if code, body := f.post(t, "application/json", bytes.NewReader(good), ""); code != http.StatusOK {
		t.Fatalf("good envelope: %d %s", code, body)
	}
	time.Sleep(200 * time.Millisecond)
	before := f.logHash(t)

	unknown := kit.Entry("nco")
	unknown["agency"] = "fsa"
	kit.Unseq("nco")
	// The same envelope spelt otherwise: a retry by content (specs/http-api.md).
	var indented bytes.Buffer
	json.Indent(&indented, good, "", " ")
	padded := bytes.Replace(good, []byte(`,"signatures"`), append(bytes.Repeat([]byte(" \n"), 10000), []byte(`,"signatures"`)...), 1)
	nainai := kit.Entry("nco")
	nainai["kind"], nainai["legal_basis"] = "agreement.concluded", map[string]any{"law": "acd-act", "article": "11"}
	nainai["body"] = map[string]any{"agreement_id": "AG", "sector": "energy", "direction": "NAINAI", "valid_from": "2026-06-01T00:00:00Z",
		"valid_until": "2026-07-01T00:00:00Z", "other_use_consent": false, "scope_hash": "sha256:" + strings.Repeat("0", 64)}
	kit.Unseq("nco")
	flipped := bytes.Clone(kit.Signed(t, "nco"))
	kit.Unseq("nco")
	flipped[bytes.LastIndex(flipped, []byte(`"sig":"`))+10] ^= 1
	// A valid, signed envelope of the smallest signer-made size over the
	// limit (sizes go by 4 bytes).
	overLimit := kit.SignedOfSize(t, "nco", specs.MaxEnvelopeSize/4*4+4)
	kit.Unseq("nco")
	// An acquisition stopped that names the retention.deleted in the log:
	// a reference of the wrong kind (with the AWS driver, read back from
	// the shared admission table).
	h, err := specs.PeekHeader(good)
	if err != nil {
		t.Fatal(err)
	}
	goodID := h.ID
	wrongRef := kit.Entry("nco")
	wrongRef["kind"], wrongRef["legal_basis"], wrongRef["refs"] = "acquisition.stopped", map[string]any{"law": "acd-act", "article": "13"}, []string{goodID}
	wrongRef["body"] = map[string]any{"acquisition": goodID, "stopped_at": "2026-06-01T00:00:00Z", "reason": "other"}
	kit.Unseq("nco")

	for _, tc := range []struct {
		name, contentType string
		body              io.Reader
		status            int
		code              string
	}{
		{"malformed JSON", "application/json", strings.NewReader(`{"payloadType":`), 400, specs.RuleEnvelope},
		{"wrong content type", "text/plain", bytes.NewReader(good), 415, "content-type"},
		{"no content type", "", bytes.NewReader(good), 415, "content-type"},
		{"oversized body", "application/json", io.MultiReader(strings.NewReader(`{"payload":"`), bytes.NewReader(bytes.Repeat([]byte("A"), 10<<20))), 413, specs.RuleSize},
		{"signed envelope over the limit", "application/json", bytes.NewReader(overLimit), 413, specs.RuleSize},
		{"invalid signature", specs.EnvelopeMediaType, bytes.NewReader(flipped), 403, specs.RuleSignature},
		{"unknown agency", "application/json", bytes.NewReader(kit.Sign(t, "nco", unknown)), 403, specs.RuleAgencyUnknown},
		{"NAINAI", "application/json", bytes.NewReader(kit.Sign(t, "nco", nainai)), 422, specs.RuleNaiNai},
		{"ref of the wrong kind", "application/json", bytes.NewReader(kit.Sign(t, "nco", wrongRef)), 422, specs.RuleRefKind},
		{"empty body", "application/json", strings.NewReader(""), 400, specs.RuleEnvelope},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := f.post(t, tc.contentType, tc.body, "")
			var e server.ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil || code != tc.status || e.Code != tc.code {
				t.Fatalf("got %d %s, want %d with code %s", code, body, tc.status, tc.code)
			}
			if tc.code == specs.RuleSize && (e.Rule != specs.RuleSize || e.Field != "envelope" || !strings.Contains(e.Message, "49146")) {
				t.Fatalf("size refusal without its rule, field and limit: %s", body)
			}
		})
	}

	// A truncated body: the client announces more than it sends.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/add", io.LimitReader(bytes.NewReader(good), 50))
	req.ContentLength = int64(len(good))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		if resp.StatusCode >= 500 {
			t.Fatalf("truncated body: %d", resp.StatusCode)
		}
		resp.Body.Close()
	}
	// The identical envelope again is a retry, and so is the same envelope
	// spaced otherwise (20 KB of whitespace that must not reach the log):
	// the original receipt, no new leaf, never a 409.
	for name, retry := range map[string][]byte{"identical": good, "indented": indented.Bytes(), "padded": padded} {
		code, body := f.post(t, "application/json", bytes.NewReader(retry), "")
		var res server.AddResponse
		if json.Unmarshal(body, &res) != nil || code != 200 || !res.Existing || res.Index != 0 {
			t.Fatalf("%s retry: %d %s", name, code, body)
		}
		// Without a receipt: its place at once, 202, no new leaf.
		code, body = f.post(t, "application/json", bytes.NewReader(retry), "?wait=false")
		res = server.AddResponse{}
		if json.Unmarshal(body, &res) != nil || code != http.StatusAccepted || !res.Existing || res.Index != 0 || res.Receipt != "" {
			t.Fatalf("%s retry with wait=false: %d %s", name, code, body)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if f.logHash(t) != before {
		t.Fatal("the log changed")
	}
	if f.l.Len() != 1 {
		t.Fatalf("%d entries", f.l.Len())
	}
}

// The read side serves exactly the tlog-tiles resources with the right
// headers, and nothing else of the ledger directory.
func TestReadAPI(t *testing.T) { storagetest.Run(t, testReadAPI) }

func testReadAPI(t *testing.T, driver string) {
	kit := testkit.New(t)
	f := start(t, kit, ledger.Options{}, driver)
	var envs [][]byte
	for i := 0; i < 300; i++ {
		envs = append(envs, kit.Signed(t, "nco"))
	}
	ps, err := f.l.Append(context.Background(), envs...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.l.Receipt(context.Background(), ps[len(ps)-1]); err != nil {
		t.Fatal(err)
	}
	get := func(path string, gzip bool) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, tc := range []struct {
		path, ctype, cache string
		gzip               bool
		status             int
	}{
		{"/checkpoint", "text/plain; charset=utf-8", "no-cache", false, 200},
		{"/tile/0/000", "application/octet-stream", "immutable", false, 200},
		{"/tile/0/001.p/44", "application/octet-stream", "immutable", false, 200},
		{"/tile/entries/000", "application/octet-stream", "immutable", true, 200},
		{"/tile/0/../../log.key", "", "", false, 307}, // ServeMux cleans the path: a redirect to /log.key, a 404
		{"/log.key", "", "", false, 404},
		{"/tile/0/x000", "", "", false, 404},
		{"/tile/64/000", "", "", false, 404},
	} {
		resp := get(tc.path, tc.gzip)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if resp.Header.Get("Content-Type") != tc.ctype || !strings.Contains(resp.Header.Get("Cache-Control"), tc.cache) {
			t.Errorf("%s: content type %q, cache %q", tc.path, resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
		}
		if tc.gzip && resp.Header.Get("Content-Encoding") != "gzip" {
			t.Errorf("%s: not gzipped", tc.path)
		}
	}
	for _, p := range []string{"/healthz", "/metrics"} {
		if resp := get(p, false); resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}

// FuzzAdd: whatever the body, /add answers below 500 and never panics.
func FuzzAdd(f *testing.F) {
	v, err := specs.LoadVectors("../../specs/vectors/admission.json")
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range v.Cases {
		f.Add(c.Bytes())
	}
	ctx := context.Background()
	dir := f.TempDir()
	if _, err := ledger.Init(dir, "fuzz.example/log", v.Registry); err != nil {
		f.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close(ctx)
	for _, p := range v.Prefix {
		if _, err := l.Append(ctx, []byte(p)); err != nil {
			f.Fatal(err)
		}
	}
	h := server.New(l, server.Config{WaitTimeout: 5 * time.Second, ReorderWait: time.Millisecond})
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/add?wait=false", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}

// Every admission vector over HTTP (specs/vectors): each refusal is a 4xx
// with the JSON body naming the rule and the field, and the log is
// unchanged; each admitted submission is stored in its canonical form, and
// posted again, however spaced, gets its original receipt.
func TestVectorsOverHTTP(t *testing.T) { storagetest.Run(t, testVectorsOverHTTP) }

func testVectorsOverHTTP(t *testing.T, driver string) {
	v, err := specs.LoadVectors("../../specs/vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	f := start(t, testkit.New(t), ledger.Options{}, driver)
	for i, p := range v.Prefix {
		if code, body := f.post(t, "application/json", strings.NewReader(p), ""); code != http.StatusOK {
			t.Fatalf("prefix %d: %d %s", i, code, body)
		}
	}
	time.Sleep(200 * time.Millisecond)
	before := f.logHash(t)
	for _, c := range v.Cases {
		if c.Rule == "" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			code, body := f.post(t, "application/json", bytes.NewReader(c.Bytes()), "")
			var e server.ErrorResponse
			if err := json.Unmarshal(body, &e); err != nil || code < 400 || code >= 500 || e.Rule != c.Rule || e.Field != c.Field || e.Message == "" {
				t.Fatalf("got %d %s, want a 4xx naming rule %s field %s", code, body, c.Rule, c.Field)
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	if f.logHash(t) != before {
		t.Fatal("the log changed although every submission was refused")
	}
	var first *server.AddResponse
	for _, c := range v.Cases {
		if c.Stored == "" {
			continue
		}
		code, body := f.post(t, "application/json", bytes.NewReader(c.Bytes()), "")
		var res server.AddResponse
		if json.Unmarshal(body, &res) != nil || code != http.StatusOK {
			t.Fatalf("%s: %d %s", c.Name, code, body)
		}
		p, err := tlogproof.Parse([]byte(res.Receipt))
		if err != nil || string(p.Extra) != c.Stored {
			t.Fatalf("%s: stored %q (%v), want %q", c.Name, p.Extra, err, c.Stored)
		}
		if first == nil {
			first = &res
		} else if !res.Existing || res.Index != first.Index {
			t.Fatalf("%s: the same entry spaced otherwise got %+v, want the receipt of index %d", c.Name, res, first.Index)
		}
	}
	if first == nil {
		t.Fatal("no vector with a stored form")
	}
}
