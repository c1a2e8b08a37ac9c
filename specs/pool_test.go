package specs

import (
	"fmt"
	"sync"
	"testing"
)

// TestPooledReadersConcurrent: envelopes and entries read on several
// goroutines at once (the audit's workers share the pool of strict
// readers) give what one goroutine reading them in turn gives, verdict
// and content alike (run with -race, make test does).
func TestPooledReadersConcurrent(t *testing.T) {
	v, err := LoadVectors("vectors/admission.json")
	if err != nil {
		t.Fatal(err)
	}
	read := func(raw string) string {
		env, err := ReadEnvelope([]byte(raw))
		if err != nil {
			return "envelope: " + err.Error()
		}
		e, err := ParseEntry(env.Payload)
		if err != nil {
			return "entry: " + err.Error()
		}
		return fmt.Sprintf("%x %s %s %d %s %v %s %s", env.Sig, env.KeyID, e.ID, e.Seq, e.OccurredAt, e.Refs, e.Body, e.Sealed)
	}
	want := make([]string, len(v.Prefix))
	for i, raw := range v.Prefix {
		want[i] = read(raw)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range 5 * len(v.Prefix) {
				i := (k + g) % len(v.Prefix)
				if got := read(v.Prefix[i]); got != want[i] {
					t.Errorf("goroutine %d, envelope %d: %s; read alone: %s", g, i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
