package witness_test

import (
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acdledger/acdledger/verifier/witness"
)

// Concurrent requests from the same old size for different sizes: exactly
// one wins, the others are told its size, and the state is the winner's.
// This is the race tlog-witness describes (a slow request for a smaller
// tree rolling back a larger one); run with -race.
func TestConcurrentSameOld(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	const rounds, racers = 15, 6
	l.growTo(rounds * (racers + 1))
	tw.mustCosign(t, l, 0, 1)
	for round := 0; round < rounds; round++ {
		old := tw.size(t, origin)
		bodies := make([][]byte, racers)
		for i := range bodies {
			size := old + 1 + uint64(i)
			bodies[i] = addBody(old, l.proof(t, old, size), l.checkpoint(t, size))
		}
		resps := make([]response, racers)
		var wg sync.WaitGroup
		for i := range bodies {
			wg.Go(func() { resps[i] = tw.post(t, bodies[i]) })
		}
		wg.Wait()
		final := tw.size(t, origin)
		winners := 0
		for i, r := range resps {
			switch {
			case r.status == http.StatusOK:
				winners++
				if want := old + 1 + uint64(i); final != want {
					t.Fatalf("round %d: size %d was cosigned but the state is %d", round, want, final)
				}
			case r.status == http.StatusConflict && r.contentType == witness.ContentTypeSize:
				if r.body != strconv.FormatUint(final, 10)+"\n" {
					t.Fatalf("round %d: loser told %q, state is %d", round, r.body, final)
				}
			default:
				t.Fatalf("round %d: unexpected %d %q", round, r.status, r.body)
			}
		}
		if winners != 1 {
			t.Fatalf("round %d: %d requests from old %d were cosigned, want exactly 1", round, winners, old)
		}
	}
}

// Clients behaving like Tessera's (retry from the size a 409 names) push
// random sizes concurrently; a watcher checks the recorded size never goes
// down, and at the end it is the largest size ever cosigned.
func TestConcurrentNoRollback(t *testing.T) {
	l := newTestLog(t, origin)
	tw := newTestWitness(t, l)
	const maxSize, clients, attempts = 300, 6, 25
	l.growTo(maxSize)
	cps := make([][]byte, maxSize+1)
	for s := range cps {
		cps[s] = l.checkpoint(t, uint64(s))
	}

	var maxCosigned atomic.Uint64
	stop := make(chan struct{})
	watcherDone := make(chan struct{})
	go func() {
		defer close(watcherDone)
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			_, size, _ := tw.cur.Load().Latest(origin)
			if size < last {
				t.Errorf("the recorded size went down from %d to %d", last, size)
				return
			}
			last = size
			runtime.Gosched()
		}
	}()

	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(c), 42))
			var believed uint64
			for i := 0; i < attempts; i++ {
				size := believed + uint64(rng.IntN(12))
				if size > maxSize {
					size = maxSize
				}
				r := tw.post(t, addBody(believed, l.proof(t, believed, size), cps[size]))
				switch {
				case r.status == http.StatusOK:
					for {
						m := maxCosigned.Load()
						if size <= m || maxCosigned.CompareAndSwap(m, size) {
							break
						}
					}
					believed = size
				case r.status == http.StatusConflict && r.contentType == witness.ContentTypeSize:
					n, err := strconv.ParseUint(strings.TrimSuffix(r.body, "\n"), 10, 64)
					if err != nil {
						t.Errorf("409 body %q", r.body)
						return
					}
					believed = n
				default:
					t.Errorf("old %d size %d: unexpected %d %q", believed, size, r.status, r.body)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-watcherDone
	if got, want := tw.size(t, origin), maxCosigned.Load(); got != want {
		t.Fatalf("final recorded size %d, largest cosigned %d", got, want)
	}
	tw.restart(t)
	if got, want := tw.size(t, origin), maxCosigned.Load(); got != want {
		t.Fatalf("after restart the recorded size is %d, largest cosigned %d", got, want)
	}
}
