package witness_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testlog"
	"github.com/acdledger/acdledger/verifier/witness"
	flog "github.com/transparency-dev/formats/log"
	fnote "github.com/transparency-dev/formats/note"
	"github.com/transparency-dev/tessera"
	"github.com/transparency-dev/tessera/client"
	"github.com/transparency-dev/tessera/storage/posix"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"
)

func TestMain(m *testing.M) {
	// Tessera's progress lines would bury test failures.
	klog.LogToStderr(false)
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}

// Checkpoints and proofs from a real Tessera POSIX log (internal/testlog),
// proofs built from its tiles with Tessera's client, as a log's witness
// client does.
func TestTesseraLog(t *testing.T) {
	l := testlog.New(t, "tessera.acdledger.example/log")
	logs, err := witness.ParseLogKeys(l.Vkey)
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := witness.GenerateKey(witnessName)
	if err != nil {
		t.Fatal(err)
	}
	w, err := witness.New(witness.Config{Key: skey, StateDir: t.TempDir(), Logs: logs})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	srv := httptest.NewServer(w)
	defer srv.Close()
	tw := &testWitness{vkey: vkey, url: srv.URL}

	ctx := context.Background()
	fetcher := client.FileFetcher{Root: l.Dir}
	var old uint64
	for batch, n := range []int{1, 10, 300, 7, 1} {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = []byte(fmt.Sprintf("batch %d leaf %d", batch, i))
		}
		cp := l.Add(t, leaves...)
		size := checkpointSize(t, cp)
		var p [][]byte
		if old > 0 && size > old {
			pb, err := client.NewProofBuilder(ctx, size, fetcher.ReadTile)
			if err != nil {
				t.Fatal(err)
			}
			if p, err = pb.ConsistencyProof(ctx, old, size); err != nil {
				t.Fatal(err)
			}
		}
		r := tw.post(t, addBody(old, p, cp))
		if r.status != http.StatusOK {
			t.Fatalf("old %d size %d: %d %q", old, size, r.status, r.body)
		}
		checkCosignature(t, vkey, cp, []byte(r.body))
		old = size
	}
	if _, size, _ := w.Latest("tessera.acdledger.example/log"); size != old || size < 319 {
		t.Fatalf("recorded size %d, want %d", size, old)
	}
}

// checkpointSize reads a checkpoint's size without verifying it.
func checkpointSize(t testing.TB, cp []byte) uint64 {
	t.Helper()
	var unverified *note.UnverifiedNoteError
	if _, err := note.Open(cp, note.VerifierList()); !errors.As(err, &unverified) {
		t.Fatalf("not a signed note: %v", err)
	}
	var c flog.Checkpoint
	if _, err := c.Unmarshal([]byte(unverified.Note.Text)); err != nil {
		t.Fatal(err)
	}
	return c.Size
}

// Tessera's own witness client (WithWitnesses, configured from a policy
// file as acdledger serve is) gets its checkpoints cosigned by our witness,
// across restarts of both, and after the witness lost its state: Tessera
// then sends its old size, is told 0 with a 409, and retries from 0.
func TestTesseraWitnessClient(t *testing.T) {
	const logOrigin = "witnessed.acdledger.example/log"
	skey, vkey, err := note.GenerateKey(rand.Reader, logOrigin)
	if err != nil {
		t.Fatal(err)
	}
	logSigner, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	logVerifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	tw := newTestWitness(t, &testLog{origin: logOrigin, verifier: logVerifier})
	policy := fmt.Sprintf("log %s\nwitness w1 %s %s\nquorum w1\n", vkey, tw.vkey, tw.url)
	witnessV, err := fnote.NewVerifierForCosignatureV1(tw.vkey)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "log")

	var published []byte
	for run := 0; run < 3; run++ {
		lg := startTessera(t, dir, logSigner, []byte(policy))
		for batch := 0; batch < 3; batch++ {
			published = lg.add(t, fmt.Sprintf("run %d batch %d", run, batch), 20)
		}
		lg.stop(t)
		switch run {
		case 0: // the witness restarts from its state
			tw.restart(t)
		case 1: // the witness loses its state: Tessera sends old 120 and is told 0
			path, err := witness.StateFile(tw.dir, logOrigin)
			if err != nil {
				t.Fatal(err)
			}
			tw.cur.Load().Close()
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			tw.restart(t)
		}
	}
	// The published checkpoint carries the log's signature and ours.
	if _, err := note.Open(published, note.VerifierList(logVerifier)); err != nil {
		t.Fatalf("log signature: %v", err)
	}
	n, err := note.Open(published, note.VerifierList(witnessV))
	if err != nil {
		t.Fatalf("published checkpoint lacks the witness's cosignature: %v\n%s", err, published)
	}
	if ts, err := fnote.CoSigV1Timestamp(n.Sigs[0]); err != nil || time.Since(ts) > time.Minute {
		t.Fatalf("cosignature timestamp %v %v", ts, err)
	}
	if !strings.Contains(tw.logBuf.String(), "old=120 origin="+logOrigin+" size=140 status=409") {
		t.Errorf("the restarted Tessera did not go through the 409 size exchange:\n%s", tw.logBuf.String())
	}
	size := checkpointSize(t, published)
	if size != 180 || tw.size(t, logOrigin) != size {
		t.Fatalf("published size %d, witness size %d; want 180", size, tw.size(t, logOrigin))
	}
}

type tesseraLog struct {
	app      *tessera.Appender
	aw       *tessera.PublicationAwaiter
	shutdown func(context.Context) error
	cancel   context.CancelFunc
}

func startTessera(t testing.TB, dir string, signer note.Signer, policy []byte) *tesseraLog {
	t.Helper()
	group, err := tessera.NewWitnessGroupFromPolicy(policy)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	driver, err := posix.New(ctx, posix.Config{Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	app, shutdown, reader, err := tessera.NewAppender(ctx, driver, tessera.NewAppendOptions().
		WithCheckpointSigner(signer).
		WithBatching(1024, 5*time.Millisecond).
		WithCheckpointInterval(100*time.Millisecond).
		WithWitnesses(group, &tessera.WitnessOptions{Timeout: 5 * time.Second}))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return &tesseraLog{app: app, aw: tessera.NewPublicationAwaiter(ctx, reader.ReadCheckpoint, 10*time.Millisecond), shutdown: shutdown, cancel: cancel}
}

// add appends n leaves and returns the published checkpoint covering them.
func (l *tesseraLog) add(t testing.TB, prefix string, n int) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last tessera.IndexFuture
	for i := 0; i < n; i++ {
		last = l.app.Add(ctx, tessera.NewEntry([]byte(fmt.Sprintf("%s leaf %d", prefix, i))))
	}
	_, cp, err := l.aw.Await(ctx, last)
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

func (l *tesseraLog) stop(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	l.cancel()
}
