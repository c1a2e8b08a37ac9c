package server

import (
	"errors"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
)

// compliancePath matches exactly the published compliance statements,
// compliance/<tree size>.note (decimal, no leading zeros), so nothing else
// of the log directory is reachable through this route.
var compliancePath = regexp.MustCompile(`^compliance/(0|[1-9][0-9]{0,19})\.note$`)

// compliance serves a compliance statement (specs/compliance.md) as it was
// published. It is not checked here: it is no part of the tree, and what
// vouches for it is its members' signatures, which every reader checks
// (acdledger compliance publish checked them before storing it). Members
// may add signatures later, so it is not cached for long.
func (s *Server) compliance(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if !compliancePath.MatchString(name) {
		http.NotFound(w, r)
		return
	}
	data, err := s.l.ReadResource(r.Context(), name)
	if errors.Is(err, fs.ErrNotExist) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.log.Error("reading compliance statement", "path", name, "err", err)
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, max-age=0")
	w.Write(data)
}
