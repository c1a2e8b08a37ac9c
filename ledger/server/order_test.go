package server_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/acdledger/acdledger/internal/testkit"
	"github.com/acdledger/acdledger/ledger"
	"github.com/acdledger/acdledger/ledger/server"
	"github.com/acdledger/acdledger/ledger/submit"
	"github.com/acdledger/acdledger/specs"
)

// A slow path to the server never costs an honest entry (specs/http-api.md,
// "Ordering"): each agency's first entry is held up on its way for far
// longer than the server's reorder wait, so every later one arrives early
// and is refused as seq.order; the client, which has the first still in
// flight, sends them again once it is answered, and all are admitted in
// order. The delay is the test's own, not the machine's load.
func TestSlowPredecessorIsNotRefused(t *testing.T) {
	kit := testkit.Many(t, 4)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := ledger.Init(dir, "order.test.example/log", kit.RegJSON); err != nil {
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
	var mu sync.Mutex
	early := 0 // refusals the server gave: proof the delay made entries early
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if h, err := specs.PeekHeader(body); err == nil && h.Seq == 1 {
			time.Sleep(500 * time.Millisecond)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		proxy.ServeHTTP(rec, r)
		if rec.Code == http.StatusConflict {
			mu.Lock()
			early++
			mu.Unlock()
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	}))
	defer slow.Close()

	c, err := submit.New(slow.URL)
	if err != nil {
		t.Fatal(err)
	}
	const perAgency = 8
	var envs [][]byte
	for i := 0; i < perAgency; i++ {
		for a := 0; a < 4; a++ {
			envs = append(envs, kit.Signed(t, fmt.Sprintf("a%02d", a)))
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(envs))
	for i, env := range envs { // all in flight at once, started in input order
		wg.Add(1)
		ready := make(chan struct{})
		go func() {
			defer wg.Done()
			close(ready)
			_, errs[i] = c.Add(ctx, env, false)
		}()
		<-ready
		time.Sleep(2 * time.Millisecond) // let it register before the next starts
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("entry %d refused although its predecessors were only slow: %v", i, err)
		}
	}
	if early == 0 {
		t.Fatal("no entry arrived early: the test did not test anything")
	}
	for a := 0; a < 4; a++ {
		if got := l.LastSeq(fmt.Sprintf("a%02d", a)); got != perAgency {
			t.Fatalf("agency a%02d: last seq %d, want %d", a, got, perAgency)
		}
	}
}
