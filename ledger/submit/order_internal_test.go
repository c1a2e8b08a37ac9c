package submit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/specs"
)

func (o *order) inFlight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.pending)
}

// The race the issue saw with --parallel 256: seq 2 overtakes seq 1 and is
// refused as early, but seq 1 is admitted and answered before that refusal
// reaches the client, so when the refusal arrives nothing is in flight any
// more. Seq 2 was sent while seq 1 was in flight, so it is sent again (and
// admitted), not reported as refused. The order of events is forced by the
// proxy, not by timing: seq 1 goes on only once seq 2's refusal is back at
// the proxy, and that refusal is passed on only once seq 1 is answered.
func TestEarlyRefusalAfterPredecessorAnswered(t *testing.T) {
	kit := testkit.Many(t, 1)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "race.test.example/log", kit.RegJSON); err != nil {
		t.Fatal(err)
	}
	l, err := ledger.Open(ctx, dir, ledger.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close(ctx)
	srv := httptest.NewServer(server.New(l, server.Config{ReorderWait: time.Millisecond}))
	defer srv.Close()
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var c *Client
	refused2 := make(chan struct{})
	var sawRefusal atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h, _ := specs.PeekHeader(body)
		if h.Seq == 1 {
			<-refused2
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		if h.Seq == 2 && rec.Code == http.StatusConflict && sawRefusal.CompareAndSwap(false, true) {
			close(refused2)
			for c.order.inFlight() > 1 { // until seq 1 has its answer
				time.Sleep(time.Millisecond)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer front.Close()
	if c, err = New(front.URL); err != nil {
		t.Fatal(err)
	}
	e1, e2 := kit.Signed(t, "a00"), kit.Signed(t, "a00")
	errs := make(chan error, 2)
	go func() { _, err := c.Add(ctx, e1, false); errs <- err }()
	for c.order.inFlight() < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() { _, err := c.Add(ctx, e2, false); errs <- err }()
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("an honest in-order pair: %v", err)
		}
	}
	if !sawRefusal.Load() {
		t.Fatal("seq 2 was not refused as early: the test tested nothing")
	}
	if got := l.LastSeq("a00"); got != 2 {
		t.Fatalf("last seq %d, want 2", got)
	}
}
