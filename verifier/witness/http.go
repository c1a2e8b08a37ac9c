package witness

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// AddCheckpointPath is the tlog-witness submission endpoint, relative to
// the witness's submission prefix.
const AddCheckpointPath = "/add-checkpoint"

// ContentTypeCheckpoint is the Content-Type of GET /<origin hash>/checkpoint.
// tlog-witness names none; this is the one tlog-tiles gives a log's
// checkpoint, the same kind of document.
const ContentTypeCheckpoint = "text/plain; charset=utf-8"

// CheckpointPath is the tlog-witness monitoring endpoint for origin,
// relative to the witness's monitoring prefix: "/" + [OriginHash] +
// "/checkpoint".
func CheckpointPath(origin string) string { return "/" + OriginHash(origin) + "/checkpoint" }

// ServeHTTP serves the tlog-witness API, with the submission prefix and the
// monitoring prefix both at its root (mount it elsewhere with
// http.StripPrefix):
//
//	POST /add-checkpoint
//	GET  /<origin hash>/checkpoint
//
// add-checkpoint: see [Witness.AddCheckpoint] for the checks and their
// status codes. A 200 response carries the cosignature line(s); a 409 for a
// stale old size carries the latest cosigned size and "\n" with
// Content-Type text/x.tlog.size; other refusals carry a one-line text/plain
// reason. A body larger than the limit gets 413 and is not read further.
//
// <origin hash>/checkpoint (origin hash: SHA-256 of the log's origin, lower
// case hex): 200 with the latest checkpoint the witness cosigned for that
// log, carrying the log signature(s) it verified and the cosignature it
// returned, always the current one (no delay); 404 if it never cosigned one
// for that log or knows no log of that hash.
//
// Any other path is 404 and any other method 405.
func (w *Witness) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if hash, ok := monitoringPath(r.URL.Path); ok {
		w.serveCheckpoint(rw, r, hash)
		return
	}
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

// monitoringPath reads "/<origin hash>/checkpoint": exactly 64 lower-case
// hex digits, the only encoding tlog-witness gives.
func monitoringPath(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", false
	}
	hash, ok := strings.CutSuffix(rest, "/checkpoint")
	if !ok || len(hash) != 2*sha256.Size {
		return "", false
	}
	for i := 0; i < len(hash); i++ {
		if c := hash[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return "", false
		}
	}
	return hash, true
}

// serveCheckpoint answers GET /<origin hash>/checkpoint.
func (w *Witness) serveCheckpoint(rw http.ResponseWriter, r *http.Request, hash string) {
	if r.Method != http.MethodGet {
		rw.Header().Set("Allow", http.MethodGet)
		writeText(rw, http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "<origin hash>/checkpoint takes GET\n")
		return
	}
	ls := w.byHash[hash]
	if ls == nil {
		writeText(rw, http.StatusNotFound, "text/plain; charset=utf-8", "no log with that origin hash\n")
		return
	}
	ls.mu.Lock()
	var body []byte
	if ls.latest != nil {
		body = ls.latest.cosigned()
	}
	ls.mu.Unlock()
	if body == nil {
		writeText(rw, http.StatusNotFound, "text/plain; charset=utf-8", "the witness has not cosigned a checkpoint of this log yet\n")
		return
	}
	writeText(rw, http.StatusOK, ContentTypeCheckpoint, string(body))
}
