package witness_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acdledger/acdledger/verifier/witness"
)

// FuzzAddCheckpoint sends arbitrary bodies to the handler of a witness that
// has cosigned some checkpoints. It must never panic or answer 5xx, answer
// only with tlog-witness's statuses, and change the recorded state (in
// memory and on disk) only on 200, and then only forward.
func FuzzAddCheckpoint(f *testing.F) {
	l := newTestLog(f, origin)
	other := newTestLog(f, "other.example/log")
	tw := newTestWitness(f, l)
	tw.mustCosign(f, l, 0, 3)
	tw.mustCosign(f, l, 3, 10)

	f.Add(addBody(10, l.proof(f, 10, 11), l.checkpoint(f, 11)))
	f.Add(addBody(10, l.proof(f, 10, 64), l.checkpoint(f, 64)))
	f.Add(addBody(10, nil, l.checkpoint(f, 10)))
	f.Add(addBody(0, nil, l.checkpoint(f, 0)))
	f.Add(addBody(3, l.proof(f, 3, 12), l.checkpoint(f, 12)))
	f.Add(addBody(10, l.proof(f, 10, 12)[1:], l.checkpoint(f, 12)))
	f.Add(addBody(12, nil, l.checkpoint(f, 5)))
	f.Add(addBody(0, nil, other.checkpoint(f, 2)))
	f.Add(addBody(10, l.fork(10).proof(f, 10, 13), l.fork(10).checkpoint(f, 13)))
	f.Add([]byte("old 10\n\n"))
	f.Add([]byte("old 010\n\n" + string(l.checkpoint(f, 10))))
	f.Add([]byte("old 18446744073709551615\n\n" + string(l.checkpoint(f, 10))))
	f.Add([]byte("old 0\n\n\n\n— x AAAA\n"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, body []byte) {
		w := tw.cur.Load()
		beforeRaw, beforeSize, _ := w.Latest(origin)
		beforeFile := tw.stateFile(t, origin)

		rec := httptest.NewRecorder()
		w.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/add-checkpoint", bytes.NewReader(body)))

		afterRaw, afterSize, _ := w.Latest(origin)
		afterFile := tw.stateFile(t, origin)
		switch rec.Code {
		case http.StatusOK:
			if afterSize < beforeSize {
				t.Fatalf("cosigned, and the size went down from %d to %d", beforeSize, afterSize)
			}
			if afterFile != string(afterRaw) {
				t.Fatal("the state file differs from the recorded state")
			}
			_, cp, _ := bytes.Cut(body, []byte("\n\n")) // after the empty line
			checkCosignature(t, tw.vkey, cp, rec.Body.Bytes())
		case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
			if !bytes.Equal(beforeRaw, afterRaw) || beforeSize != afterSize || beforeFile != afterFile {
				t.Fatalf("refused with %d, but the state changed", rec.Code)
			}
			if rec.Code == http.StatusConflict && rec.Header().Get("Content-Type") == witness.ContentTypeSize {
				if want := []byte(itoa(afterSize) + "\n"); !bytes.Equal(rec.Body.Bytes(), want) {
					t.Fatalf("409 body %q, want %q", rec.Body.Bytes(), want)
				}
			}
		default:
			t.Fatalf("status %d %q", rec.Code, rec.Body.Bytes())
		}
	})
}

func itoa(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}
