package witness_test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdledger/acdledger/verifier/witness"
	"github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/merkle/rfc6962"
	"github.com/transparency-dev/merkle/testonly"
	"golang.org/x/mod/sumdb/note"
)

const witnessName = "w1.commission.example"

// testLog is a log operator: a real RFC 6962 tree in memory and a
// checkpoint key, signing checkpoints the way Tessera does (origin = key
// name, formats/log.Checkpoint body, Ed25519 signed note).
type testLog struct {
	origin   string
	signer   note.Signer
	vkey     string
	verifier note.Verifier
	tree     *testonly.Tree
	branch   string // leaf contents differ between forks
}

func newTestLog(t testing.TB, origin string) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{origin: origin, signer: s, vkey: vkey, verifier: v, tree: testonly.New(rfc6962.DefaultHasher)}
}

// fork returns a log with the same key and the same first n leaves, whose
// later leaves differ: what a log operator showing a split view holds.
func (l *testLog) fork(n uint64) *testLog {
	l.growTo(n)
	f := *l
	f.tree = testonly.New(rfc6962.DefaultHasher)
	for i := uint64(0); i < n; i++ {
		f.tree.Append(l.tree.LeafHash(i))
	}
	f.branch = l.branch + "/fork"
	f.growTo(l.tree.Size())
	return &f
}

func (l *testLog) growTo(n uint64) {
	for l.tree.Size() < n {
		l.tree.AppendData([]byte(fmt.Sprintf("%s%s leaf %d", l.origin, l.branch, l.tree.Size())))
	}
}

// checkpoint is the log's signed checkpoint at size.
func (l *testLog) checkpoint(t testing.TB, size uint64) []byte {
	t.Helper()
	l.growTo(size)
	return signCheckpoint(t, log.Checkpoint{Origin: l.origin, Size: size, Hash: l.tree.HashAt(size)}.Marshal(), l.signer)
}

func signCheckpoint(t testing.TB, text []byte, signers ...note.Signer) []byte {
	t.Helper()
	cp, err := note.Sign(&note.Note{Text: string(text)}, signers...)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// proof is the RFC 6962 consistency proof from old to size.
func (l *testLog) proof(t testing.TB, old, size uint64) [][]byte {
	t.Helper()
	l.growTo(size)
	if old == 0 || old >= size {
		return nil
	}
	p, err := l.tree.ConsistencyProof(old, size)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// addBody is a tlog-witness add-checkpoint request body, built exactly as
// Tessera's witness client builds it.
func addBody(old uint64, proof [][]byte, cp []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", old)
	for _, h := range proof {
		b.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	b.WriteString("\n")
	b.Write(cp)
	return b.Bytes()
}

// lockedBuffer collects the witness's log lines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testWitness is a witness served over real HTTP on loopback.
type testWitness struct {
	skey, vkey string
	dir        string
	logs       []*testLog
	logBuf     *lockedBuffer
	cur        atomic.Pointer[witness.Witness]
	srv        *httptest.Server
	url        string
}

func newTestWitness(t testing.TB, logs ...*testLog) *testWitness {
	t.Helper()
	skey, vkey, err := witness.GenerateKey(witnessName)
	if err != nil {
		t.Fatal(err)
	}
	tw := &testWitness{skey: skey, vkey: vkey, dir: t.TempDir(), logs: logs, logBuf: &lockedBuffer{}}
	w, err := tw.open()
	if err != nil {
		t.Fatal(err)
	}
	tw.cur.Store(w)
	// The server outlives witness restarts, as a client's URL does.
	tw.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		tw.cur.Load().ServeHTTP(rw, r)
	}))
	tw.url = tw.srv.URL
	t.Cleanup(func() {
		tw.srv.Close()
		tw.cur.Load().Close()
	})
	return tw
}

func (tw *testWitness) config() witness.Config {
	logs := map[string][]note.Verifier{}
	for _, l := range tw.logs {
		logs[l.origin] = append(logs[l.origin], l.verifier)
	}
	return witness.Config{
		Key: tw.skey, StateDir: tw.dir, Logs: logs,
		Logger: slog.New(slog.NewTextHandler(tw.logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func (tw *testWitness) open() (*witness.Witness, error) { return witness.New(tw.config()) }

// restart stops the witness and starts a new one from its state directory,
// as after a crash or a reboot.
func (tw *testWitness) restart(t testing.TB) {
	t.Helper()
	if err := tw.cur.Load().Close(); err != nil {
		t.Fatal(err)
	}
	w, err := tw.open()
	if err != nil {
		t.Fatal(err)
	}
	tw.cur.Store(w)
}

type response struct {
	status      int
	contentType string
	body        string
}

func (tw *testWitness) post(t testing.TB, body []byte) response {
	t.Helper()
	resp, err := http.Post(tw.url+"/add-checkpoint", "text/plain", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header.Get("Content-Type"), string(b)}
}

// add submits l's checkpoint at size with the proof from old.
func (tw *testWitness) add(t testing.TB, l *testLog, old, size uint64) response {
	t.Helper()
	return tw.post(t, addBody(old, l.proof(t, old, size), l.checkpoint(t, size)))
}

// mustCosign submits and checks the 200 response's cosignature.
func (tw *testWitness) mustCosign(t testing.TB, l *testLog, old, size uint64) {
	t.Helper()
	cp := l.checkpoint(t, size)
	r := tw.post(t, addBody(old, l.proof(t, old, size), cp))
	if r.status != http.StatusOK {
		t.Fatalf("old %d size %d: got %d %q, want 200", old, size, r.status, r.body)
	}
	checkCosignature(t, tw.vkey, cp, []byte(r.body))
	if got := tw.size(t, l.origin); got != size {
		t.Fatalf("after cosigning size %d the witness records size %d", size, got)
	}
}

// size is the size the witness last cosigned for origin (0 if none).
func (tw *testWitness) size(t testing.TB, origin string) uint64 {
	t.Helper()
	_, size, _ := tw.cur.Load().Latest(origin)
	return size
}

// stateFile reads origin's state file ("" if missing).
func (tw *testWitness) stateFile(t testing.TB, origin string) string {
	t.Helper()
	path, err := witness.StateFile(tw.dir, origin)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var cosigLine = regexp.MustCompile(`^— ` + regexp.QuoteMeta(witnessName) + ` ([A-Za-z0-9+/]+=*)\n$`)

// checkCosignature checks a 200 body the way a log's witness client does,
// using nothing but the published vkey: one "— <name> <base64>" line, a
// tlog-cosignature v1 signature (key hash, 8-byte timestamp, 64-byte
// Ed25519 signature) that x/mod's note.Open accepts on the checkpoint with
// the verifier formats/note builds from the vkey, timestamped now.
func checkCosignature(t testing.TB, vkey string, cp, cosig []byte) {
	t.Helper()
	m := cosigLine.FindSubmatch(cosig)
	if m == nil {
		t.Fatalf("cosignature %q is not one line \"— %s <base64>\"", cosig, witnessName)
	}
	raw, err := base64.StdEncoding.DecodeString(string(m[1]))
	if err != nil || len(raw) != 4+8+64 {
		t.Fatalf("cosignature is %d bytes (%v), want 4+8+64", len(raw), err)
	}
	v, err := fnote.NewVerifierForCosignatureV1(vkey)
	if err != nil {
		t.Fatal(err)
	}
	signed := append(bytes.Clone(cp), cosig...)
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		t.Fatalf("cosignature does not verify with the published vkey: %v\n%s", err, signed)
	}
	if len(n.Sigs) != 1 || n.Sigs[0].Name != witnessName || n.Sigs[0].Hash != v.KeyHash() {
		t.Fatalf("verified signatures %+v, want one by %s", n.Sigs, witnessName)
	}
	ts, err := fnote.CoSigV1Timestamp(n.Sigs[0])
	if err != nil {
		t.Fatal(err)
	}
	if now := time.Now(); ts.Before(now.Add(-time.Minute)) || ts.After(now.Add(time.Second)) {
		t.Fatalf("cosignature timestamp %v, want about now (%v)", ts, now)
	}
}
