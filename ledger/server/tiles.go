package server

import (
	"compress/gzip"
	"errors"
	"io/fs"
	"net/http"
	"regexp"
	"strings"

	"github.com/acdledger/acdledger/ledger"
)

// tilePath matches exactly the C2SP tlog-tiles resource names, so no other
// file of the ledger directory (keys, private state) can ever be served.
var tilePath = regexp.MustCompile(`^tile/(entries|[0-9]|[1-5][0-9]|6[0-3])/(x[0-9]{3}/)*[0-9]{3}(\.p/([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?$`)

// checkpoint serves the signed checkpoint; it changes, so caches may keep
// it for a second at most.
func (s *Server) checkpoint(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, max-age=0")
	s.serveFile(w, r, "checkpoint", false)
}

// tile serves hash tiles and entry bundles. A given path never changes
// content (a partial tile has its width in its name), so it is cached for a
// year; entry bundles are gzipped for clients that accept it.
func (s *Server) tile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !tilePath.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	s.serveFile(w, r, name, strings.HasPrefix(name, "tile/entries/"))
}

// archived serves the cosigned-checkpoint archive (specs/checkpoints.md):
// checkpoints/<size> is written once and never changes, so it is cached
// for a year; checkpoints/index grows, so it is never served from a cache
// without asking.
func (s *Server) archived(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	data, err := s.l.ArchiveResource(r.Context(), name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		http.NotFound(w, r)
		return
	case errors.Is(err, ledger.ErrCorrupt):
		s.metrics.corrupt.Inc()
		s.log.Error("integrity check failed; not serving the archived checkpoint", "path", name, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	case err != nil:
		s.log.Error("reading log resource", "path", name, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if name == "checkpoints/index" {
		w.Header().Set("Cache-Control", "no-cache, max-age=0")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	}
	w.Write(data)
}

// serveFile sends a resource only once it is checked against the latest
// published checkpoint (ledger.VerifiedResource), so a file corrupted on
// disk is never handed out, let alone cached for a year: it gets a 500
// naming the file and the ledger stops admitting. A resource beyond the
// published checkpoint (written ahead of publication) is served with
// no-cache, as it cannot be vouched for yet.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, name string, compress bool) {
	data, covered, err := s.l.VerifiedResource(r.Context(), name)
	if errors.Is(err, fs.ErrNotExist) {
		w.Header().Del("Cache-Control") // a missing tile may appear later
		http.NotFound(w, r)
		return
	}
	if errors.Is(err, ledger.ErrCorrupt) {
		s.metrics.corrupt.Inc()
		s.log.Error("integrity check failed; not serving the file and not admitting entries", "path", name, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if err != nil {
		s.log.Error("reading log resource", "path", name, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	if !covered {
		w.Header().Set("Cache-Control", "no-cache, max-age=0")
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if compress && strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		zw.Write(data)
		zw.Close()
		return
	}
	w.Write(data)
}
