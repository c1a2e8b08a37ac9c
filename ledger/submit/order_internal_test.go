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

// An agency's seqs 5 and 6 pipelined from two goroutines, 6's Add started
// first. 5, refused as early, must not wait for 6 (which the server holds
// for 5: neither would be answered); 6 does wait for 5, although 5 started
// after it. The order of starting still decides for refs.
func TestOrderFollowsSeqsNotStartOrder(t *testing.T) {
	var o order
	six := follows{agency: "a00", id: "E6", seq: 6}
	five := follows{agency: "a00", id: "E5", seq: 5}
	t6, done6 := o.start(six)
	t5, done5 := o.start(five)
	defer done6()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // a wait that had anything to wait for returns ctx's error
	if waited, err := o.waitEarlier(ctx, t5, five); waited || err != nil {
		t.Fatalf("seq 5 waits for seq 6: waited %v, %v", waited, err)
	}
	if o.anyEarlier(t5, five) {
		t.Fatal("seq 5 counts seq 6, started before it, as an entry it follows")
	}
	if !o.anyEarlier(t6, six) {
		t.Fatal("seq 6 does not count seq 5, started after it, as an entry it follows")
	}
	if _, err := o.waitEarlier(ctx, t6, six); err == nil {
		t.Fatal("seq 6 did not wait for seq 5")
	}
	// A ref to an entry started later is not waited for (no cycle of refs
	// can hold two entries), a ref to one started earlier is.
	refLater := follows{agency: "a01", id: "F1", seq: 1, refs: []string{"G1"}}
	tr, doneR := o.start(refLater)
	defer doneR()
	tg, doneG := o.start(follows{agency: "a02", id: "G1", seq: 1, refs: []string{"F1"}})
	defer doneG()
	if o.anyEarlier(tr, refLater) {
		t.Fatal("an entry waits for a ref target started after it")
	}
	if !o.anyEarlier(tg, follows{agency: "a02", id: "G1", seq: 1, refs: []string{"F1"}}) {
		t.Fatal("an entry does not wait for a ref target started before it")
	}
	done5()
	if o.anyEarlier(t6, six) {
		t.Fatal("seq 6 still waits once seq 5 is answered")
	}
}
