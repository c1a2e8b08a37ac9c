package witness_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acdledger/acdledger/verifier/witness"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	fwitness "github.com/transparency-dev/formats/witness"
	"golang.org/x/mod/sumdb/note"
)

const origin = "log.acdledger.example/test"

func TestGenerateKey(t *testing.T) {
	skey, vkey, err := witness.GenerateKey(witnessName)
	if err != nil {
		t.Fatal(err)
	}
	name, rest, _ := strings.Cut(vkey, "+")
	_, key64, _ := strings.Cut(rest, "+")
	key, err := base64.StdEncoding.DecodeString(key64)
	if name != witnessName || err != nil || len(key) != 33 || key[0] != 0x04 {
		t.Fatalf("vkey %q: want %s+hash+base64(0x04 || 32-byte Ed25519 key)", vkey, witnessName)
	}
	if got, err := witness.VerifierKeyOf(skey); err != nil || got != vkey {
		t.Fatalf("VerifierKeyOf = %q, %v; want %q", got, err, vkey)
	}
	// x/mod's note knows no 0x04 keys; formats' does.
	if _, err := note.NewVerifier(vkey); err == nil {
		t.Error("x/mod note.NewVerifier accepted a cosignature/v1 key")
	}
	if _, err := fnote.NewVerifierForCosignatureV1(vkey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := witness.GenerateKey("bad name"); err == nil {
		t.Error("GenerateKey accepted a name with a space")
	}
	if _, err := witness.VerifierKeyOf("PRIVATE+KEY+x+00000000+AAAA"); err == nil {
		t.Error("VerifierKeyOf accepted a malformed key")
	}
}

// The first checkpoint comes with old 0 and no proof; later ones with a
// proof from the last cosigned size. Each cosignature verifies with the
// published vkey alone and satisfies a policy naming the witness.
func TestCosignFirstAndGrowth(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	if got := tw.cur.Load().VerifierKey(); got != tw.vkey {
		t.Fatalf("VerifierKey() = %q, want the vkey from GenerateKey %q", got, tw.vkey)
	}

	tw.mustCosign(t, l, 0, 0) // the empty log, as Tessera submits it first
	tw.mustCosign(t, l, 0, 1)
	tw.mustCosign(t, l, 1, 2)
	tw.mustCosign(t, l, 2, 7)
	tw.mustCosign(t, l, 7, 7) // the same checkpoint again: cosigned again
	tw.mustCosign(t, l, 7, 256)
	tw.mustCosign(t, l, 256, 1000)

	// The state file is the cosigned checkpoint with the log's signature.
	n, err := note.Open([]byte(tw.stateFile(t, origin)), note.VerifierList(l.verifier))
	if err != nil || !strings.HasPrefix(n.Text, origin+"\n1000\n") {
		t.Fatalf("state file: %v %q", err, n.Text)
	}

	// Through a policy file, as auditors and Tessera read witnesses.
	policy := fmt.Sprintf("log %s\nwitness w1 %s https://w1.commission.example\nquorum w1\n", l.vkey, tw.vkey)
	g, err := fwitness.ParsePolicy([]byte(policy))
	if err != nil {
		t.Fatal(err)
	}
	l.growTo(1003)
	cp := l.checkpoint(t, 1003)
	if g.Satisfied(cp) {
		t.Fatal("policy satisfied without a cosignature")
	}
	r := tw.add(t, l, 1000, 1003)
	if r.status != http.StatusOK || !g.Satisfied(append(cp, r.body...)) {
		t.Fatalf("policy not satisfied by the cosigned checkpoint: %d %q", r.status, r.body)
	}
}

// A checkpoint with old 0 after the witness already cosigned: 409 with the
// stored size, which is how a client (re)learns it.
func TestStaleOldSize(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 17)
	before := tw.stateFile(t, origin)
	for _, c := range []struct{ old, size uint64 }{{0, 20}, {5, 20}, {16, 20}, {18, 20}, {0, 17}, {5, 17}} {
		r := tw.add(t, l, c.old, c.size)
		if r.status != http.StatusConflict || r.contentType != witness.ContentTypeSize || r.body != "17\n" {
			t.Errorf("old %d size %d: got %d %q %q, want 409 %q \"17\\n\"", c.old, c.size, r.status, r.contentType, r.body, witness.ContentTypeSize)
		}
	}
	if tw.stateFile(t, origin) != before || tw.size(t, origin) != 17 {
		t.Fatal("refused requests changed the state")
	}
	// The client retries from the size it was told.
	tw.mustCosign(t, l, 17, 20)
}

func TestUnknownOrigin(t *testing.T) {
	known := newTestLog(t, origin)
	other := newTestLog(t, "other.example/log")
	tw := newTestWitness(t, known)
	r := tw.add(t, other, 0, 3)
	if r.status != http.StatusNotFound {
		t.Fatalf("unknown origin: got %d %q, want 404", r.status, r.body)
	}
	if _, _, ok := tw.cur.Load().Latest(other.origin); ok {
		t.Fatal("state recorded for an unknown log")
	}
}

func TestBadSignature(t *testing.T) {
	l := newTestLog(t, origin)
	l2 := newTestLog(t, "second.example/log")
	tw := newTestWitness(t, l, l2)
	tw.mustCosign(t, l, 0, 4)
	before := tw.stateFile(t, origin)
	text := log.Checkpoint{Origin: origin, Size: 9, Hash: func() []byte { l.growTo(9); return l.tree.HashAt(9) }()}.Marshal()
	proof := l.proof(t, 4, 9)

	impostor := newTestLog(t, origin) // same name, another key
	corrupt := l.checkpoint(t, 9)
	sigStart := bytes.LastIndex(corrupt, []byte(" ")) + 1
	sig, _ := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(corrupt[sigStart:])))
	sig[len(sig)-1] ^= 1
	corrupt = append(corrupt[:sigStart:sigStart], base64.StdEncoding.EncodeToString(sig)+"\n"...)

	for name, cp := range map[string][]byte{
		"another key with the log's name": signCheckpoint(t, text, impostor.signer),
		"the log's key, corrupted":        corrupt,
		"another configured log's key":    signCheckpoint(t, text, l2.signer),
		"the witness's own cosignature":   signCheckpoint(t, text, cosigner(t, tw.skey)),
	} {
		r := tw.post(t, addBody(4, proof, cp))
		if r.status != http.StatusForbidden {
			t.Errorf("%s: got %d %q, want 403", name, r.status, r.body)
		}
	}
	if tw.stateFile(t, origin) != before {
		t.Fatal("refused requests changed the state")
	}
	// Signatures by unknown keys are ignored, whatever their name.
	cp := signCheckpoint(t, text, impostor.signer, l.signer, newTestLog(t, "someone.else").signer)
	r := tw.post(t, addBody(4, proof, cp))
	if r.status != http.StatusOK {
		t.Fatalf("extra unknown signatures: got %d %q, want 200", r.status, r.body)
	}
	checkCosignature(t, tw.vkey, cp, []byte(r.body))
	// The state keeps only the log's signature and the witness's own
	// cosignature, the one it returned.
	state := []byte(tw.stateFile(t, origin))
	if n, err := note.Open(state, note.VerifierList(l.verifier)); err != nil || len(n.Sigs) != 1 || len(n.UnverifiedSigs) != 1 {
		t.Fatalf("state file after extra signatures: %v %+v", err, n)
	}
	if !bytes.HasSuffix(state, []byte(r.body)) {
		t.Fatalf("state file does not end in the returned cosignature %q:\n%s", r.body, state)
	}
}

func cosigner(t testing.TB, skey string) note.Signer {
	s, err := fnote.NewSignerForCosignatureV1(skey)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOldLargerThanSize(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 10)
	r := tw.post(t, addBody(10, nil, l.checkpoint(t, 6)))
	if r.status != http.StatusBadRequest {
		t.Fatalf("old 10 > size 6: got %d %q, want 400", r.status, r.body)
	}
	if tw.size(t, origin) != 10 {
		t.Fatal("state changed")
	}
}

func TestBadProof(t *testing.T) {
	l := newTestLog(t, origin)
	fresh := newTestLog(t, "fresh.example/log")
	tw := newTestWitness(t, l, fresh)
	tw.mustCosign(t, l, 0, 5)
	before := tw.stateFile(t, origin)
	cp := l.checkpoint(t, 13)
	good := l.proof(t, 5, 13)
	flipped := make([][]byte, len(good))
	for i := range good {
		flipped[i] = bytes.Clone(good[i])
	}
	flipped[1][0] ^= 1
	forked := l.fork(3) // shares 3 leaves only: its size-13 tree does not extend the cosigned size 5
	for name, body := range map[string][]byte{
		"a flipped bit":          addBody(5, flipped, cp),
		"a hash missing":         addBody(5, good[:len(good)-1], cp),
		"a hash too many":        addBody(5, append(good, good[0]), cp),
		"no proof":               addBody(5, nil, cp),
		"the proof for 4→13":     addBody(5, l.proof(t, 4, 13), cp),
		"a forked tree":          addBody(5, forked.proof(t, 5, 13), forked.checkpoint(t, 13)),
		"same size with a proof": addBody(5, good[:1], l.checkpoint(t, 5)),
	} {
		r := tw.post(t, body)
		if r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: got %d %q, want 422", name, r.status, r.body)
		}
	}
	// The proof MUST be empty if the old size is zero.
	if r := tw.post(t, addBody(0, fresh.proof(t, 2, 6), fresh.checkpoint(t, 6))); r.status != http.StatusUnprocessableEntity {
		t.Errorf("old 0 with a proof: got %d %q, want 422", r.status, r.body)
	}
	if tw.stateFile(t, origin) != before || tw.stateFile(t, fresh.origin) != "" {
		t.Fatal("refused requests changed the state")
	}
	if !strings.Contains(tw.logBuf.String(), "possible log misbehaviour") {
		t.Error("a failed consistency proof was not logged as possible misbehaviour")
	}
	tw.mustCosign(t, l, 5, 13)
}

// A log operator signs two different trees of the same size: the witness
// cosigns the first it sees and never the second, whatever the request.
func TestSplitView(t *testing.T) {
	honest := newTestLog(t, origin)
	tw := newTestWitness(t, honest)
	tw.mustCosign(t, honest, 0, 8)
	evil := honest.fork(8) // same key, same first 8 leaves, then different ones

	tw.mustCosign(t, honest, 8, 20) // the view shown to the witness first
	cosigned := tw.stateFile(t, origin)
	evilCP := evil.checkpoint(t, 20)
	if bytes.Equal(evilCP, honest.checkpoint(t, 20)) {
		t.Fatal("test setup: the fork has the same root")
	}

	// tlog-witness (since C2SP #280): 422, not 409 (which would tell the
	// client to retry from a size it already sent).
	r := tw.post(t, addBody(20, nil, evilCP))
	if r.status != http.StatusUnprocessableEntity || r.contentType == witness.ContentTypeSize {
		t.Fatalf("same size, other root: got %d %q %q, want 422", r.status, r.contentType, r.body)
	}
	// A client that follows the protocol from old 8 learns size 20 (409);
	// retrying from 20 gets the 422 above.
	r = tw.post(t, addBody(8, evil.proof(t, 8, 20), evilCP))
	if r.status != http.StatusConflict || r.contentType != witness.ContentTypeSize || r.body != "20\n" {
		t.Fatalf("fork from old 8: got %d %q %q, want 409 size 20", r.status, r.contentType, r.body)
	}
	// Growing the other branch past 20 needs a proof from the cosigned root.
	r = tw.post(t, addBody(20, evil.proof(t, 20, 30), evil.checkpoint(t, 30)))
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("extending the fork: got %d %q, want 422", r.status, r.body)
	}
	if tw.stateFile(t, origin) != cosigned {
		t.Fatal("the split view changed the state")
	}
	logged := tw.logBuf.String()
	if !strings.Contains(logged, "split view") || !strings.Contains(logged, b64root(evil, 20)) || !strings.Contains(logged, b64root(honest, 20)) {
		t.Errorf("the split view was not logged with both roots:\n%s", logged)
	}
	tw.mustCosign(t, honest, 20, 20) // the cosigned view still is
	tw.mustCosign(t, honest, 20, 30)
}

func b64root(l *testLog, size uint64) string {
	return base64.StdEncoding.EncodeToString(l.tree.HashAt(size))
}

// A witness restarted from its state refuses what it signed before.
func TestRollbackAfterRestart(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 5)
	tw.mustCosign(t, l, 5, 20)
	tw.restart(t)
	if got := tw.size(t, origin); got != 20 {
		t.Fatalf("restarted witness loaded size %d, want 20", got)
	}
	state := tw.stateFile(t, origin)

	for _, c := range []struct {
		old, size uint64
		status    int
	}{{0, 5, 409}, {5, 5, 409}, {0, 0, 409}, {20, 5, 400}, {0, 19, 409}} {
		r := tw.add(t, l, c.old, c.size)
		if r.status != c.status || c.status == 409 && (r.body != "20\n" || r.contentType != witness.ContentTypeSize) {
			t.Errorf("after restart, old %d size %d: got %d %q, want %d", c.old, c.size, r.status, r.body, c.status)
		}
	}
	if tw.stateFile(t, origin) != state || tw.size(t, origin) != 20 {
		t.Fatal("rollback attempts changed the state")
	}
	tw.mustCosign(t, l, 20, 33)
	tw.restart(t)
	tw.mustCosign(t, l, 33, 40)
}

// A state file that does not verify stops the witness; it is not reset.
func TestTamperedState(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 12)
	path, _ := witness.StateFile(tw.dir, origin)
	good := tw.stateFile(t, origin)
	tw.cur.Load().Close()

	for name, content := range map[string]string{
		"size edited":           strings.Replace(good, "\n12\n", "\n11\n", 1),
		"signed by another key": string(newTestLog(t, origin).checkpoint(t, 3)),
		"another origin":        string(signCheckpoint(t, log.Checkpoint{Origin: "other.example/log", Size: 1, Hash: l.tree.HashAt(1)}.Marshal(), l.signer)),
		"garbage":               "not a checkpoint\n",
		"empty":                 "",
		"truncated":             good[:len(good)-10],
	} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := tw.open()
		if err == nil {
			w.Close()
			t.Errorf("%s: the witness started", name)
			continue
		}
		if !errors.Is(err, witness.ErrBadState) {
			t.Errorf("%s: %v, want ErrBadState", name, err)
		}
		if got, _ := os.ReadFile(path); string(got) != content {
			t.Errorf("%s: the state file was changed", name)
		}
	}
	// A key rotation that keeps the old key trusted still loads the state.
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	tw.logs = append(tw.logs, newTestLog(t, origin))
	w, err := tw.open()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, size, _ := w.Latest(origin); size != 12 {
		t.Fatalf("loaded size %d, want 12", size)
	}
}

func TestStateDirectory(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	// One process at a time.
	if w, err := tw.open(); err == nil {
		w.Close()
		t.Fatal("a second witness opened a state directory in use")
	}
	// Origins are encoded injectively in readable file names.
	names := map[string]string{
		"example.com/log": "example.com%2Flog.checkpoint",
		"Example.com/log": "%45xample.com%2Flog.checkpoint",
		"..":              "%2E..checkpoint",
		"a b%":            "a%20b%25.checkpoint",
		"ログ":              "%E3%83%AD%E3%82%B0.checkpoint",
	}
	for o, want := range names {
		p, err := witness.StateFile("/s", o)
		if err != nil || p != filepath.Join("/s", want) {
			t.Errorf("StateFile(%q) = %q, %v; want %q", o, p, err, want)
		}
	}
	long := newTestLog(t, strings.Repeat("x", 300))
	if _, err := witness.New(witness.Config{Key: tw.skey, StateDir: t.TempDir(), Logs: map[string][]note.Verifier{long.origin: {long.verifier}}}); err == nil {
		t.Error("an origin too long for a file name was accepted")
	}
	// State of a log no longer configured is left alone.
	dir := t.TempDir()
	stray := filepath.Join(dir, "gone.example%2Flog.checkpoint")
	os.WriteFile(stray, []byte("old state\n"), 0o600)
	w, err := witness.New(witness.Config{Key: tw.skey, StateDir: dir, Logs: map[string][]note.Verifier{origin: {l.verifier}}})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	if b, _ := os.ReadFile(stray); string(b) != "old state\n" {
		t.Fatal("a stray state file was changed")
	}
}

// Malformed requests are 400 and change nothing.
func TestMalformedRequests(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 5)
	before := tw.stateFile(t, origin)
	cp := l.checkpoint(t, 9)
	proof := l.proof(t, 5, 9)
	var proofLines string
	for _, h := range proof {
		proofLines += base64.StdEncoding.EncodeToString(h) + "\n"
	}
	good := "old 5\n" + proofLines + "\n" + string(cp)
	h0 := base64.StdEncoding.EncodeToString(proof[0])
	signed := func(text string) string { return string(signCheckpoint(t, []byte(text), l.signer)) }
	root9 := b64root(l, 9)

	cases := map[string]string{
		"empty body":                 "",
		"no newline":                 "old 5",
		"only the old line":          "old 5\n",
		"leading zero":               strings.Replace(good, "old 5", "old 05", 1),
		"plus sign":                  strings.Replace(good, "old 5", "old +5", 1),
		"minus sign":                 strings.Replace(good, "old 5", "old -5", 1),
		"trailing space":             strings.Replace(good, "old 5", "old 5 ", 1),
		"two spaces":                 strings.Replace(good, "old 5", "old  5", 1),
		"capital Old":                strings.Replace(good, "old 5", "Old 5", 1),
		"tab":                        strings.Replace(good, "old 5", "old\t5", 1),
		"hex":                        strings.Replace(good, "old 5", "old 0x5", 1),
		"overflow":                   strings.Replace(good, "old 5", "old 18446744073709551616", 1),
		"CRLF":                       strings.ReplaceAll(good, "\n", "\r\n"),
		"CR on a proof line":         strings.Replace(good, h0+"\n", h0+"\r\n", 1),
		"proof not base64":           strings.Replace(good, h0, "!"+h0[1:], 1),
		"proof unpadded":             strings.Replace(good, h0, strings.TrimRight(h0, "="), 1),
		"proof URL-safe base64":      strings.Replace(good, h0, base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)), 1),
		"proof 31 bytes":             strings.Replace(good, h0, base64.StdEncoding.EncodeToString(make([]byte, 31)), 1),
		"proof 33 bytes":             strings.Replace(good, h0, base64.StdEncoding.EncodeToString(make([]byte, 33)), 1),
		"64 proof lines":             "old 5\n" + strings.Repeat(h0+"\n", 64) + "\n" + string(cp),
		"no empty line":              "old 5\n" + proofLines + string(cp),
		"nothing after empty line":   "old 5\n" + proofLines + "\n",
		"two empty lines":            "old 5\n" + proofLines + "\n\n" + string(cp),
		"unsigned checkpoint":        "old 5\n" + proofLines + "\n" + string(log.Checkpoint{Origin: origin, Size: 9, Hash: l.tree.HashAt(9)}.Marshal()),
		"checkpoint without newline": strings.TrimSuffix(good, "\n"),
		"control character":          strings.Replace(good, origin, origin+"\x01", 1),
		"invalid UTF-8":              strings.Replace(good, origin, origin+"\xff", 1),
		"signed, size 09":            "old 5\n" + proofLines + "\n" + signed(origin+"\n09\n"+root9+"\n"),
		"signed, size +9":            "old 5\n" + proofLines + "\n" + signed(origin+"\n+9\n"+root9+"\n"),
		"signed, short root":         "old 5\n" + proofLines + "\n" + signed(origin+"\n9\n"+base64.StdEncoding.EncodeToString(make([]byte, 20))+"\n"),
		"signed, two lines":          "old 5\n" + proofLines + "\n" + signed(origin+"\n9\n"),
		"signed, empty extension":    "old 5\n" + proofLines + "\n" + signed(origin+"\n9\n"+root9+"\n\next\n"),
	}
	for name, body := range cases {
		r := tw.post(t, []byte(body))
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: got %d %q, want 400", name, r.status, r.body)
		}
	}
	if tw.stateFile(t, origin) != before || tw.size(t, origin) != 5 {
		t.Fatal("malformed requests changed the state")
	}
	// Extension lines, if non-empty, are fine and cosigned.
	ext := signed(origin + "\n9\n" + root9 + "\nan extension\n")
	if r := tw.post(t, []byte("old 5\n"+proofLines+"\n"+ext)); r.status != http.StatusOK {
		t.Errorf("checkpoint with an extension line: got %d %q", r.status, r.body)
	} else {
		checkCosignature(t, tw.vkey, []byte(ext), []byte(r.body))
	}
	if tw.size(t, origin) != 9 {
		t.Fatal("the valid request after the malformed ones was not recorded")
	}
}

// Oversized bodies get 413 without being read to the end; the state is
// unchanged.
func TestBodyLimit(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	tw.mustCosign(t, l, 0, 5)
	before := tw.stateFile(t, origin)
	huge := append(addBody(5, l.proof(t, 5, 9), l.checkpoint(t, 9)), bytes.Repeat([]byte("x"), 2<<20)...)

	// Over loopback, with and without a Content-Length.
	r := tw.post(t, huge)
	if r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: got %d, want 413", r.status)
	}
	resp, err := http.Post(tw.url+"/add-checkpoint", "text/plain", io.MultiReader(bytes.NewReader(huge))) // chunked
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB chunked body: got %d, want 413", resp.StatusCode)
	}

	// How much of the body the handler reads.
	w := tw.cur.Load()
	for _, declared := range []int64{int64(len(huge)), -1} {
		cr := &countingReader{r: bytes.NewReader(huge)}
		req := httptest.NewRequest(http.MethodPost, "/add-checkpoint", cr)
		req.ContentLength = declared
		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, req)
		if rec.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("Content-Length %d: got %d, want 413", declared, rec.Code)
		}
		if limit := int64(witness.DefaultMaxBodySize) + 64<<10; cr.n > limit {
			t.Errorf("Content-Length %d: the handler read %d bytes", declared, cr.n)
		}
		if declared > 0 && cr.n != 0 {
			t.Errorf("a declared oversized body was read (%d bytes)", cr.n)
		}
	}
	// Just under the limit, garbage is a plain 400.
	if r := tw.post(t, bytes.Repeat([]byte("y"), witness.DefaultMaxBodySize)); r.status != http.StatusBadRequest {
		t.Errorf("1 MiB of garbage: got %d, want 400", r.status)
	}
	if tw.stateFile(t, origin) != before {
		t.Fatal("the state changed")
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func TestMethodAndPath(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	resp, err := http.Get(tw.url + "/add-checkpoint")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != http.MethodPost {
		t.Errorf("GET: got %d Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
	resp, err = http.Post(tw.url+"/add-checkpoint/", "text/plain", bytes.NewReader(addBody(0, nil, l.checkpoint(t, 1))))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || tw.size(t, origin) != 0 {
		t.Errorf("POST to another path: got %d", resp.StatusCode)
	}
	// Mounted under a submission prefix.
	mux := http.NewServeMux()
	mux.Handle("/witness/", http.StripPrefix("/witness", tw.cur.Load()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	cp := l.checkpoint(t, 1)
	resp, err = http.Post(srv.URL+"/witness/add-checkpoint", "text/plain", bytes.NewReader(addBody(0, nil, cp)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("under a prefix: got %d %q", resp.StatusCode, body)
	}
	checkCosignature(t, tw.vkey, cp, body)
}

// Several logs are independent.
func TestSeveralLogs(t *testing.T) {
	a, b := newTestLog(t, "a.example/log"), newTestLog(t, "b.example/log")
	tw := newTestWitness(t, a, b)
	tw.mustCosign(t, a, 0, 10)
	tw.mustCosign(t, b, 0, 3)
	tw.mustCosign(t, a, 10, 11)
	if r := tw.add(t, b, 10, 11); r.status != http.StatusConflict || r.body != "3\n" {
		t.Fatalf("b with a's size: %d %q", r.status, r.body)
	}
	tw.restart(t)
	if tw.size(t, a.origin) != 11 || tw.size(t, b.origin) != 3 {
		t.Fatal("sizes after restart")
	}
	if got := tw.cur.Load().Origins(); len(got) != 2 || got[0] != a.origin || got[1] != b.origin {
		t.Fatalf("Origins() = %q", got)
	}
}

func TestFromFiles(t *testing.T) {
	l := newTestLog(t, origin)
	rotated := newTestLog(t, origin)
	dir := t.TempDir()
	skey, vkey, err := witness.GenerateKey(witnessName)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "w.key")
	os.WriteFile(keyFile, []byte(skey+"\n"), 0o600)
	logFile := filepath.Join(dir, "log.vkey")
	os.WriteFile(logFile, []byte("# the log, old and new key\n"+l.vkey+"\n\n"+rotated.vkey+"\n"), 0o644)
	w, err := witness.NewFromFiles(keyFile, filepath.Join(dir, "state"), []string{logFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if w.VerifierKey() != vkey || w.Name() != witnessName {
		t.Fatalf("key: %s %s", w.Name(), w.VerifierKey())
	}
	cosig, err := w.AddCheckpoint(addBody(0, nil, l.checkpoint(t, 2)))
	if err != nil {
		t.Fatal(err)
	}
	checkCosignature(t, vkey, l.checkpoint(t, 2), cosig)
	rotated.tree = l.tree
	if _, err := w.AddCheckpoint(addBody(2, l.proof(t, 2, 4), rotated.checkpoint(t, 4))); err != nil {
		t.Fatalf("checkpoint signed by the rotated key: %v", err)
	}
	empty := filepath.Join(dir, "empty.vkey")
	os.WriteFile(empty, []byte("# nothing\n"), 0o644)
	for _, files := range [][]string{{empty}, {filepath.Join(dir, "missing")}, {keyFile}} {
		if _, err := witness.NewFromFiles(keyFile, filepath.Join(dir, "state2"), files, nil); err == nil {
			t.Errorf("log key files %v accepted", files)
		}
	}
	if _, err := witness.NewFromFiles(logFile, filepath.Join(dir, "state3"), []string{logFile}, nil); err == nil {
		t.Error("a verifier key accepted as the witness's private key")
	}
}
