package tlog

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// ReadResource returns another file the log publishes beside its tiles
// (such as checkpoints/index), unverified, with the
// same size limit and timeout as the tiles. name is a slash-separated path
// relative to the log's root, without "." or ".." elements. A missing file
// is an error wrapping fs.ErrNotExist (HTTP 404 included), so callers can
// tell a log that publishes no such file from one that failed to serve it.
func (s *Source) ReadResource(ctx context.Context, name string) ([]byte, error) {
	if name == "" || strings.HasPrefix(name, "/") || path.Clean(name) != name || strings.HasPrefix(name, "../") || name == ".." {
		return nil, fmt.Errorf("tlog: bad resource name %q", name)
	}
	if s.base == nil {
		return os.ReadFile(filepath.Join(s.dir, filepath.FromSlash(name)))
	}
	u := s.base.JoinPath(name)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("tlog: GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, fmt.Errorf("tlog: GET %s: %w", u, fs.ErrNotExist)
	default:
		return nil, fmt.Errorf("tlog: GET %s: HTTP %s", u, resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("tlog: GET %s: %w", u, err)
	}
	return b, nil
}
