package witness_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	fnote "github.com/transparency-dev/formats/note"
	"golang.org/x/mod/sumdb/note"

	"github.com/acdledger/acdledger/verifier/witness"
)

// tlog-witness (since C2SP #280): a size-0 checkpoint must carry the empty
// tree's root, else 422; checked after the origin, signature and size
// checks, in the order the text gives them.
func TestSizeZeroOtherRoot(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	l.growTo(9)
	wrong := signCheckpoint(t, []byte(origin+"\n0\n"+b64root(l, 9)+"\n"), l.signer)

	r := tw.post(t, addBody(0, nil, wrong))
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "not the empty tree's root") {
		t.Fatalf("fresh witness, size 0 with another root: got %d %q, want 422", r.status, r.body)
	}
	if tw.stateFile(t, origin) != "" {
		t.Fatal("a refused size-0 checkpoint was recorded")
	}
	tw.mustCosign(t, l, 0, 0) // the empty tree's own checkpoint is fine
	tw.mustCosign(t, l, 0, 5)
	if r := tw.post(t, addBody(0, nil, wrong)); r.status != http.StatusConflict || r.body != "5\n" {
		t.Fatalf("after size 5, old 0 size 0 with another root: got %d %q, want the 409 for old 0 first", r.status, r.body)
	}
	if r := tw.post(t, addBody(5, nil, wrong)); r.status != http.StatusBadRequest {
		t.Fatalf("old 5 size 0: got %d %q, want 400 (old larger than size)", r.status, r.body)
	}
	// A different key of the same name does not get that far.
	impostor := newTestLog(t, origin)
	if r := tw.post(t, addBody(0, nil, signCheckpoint(t, []byte(origin+"\n0\n"+b64root(l, 9)+"\n"), impostor.signer))); r.status != http.StatusForbidden {
		t.Fatalf("size 0 with another root by an unknown key: got %d %q, want 403", r.status, r.body)
	}
	if tw.size(t, origin) != 5 {
		t.Fatal("state changed")
	}
}

func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// GET <monitoring prefix>/<origin hash>/checkpoint (tlog-witness, Monitor
// Retrieval Mechanism), over HTTP on loopback: 404 before the first
// cosignature, then the latest cosigned checkpoint with the log's signature
// and the very cosignature add-checkpoint returned, across restarts.
func TestMonitoringCheckpoint(t *testing.T) {
	l := newTestLog(t, origin)
	other := newTestLog(t, "other.example/log")
	tw := newTestWitness(t, l, other)
	// The path is computed here from the text, not with the package's helper.
	sum := sha256.Sum256([]byte(origin))
	path := "/" + hex.EncodeToString(sum[:]) + "/checkpoint"
	if witness.CheckpointPath(origin) != path {
		t.Fatalf("CheckpointPath = %q, want %q", witness.CheckpointPath(origin), path)
	}

	if code, _, body := get(t, tw.url+path); code != http.StatusNotFound {
		t.Fatalf("before any cosignature: %d %q, want 404", code, body)
	}
	unknown := sha256.Sum256([]byte("unknown.example/log"))
	for name, p := range map[string]string{
		"unknown origin":         "/" + hex.EncodeToString(unknown[:]) + "/checkpoint",
		"upper-case hex":         strings.ToUpper(path[:65]) + "/checkpoint",
		"percent-encoded origin": "/" + strings.ReplaceAll(origin, "/", "%2F") + "/checkpoint",
		"short hash":             path[:64] + "/checkpoint",
		"trailing slash":         path + "/",
	} {
		if code, _, body := get(t, tw.url+p); code != http.StatusNotFound {
			t.Errorf("%s (%s): %d %q, want 404", name, p, code, body)
		}
	}

	tw.mustCosign(t, l, 0, 3)
	cp := l.checkpoint(t, 7)
	r := tw.post(t, addBody(3, l.proof(t, 3, 7), cp))
	if r.status != http.StatusOK {
		t.Fatalf("add-checkpoint: %d %q", r.status, r.body)
	}
	check := func(when string) []byte {
		t.Helper()
		code, h, body := get(t, tw.url+path)
		if code != http.StatusOK || h.Get("Content-Type") != witness.ContentTypeCheckpoint {
			t.Fatalf("%s: %d %q %q, want 200 %s", when, code, h.Get("Content-Type"), body, witness.ContentTypeCheckpoint)
		}
		// The log's checkpoint as submitted, then the returned cosignature.
		if want := append(bytes.Clone(cp), r.body...); !bytes.Equal(body, want) {
			t.Fatalf("%s: served\n%s\nwant\n%s", when, body, want)
		}
		v, err := fnote.NewVerifierForCosignatureV1(tw.vkey)
		if err != nil {
			t.Fatal(err)
		}
		n, err := note.Open(body, note.VerifierList(l.verifier, v))
		if err != nil || len(n.Sigs) != 2 || !strings.HasPrefix(n.Text, origin+"\n7\n") {
			t.Fatalf("%s: served checkpoint does not verify with the log key and the witness key: %v %+v", when, err, n)
		}
		return body
	}
	check("after add-checkpoint")
	if code, _, body := get(t, tw.url+witness.CheckpointPath(other.origin)); code != http.StatusNotFound {
		t.Fatalf("a known log never cosigned: %d %q, want 404", code, body)
	}
	// A refused request does not change what is served.
	if r := tw.post(t, addBody(0, nil, l.checkpoint(t, 8))); r.status != http.StatusConflict {
		t.Fatalf("stale old: %d", r.status)
	}
	check("after a refused request")
	tw.restart(t)
	check("after a restart")

	for _, m := range []string{http.MethodPost, http.MethodHead, http.MethodPut} {
		req, _ := http.NewRequest(m, tw.url+path, strings.NewReader(""))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodGet {
			t.Errorf("%s: %d Allow %q, want 405 Allow GET", m, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

// A state file without the witness's cosignature (written before it kept
// one, or under a replaced key) is cosigned at start, so monitors always
// get a cosigned checkpoint; the log's signature is still what is checked.
func TestStateWithoutCosignature(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 6)
	file, err := witness.StateFile(tw.dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	if err := tw.cur.Load().Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, l.checkpoint(t, 6), 0o600); err != nil {
		t.Fatal(err)
	}
	w, err := tw.open()
	if err != nil {
		t.Fatal(err)
	}
	tw.cur.Store(w)
	code, _, body := get(t, tw.url+witness.CheckpointPath(origin))
	if code != http.StatusOK {
		t.Fatalf("%d %q", code, body)
	}
	cp := l.checkpoint(t, 6)
	if !bytes.HasPrefix(body, cp) {
		t.Fatalf("served %q, want the stored checkpoint first", body)
	}
	checkCosignature(t, tw.vkey, cp, body[len(cp):])
	if tw.stateFile(t, origin) != string(body) {
		t.Fatal("the new cosignature was not saved")
	}
	if !strings.Contains(tw.logBuf.String(), "cosigned it now") {
		t.Error("not logged")
	}
	tw.mustCosign(t, l, 6, 9)
}
