package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

// AddCheckpointPath is the tlog-witness submission endpoint, relative to
// the witness's submission prefix.
const AddCheckpointPath = "/add-checkpoint"

// ServeHTTP serves the tlog-witness submission API at the root of the
// submission prefix (mount it elsewhere with http.StripPrefix):
//
//	POST /add-checkpoint
//
// See [Witness.AddCheckpoint] for the checks and their status codes. A 200
// response carries the cosignature line(s); a 409 for a stale old size
// carries the latest cosigned size and "\n" with Content-Type
// text/x.tlog.size; other refusals carry a one-line text/plain reason. A
// body larger than the limit gets 413 and is not read further. Any other
// path is 404 and any other method 405.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != AddCheckpointPath {
		http.NotFound(rw, r)
		return
	}
	if r.Method != http.MethodPost {
		rw.Header().Set("Allow", http.MethodPost)
		writeText(rw, http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "add-checkpoint takes POST\n")
		return
	}
	log := w.logger.With("remote", r.RemoteAddr)
	if r.ContentLength > w.maxBody {
		log.Info("add-checkpoint refused", "status", http.StatusRequestEntityTooLarge, "content_length", r.ContentLength)
		writeText(rw, http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", fmt.Sprintf("request body larger than %d bytes\n", w.maxBody))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, w.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			log.Info("add-checkpoint refused", "status", http.StatusRequestEntityTooLarge)
			writeText(rw, http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", fmt.Sprintf("request body larger than %d bytes\n", w.maxBody))
			return
		}
		log.Info("add-checkpoint: reading the body failed", "error", err.Error())
		writeText(rw, http.StatusBadRequest, "text/plain; charset=utf-8", "could not read the request body\n")
		return
	}
	cosig, info, err := w.add(body)
	log = log.With(info...)
	if err == nil {
		log.Info("add-checkpoint cosigned", "status", http.StatusOK)
		writeText(rw, http.StatusOK, "text/plain; charset=utf-8", string(cosig))
		return
	}
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
	}
	log.Info("add-checkpoint refused", "status", e.Status, "reason", e.Msg)
	if e.SizeMismatch {
		writeText(rw, e.Status, ContentTypeSize, strconv.FormatUint(e.StoredSize, 10)+"\n")
		return
	}
	writeText(rw, e.Status, "text/plain; charset=utf-8", e.Msg+"\n")
}

func writeText(rw http.ResponseWriter, status int, contentType, body string) {
	h := rw.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	rw.WriteHeader(status)
	io.WriteString(rw, body)
}
